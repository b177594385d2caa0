// Package opcua is otlink's OPC UA client driver (driver name "opcua"),
// built on github.com/gopcua/opcua.
//
// It owns: parsing node ids and device options; the secure channel and
// session (security policies None, Basic256Sha256, Aes128_Sha256_RsaOaep,
// Aes256_Sha256_RsaPss; modes Sign and SignAndEncrypt; anonymous,
// user/password and certificate identities); the trust decision on the
// server's certificate, made by internal/uatrust before the channel is
// used (gopcua checks none); reads of many nodes in one request (poll
// mode); subscriptions with monitored items (subscribe mode, the default),
// including their transfer or re-creation after a reconnect; writes;
// identity from the server's BuildInfo; browsing the address space.
//
// It must not schedule, coalesce or retry reads: the acquisition engine
// does that. Values cross to the engine either through driver.Update
// (subscriptions) or as blocks in the driver's own slot encoding (see
// codec.go), which only this package's codecs read. See docs/opcua.md.
package opcua

// Package uaserver is otlink's OPC UA server: it serves the plant model
// (ISA-95 folders, machines as objects, tags as variables with engineering
// units and ranges) with the acquisition engine's values, subscriptions,
// governed writes and raw history reads.
//
// It is built on gopcua's server package (v0.9.0), which handles the wire
// protocol, secure channels and subscriptions but checks neither
// certificates nor users, and serves any session without checking that
// it was activated. This package therefore wraps every service handler:
// a request is served only inside a session that was activated on the
// same secure channel, with a security policy and mode the configuration
// lists, by a client whose certificate the PKI trusts and a user otlink
// knows (or anonymously when configured). Handlers are also guarded
// against panics, so a malformed request costs one Bad status, never the
// process.
//
// gopcua's accept loop does the TCP handshake inline and serves any
// number of connections, so the server takes the listening socket over
// once gopcua opened it (conn.go): connections are bounded, the handshake
// has a deadline, and each connection is handed to gopcua's channel
// broker as gopcua's own loop does. Monitored items report through this
// package's data-change filters (filter.go), not gopcua's.
//
// It owns the address space of namespace "urn:otlink:plant" and the OPC UA
// sessions. It must not decide trust itself (the PKI does), must not write
// to devices except through Options.Writer (the engine's governed write),
// and must not keep values of its own beyond the latest sample of each
// tag.
package uaserver

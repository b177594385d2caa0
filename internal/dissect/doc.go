// Package dissect is the contract between otlink's passive capture
// pipeline and its industrial protocol dissectors, and the registry of
// dissectors by protocol name.
//
// A dissector turns the bytes of one flow (the in-order payload of each
// TCP direction, or UDP datagrams) into PDUs: function or service, unit,
// object addresses and values, identity fields, and a reason when the PDU
// is malformed. Dissectors never send a packet and never block; they must
// survive any input with bounded memory (each is fuzzed). Each protocol is
// its own package under dissect/, registering itself in init(); where
// otlink has a wire codec for the protocol (internal/proto/<p>), the
// dissector uses it: one codec per protocol.
package dissect

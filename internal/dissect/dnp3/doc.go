// Package dnp3 is otlink's passive DNP3 dissector (IEEE 1815 over TCP or
// UDP port 20000): link frames with their CRCs, transport segments
// reassembled into application fragments, and the application layer
// (function code, IIN, object headers, simple values, device attributes).
//
// It registers itself with internal/dissect in init(). It only reads bytes
// handed to it by the capture pipeline: it never sends a packet, never
// blocks, and keeps a bounded number of bytes per flow whatever the input.
// It does not decide what is an attack; it labels PDUs with an Action and
// leaves detection to internal/analyze.
package dnp3

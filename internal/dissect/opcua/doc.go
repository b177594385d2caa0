// Package opcua is otlink's passive OPC UA binary dissector (UA TCP, port
// 4840 and any port whose first bytes are a UA TCP Hello): message framing
// across TCP segments, HEL/ACK/ERR/RHE, OpenSecureChannel, secure
// conversation chunks reassembled into messages (bounded), the service type
// NodeId of each readable message, request handles, service results, node
// ids read and written, and the application description, endpoints and
// server certificate subject a server discloses.
//
// It registers itself with internal/dissect in init(). It only reads bytes
// handed to it by the capture pipeline: it never sends a packet, never
// blocks, and keeps a bounded number of bytes per flow whatever the input.
// It cannot decrypt: messages of a SignAndEncrypt channel are reported as
// "encrypted" with no service, as tshark does. It does not decide what is
// an attack; it labels PDUs with an Action and leaves detection to
// internal/analyze.
package opcua

// Package analyze runs the passive pipeline — capture source, capture
// filter, flow table and reassembly, dissectors — over capture files and
// builds the machine-readable summary of `otlink analyze --json`: per
// protocol, PDUs counted by function code the way tshark counts them. It
// also holds the tshark agreement helper the dissector tests use.
//
// Inventory and detections plug in as Observers (every PDU with its flow)
// and Reporters (assets and alerts of a file); this package must not
// implement them, nor know any protocol beyond the counting rules of the
// dissect contract.
package analyze

// Package sparkplug encodes and decodes Sparkplug B payloads and keeps the
// state of one Sparkplug B edge node: bdSeq, the 0–255 message sequence,
// the birth certificates of the node and its devices, metric aliases, and
// rebirth on request.
//
// The payload codec is written by hand with protowire from the field
// numbers in sparkplug_b.proto (kept next to it as the reference), because
// otlink's build has no protoc step. The package does no I/O: the edge node
// returns topics and payloads, and the MQTT publisher sends them.
package sparkplug

// Package bus owns otlink's message bus: the embedded NATS server (with
// JetStream and the MQTT listener) or the connection to an external NATS,
// the subjects, the OTL_SAMPLES stream, and the versioned binary schema in
// which sample batches travel (docs/bus.md describes it byte by byte).
//
// It publishes batches durably (PublishBatch), publishes the unified
// namespace for MQTT clients (PublishUNS) and hands stored batches to
// durable consumers (ConsumeSamples).
//
// It must not know about devices, drivers or the historian: it moves
// model.Batch values and nothing decides here what they mean. It never
// listens on a non-loopback address unless told to, because the embedded
// server has no authentication yet.
package bus

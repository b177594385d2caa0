// Package mqtt publishes otlink batches to an MQTT 3.1.1 broker at QoS 1,
// either as a unified namespace (one topic per tag path, the JSON payload
// of bus.AppendUNSPayload: {"v","q","t","ts"}) or as a Sparkplug B edge
// node (package north/sparkplug), whose bdSeq is kept in the queue folder
// so that it advances across otlink restarts as Sparkplug asks.
//
// Publish only appends the batch to a store-and-forward queue on disk
// (append-only segment files, CRC-framed records); one sender goroutine
// reads the queue in order, publishes, and moves the acknowledged position
// forward after PUBACK, deleting segments behind it. A broker outage or an
// otlink restart therefore loses nothing; a message may be sent twice.
//
// It must not block acquisition: when the queue is full Publish fails fast.
package mqtt

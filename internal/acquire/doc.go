// Package acquire is the acquisition engine: it reads the configured
// devices through their drivers without disturbing production, and hands
// each poll cycle's changed samples to a Sink as one batch.
//
// It owns scheduling (one loop per poll class, aligned to the interval),
// the per-device request budget (max in flight, min gap between request
// starts, poll interval floor), coalescing of tags into block reads
// (package coalesce), adaptive block limits learned from rejections and
// kept in the data folder, timeouts, reconnection with back-off and jitter,
// failover to a backup endpoint, value processing (scaling, engineering
// range, deadband, report by exception), the latest value of every tag,
// device health and metrics, and governed writes.
//
// It must not speak any protocol (drivers do), must not retain a batch
// after the sink returns, must never let one device delay another, and
// must never send a device more than its budget allows.
package acquire

// Package agent is an MTConnect agent: it serves devices, described as
// MTConnect components, over HTTP — /probe, /current, /sample (with
// multipart/x-mixed-replace streaming), /assets — from a bounded circular
// buffer of observations with its own dense, monotonic sequence numbers.
//
// It owns the buffer, the sequence numbers, the request handling and the
// MTConnectError answers. Callers feed it observations (Add) and choose
// the devices; otlink's app service maps tags to data items, and the
// simulated CNC of internal/sim feeds a machine model. It must not import
// the engine, the bus or a driver, and it never dials out.
package agent

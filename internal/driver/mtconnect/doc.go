// Package mtconnect is the MTConnect client driver, registered as
// "mtconnect": it probes an agent on connect, reads /current for the
// initial values and then follows /sample as a multipart stream (or by
// long polling), tracking the agent's sequence numbers so that nothing is
// missed across reconnects, and counting — never hiding — what the
// agent's buffer dropped before otlink could read it.
//
// Endpoints are http://host:port[/device]; a tag's address is a data
// item's id (or its unique name). The driver is read-only and pushes
// values through driver.Subscriber; the engine polls nothing.
//
// It owns the resume state of each device (instance id and next
// sequence), kept by the Driver across connections because the engine
// opens a new connection on every reconnect. The XML lives in
// internal/mtconnect; this package must not parse bytes itself.
package mtconnect

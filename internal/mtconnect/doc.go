// Package mtconnect is the MTConnect document model and its wire formats:
// the probe (MTConnectDevices), current and sample (MTConnectStreams) and
// error (MTConnectError) documents of MTConnect 1.x and 2.x, as XML, and
// the multipart/x-mixed-replace framing of a sample stream.
//
// It owns parsing (bounded in size, fuzzed) and writing of those
// documents. It does no network I/O and knows nothing of otlink's tags:
// the client driver (internal/driver/mtconnect), otlink's own agent
// (internal/mtconnect/agent) and the simulated CNC (internal/sim) build
// on it. It must not import the engine, the bus or a driver.
//
// Go's encoding/xml expands no entities other than the five predefined
// ones and never fetches external ones, so the classic entity attacks do
// not apply; what remains is size, which every reader here bounds.
package mtconnect

// Package modbus is otlink's Modbus driver: it resolves tag addresses
// (coil:N, hr:N.B, 40001, u3/hr:100 ...) to Points with codecs for every
// tag type and byte/word order, and opens connections over Modbus TCP
// (tcp://, concurrent requests matched by transaction id), RTU over TCP
// (rtu+tcp://) and RTU on a serial line (rtu:///dev/ttyX?baud=...).
//
// It owns the request/response exchange, timeouts, framing recovery and
// the mapping of Modbus exceptions to error codes and engine faults. It
// must not schedule, coalesce or retry: the acquisition engine does that
// within the device's budget. Wire encoding lives in internal/proto/modbus.
// See docs/drivers/modbus.md.
package modbus

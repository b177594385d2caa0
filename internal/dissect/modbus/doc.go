// Package modbus is the passive Modbus/TCP dissector (TCP port 502). It
// frames the stream with the project's codec (internal/proto/modbus), matches
// responses to requests by transaction id, and yields PDUs with function
// code, unit, addressed objects and values, actions and FC 43/14 identity.
// It owns no wire format of its own: every PDU the codec understands is
// decoded by the codec; other function codes are counted generically. It
// must never send, block, panic or grow without bound.
package modbus

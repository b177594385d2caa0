package errcode

// Modbus driver codes, 2100-2199.
const (
	ModbusBadAddress      Code = 2100
	ModbusTypeMismatch    Code = 2101
	ModbusTimeout         Code = 2102
	ModbusIllegalAddress  Code = 2103
	ModbusIllegalValue    Code = 2104
	ModbusIllegalFunction Code = 2105
	ModbusDeviceFailure   Code = 2106
	ModbusAcknowledge     Code = 2107
	ModbusBusy            Code = 2108
	ModbusGatewayPath     Code = 2109
	ModbusGatewayTarget   Code = 2110
	ModbusOtherException  Code = 2111
	ModbusMalformed       Code = 2112
	ModbusConnection      Code = 2113
	ModbusBadEndpoint     Code = 2114
	ModbusSerial          Code = 2115
	ModbusNotWritable     Code = 2116
	ModbusBadOption       Code = 2117
	ModbusNotConnected    Code = 2118
	ModbusValueOutOfRange Code = 2119
)

func init() {
	register(
		Entry{Code: ModbusBadAddress, Name: "modbus.bad_address",
			Title:  "modbus tag address cannot be parsed",
			Causes: []string{"a typo in the address", "a 1-based classic address (40001) with the wrong number of digits", "a register number above 65535"},
			Checks: []string{"the tag's address against docs/drivers/modbus.md: coil:N, di:N, hr:N, ir:N, hr:N.B, 0xxxxx/1xxxxx/3xxxxx/4xxxxx, optional u<unit>/ prefix"},
			Fix:    "write the address as hr:N (0-based) or 4xxxxx (1-based) and keep bit numbers in 0..15"},
		Entry{Code: ModbusTypeMismatch, Name: "modbus.type_mismatch",
			Title:  "tag type does not fit its modbus address",
			Causes: []string{"a numeric or string type on a coil or discrete input", "a bit index on a type other than bool", "a value that runs past register 65535", "a string without a length"},
			Checks: []string{"the tag's type and length against the table the address names"},
			Fix:    "use bool for coils, discrete inputs and register bits; give strings a length; move the tag or change its type"},
		Entry{Code: ModbusTimeout, Name: "modbus.timeout",
			Title:  "modbus device did not answer in time",
			Causes: []string{"the device is off, busy or unreachable", "a wrong unit id: many gateways stay silent for unknown units", "the timeout is shorter than the device's scan time", "serial settings (baud, parity) differ from the device's"},
			Checks: []string{"ping the device; check the unit id and serial settings", "look at the device's load and the request budget"},
			Fix:    "fix the unit id or line settings, or raise the device timeout"},
		Entry{Code: ModbusIllegalAddress, Name: "modbus.illegal_data_address",
			Title:  "modbus device rejected the address range (exception 02)",
			Causes: []string{"a tag points at a register the device does not have", "a coalesced block spans a hole in the device's map"},
			Checks: []string{"the device's register map against the tag addresses (0-based vs 1-based)"},
			Fix:    "correct the address, or lower coalesce.max_gap so blocks do not span holes; the engine splits rejected blocks itself"},
		Entry{Code: ModbusIllegalValue, Name: "modbus.illegal_data_value",
			Title:  "modbus device rejected the quantity or value (exception 03)",
			Causes: []string{"the device accepts fewer registers per request than the protocol limit", "a written value the device refuses"},
			Checks: []string{"the device manual's maximum registers per request"},
			Fix:    "set coalesce.max_count to the device's limit, or write a value in its range"},
		Entry{Code: ModbusIllegalFunction, Name: "modbus.illegal_function",
			Title:  "modbus device does not support the function (exception 01)",
			Causes: []string{"reading input registers or coils from a device that has none", "writing to a read-only device"},
			Checks: []string{"which tables the device implements"},
			Fix:    "address the table the device has (e.g. hr instead of ir)"},
		Entry{Code: ModbusDeviceFailure, Name: "modbus.device_failure",
			Title:  "modbus device reported a failure (exception 04)",
			Causes: []string{"an internal error in the device while serving the request"},
			Checks: []string{"the device's own diagnostics"},
			Fix:    "check the device; otlink keeps polling and marks the tags bad meanwhile"},
		Entry{Code: ModbusAcknowledge, Name: "modbus.acknowledge",
			Title:  "modbus device accepted a long-running request but has no result yet (exception 05)",
			Causes: []string{"the device processes the request in the background"},
			Checks: []string{"whether the device needs long commands at all"},
			Fix:    "nothing for reads; the next poll asks again"},
		Entry{Code: ModbusBusy, Name: "modbus.busy",
			Title:  "modbus device is busy (exception 06)",
			Causes: []string{"the device is serving another master or a long command", "polling faster than the device can answer"},
			Checks: []string{"other masters on the device; the poll interval and request budget"},
			Fix:    "raise the poll interval or budget.min_gap"},
		Entry{Code: ModbusGatewayPath, Name: "modbus.gateway_path_unavailable",
			Title:  "modbus gateway has no path to the unit (exception 0A)",
			Causes: []string{"the gateway is not configured for this unit id", "the serial side of the gateway is down"},
			Checks: []string{"the gateway's routing table and the unit id"},
			Fix:    "configure the gateway's route or correct the unit id"},
		Entry{Code: ModbusGatewayTarget, Name: "modbus.gateway_target_failed",
			Title:  "modbus gateway's target device did not respond (exception 0B)",
			Causes: []string{"the device behind the gateway is off or has another address", "serial settings of the gateway differ from the device's"},
			Checks: []string{"the device behind the gateway, its unit id and line settings"},
			Fix:    "power or reconfigure the target device; correct the unit id"},
		Entry{Code: ModbusOtherException, Name: "modbus.exception",
			Title:  "modbus device answered with an unlisted exception",
			Causes: []string{"a vendor-specific exception code"},
			Checks: []string{"the device manual for the exception code in the message"},
			Fix:    "follow the device manual"},
		Entry{Code: ModbusMalformed, Name: "modbus.malformed_reply",
			Title:  "modbus reply could not be parsed or did not match the request",
			Causes: []string{"a non-Modbus service on the port", "a device or gateway with a protocol bug", "noise on a serial line", "two masters sharing a serial line"},
			Checks: []string{"that the endpoint speaks Modbus TCP (tcp://) or RTU over TCP (rtu+tcp://) as configured", "serial wiring and termination"},
			Fix:    "use the endpoint scheme the device speaks; otlink reconnects to resynchronise"},
		Entry{Code: ModbusConnection, Name: "modbus.connection",
			Title:  "modbus connection failed",
			Causes: []string{"the device or gateway is down or refuses connections", "a firewall", "the device's connection limit is reached"},
			Checks: []string{"the endpoint's host and port; other clients connected to the device"},
			Fix:    "make the endpoint reachable; otlink reconnects with back-off"},
		Entry{Code: ModbusBadEndpoint, Name: "modbus.bad_endpoint",
			Title:  "modbus endpoint cannot be parsed",
			Causes: []string{"an unknown scheme", "a missing port", "an unknown serial setting"},
			Checks: []string{"the endpoint against docs/drivers/modbus.md: tcp://host:port, rtu+tcp://host:port, rtu:///dev/ttyX?baud=19200&parity=E&stop=1&data=8"},
			Fix:    "write the endpoint in one of the documented forms"},
		Entry{Code: ModbusSerial, Name: "modbus.serial",
			Title:  "modbus serial port cannot be opened or configured",
			Causes: []string{"the device file does not exist", "otlink lacks permission (group dialout)", "the port does not support the baud rate"},
			Checks: []string{"ls -l on the device file; the user's groups"},
			Fix:    "fix the device path or permissions, or pick a supported baud rate"},
		Entry{Code: ModbusNotWritable, Name: "modbus.not_writable",
			Title:  "modbus point cannot be written",
			Causes: []string{"discrete inputs and input registers are read-only by protocol", "the point was not resolved by the modbus driver"},
			Checks: []string{"the tag's address table"},
			Fix:    "write to coils or holding registers only"},
		Entry{Code: ModbusBadOption, Name: "modbus.bad_option",
			Title:  "modbus device or tag option is invalid",
			Causes: []string{"byte_order or word_order other than big or little", "a unit id outside 0..255"},
			Checks: []string{"the device and tag settings"},
			Fix:    "use big or little for orders and a unit id in 0..255"},
		Entry{Code: ModbusNotConnected, Name: "modbus.not_connected",
			Title:  "modbus connection is not open",
			Causes: []string{"a request before Connect, or after the connection failed"},
			Checks: []string{"earlier errors of the device"},
			Fix:    "nothing; the engine reconnects"},
		Entry{Code: ModbusValueOutOfRange, Name: "modbus.value_out_of_range",
			Title:  "value does not fit the modbus tag's type",
			Causes: []string{"writing a number outside the range of the tag's type", "writing a string longer than the tag's length"},
			Checks: []string{"the tag's type, length and write limits"},
			Fix:    "write a value that fits the type"},
	)
}

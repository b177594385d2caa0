package modbus

// Request is a decoded request PDU. Data aliases the decoded bytes; copy it
// to keep it after the buffer is reused.
type Request struct {
	Function FunctionCode
	Address  uint16 // first coil or register, 0-based (FC 1-6, 15, 16)
	Quantity uint16 // bits or registers; 1 for FC 5 and 6
	Value    uint16 // FC 5: 0xFF00 (on) or 0x0000 (off); FC 6: the register value
	Data     []byte // FC 15: packed bits, LSB first; FC 16: register bytes, big-endian; FC 17: bytes a tool sent after the code

	// FC 43.
	MEIType      uint8 // 14 = read device identification
	DeviceIDCode uint8 // 1 basic, 2 regular, 3 extended, 4 one object
	ObjectID     uint8 // first object wanted
}

// Decode parses a request PDU (function code first). It checks the
// quantities against the protocol limits, so a server can answer
// ExceptionFor(err).
func (q *Request) Decode(pdu []byte) error {
	*q = Request{}
	if len(pdu) < 1 {
		return ErrTruncated
	}
	q.Function = FunctionCode(pdu[0])
	switch q.Function {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		if len(pdu) < 5 {
			return ErrTruncated
		}
		if len(pdu) > 5 {
			return ErrBadLength
		}
		q.Address = be16(pdu[1:])
		v := be16(pdu[3:])
		switch q.Function {
		case FuncReadCoils, FuncReadDiscreteInputs:
			q.Quantity = v
			if v < 1 || v > MaxReadBits {
				return ErrBadQuantity
			}
		case FuncReadHoldingRegisters, FuncReadInputRegisters:
			q.Quantity = v
			if v < 1 || v > MaxReadRegisters {
				return ErrBadQuantity
			}
		case FuncWriteSingleCoil:
			q.Quantity, q.Value = 1, v
			if v != coilOn && v != 0 {
				return ErrBadQuantity
			}
		default:
			q.Quantity, q.Value = 1, v
		}
		if int(q.Address)+int(q.Quantity) > 0x10000 {
			return ErrBadQuantity
		}
		return nil
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(pdu) < 6 {
			return ErrTruncated
		}
		q.Address = be16(pdu[1:])
		q.Quantity = be16(pdu[3:])
		bc := int(pdu[5])
		var want int
		if q.Function == FuncWriteMultipleCoils {
			if q.Quantity < 1 || q.Quantity > MaxWriteBits {
				return ErrBadQuantity
			}
			want = BitBytes(int(q.Quantity))
		} else {
			if q.Quantity < 1 || q.Quantity > MaxWriteRegisters {
				return ErrBadQuantity
			}
			want = 2 * int(q.Quantity)
		}
		if int(q.Address)+int(q.Quantity) > 0x10000 {
			return ErrBadQuantity
		}
		if bc != want {
			return ErrBadLength
		}
		if len(pdu) < 6+bc {
			return ErrTruncated
		}
		if len(pdu) > 6+bc {
			return ErrBadLength
		}
		q.Data = pdu[6 : 6+bc]
		return nil
	case FuncReportServerID:
		// The request has no data; bytes some tools send after the code
		// are kept in Data (Wireshark shows them the same way).
		if len(pdu) > 1 {
			q.Data = pdu[1:]
		}
		return nil
	case FuncEncapsulatedInterface:
		if len(pdu) < 2 {
			return ErrTruncated
		}
		q.MEIType = pdu[1]
		if q.MEIType != MEIReadDeviceID {
			return ErrUnknownFunction
		}
		if len(pdu) < 4 {
			return ErrTruncated
		}
		if len(pdu) > 4 {
			return ErrBadLength
		}
		q.DeviceIDCode, q.ObjectID = pdu[2], pdu[3]
		if q.DeviceIDCode < DeviceIDBasic || q.DeviceIDCode > DeviceIDIndividual {
			return ErrBadQuantity
		}
		return nil
	}
	return ErrUnknownFunction
}

// Append encodes q (as filled by Decode or by hand) and appends it to dst.
// It does not check limits: encoders are for tests and servers that mean
// what they write; use the Append* functions for the common cases.
func (q *Request) Append(dst []byte) []byte {
	switch q.Function {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters:
		return AppendReadRequest(dst, q.Function, q.Address, q.Quantity)
	case FuncWriteSingleCoil, FuncWriteSingleRegister:
		dst = append(dst, byte(q.Function))
		dst = appendBE16(dst, q.Address)
		return appendBE16(dst, q.Value)
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		dst = append(dst, byte(q.Function))
		dst = appendBE16(dst, q.Address)
		dst = appendBE16(dst, q.Quantity)
		dst = append(dst, byte(len(q.Data)))
		return append(dst, q.Data...)
	case FuncReportServerID:
		return append(append(dst, byte(q.Function)), q.Data...)
	case FuncEncapsulatedInterface:
		return append(dst, byte(q.Function), q.MEIType, q.DeviceIDCode, q.ObjectID)
	}
	return append(dst, byte(q.Function))
}

// AppendReadRequest appends a read request (FC 1-4) for qty units from addr.
func AppendReadRequest(dst []byte, fc FunctionCode, addr, qty uint16) []byte {
	dst = append(dst, byte(fc))
	dst = appendBE16(dst, addr)
	return appendBE16(dst, qty)
}

// AppendWriteSingleCoil appends an FC 5 request.
func AppendWriteSingleCoil(dst []byte, addr uint16, on bool) []byte {
	var v uint16
	if on {
		v = coilOn
	}
	dst = append(dst, byte(FuncWriteSingleCoil))
	dst = appendBE16(dst, addr)
	return appendBE16(dst, v)
}

// AppendWriteSingleRegister appends an FC 6 request.
func AppendWriteSingleRegister(dst []byte, addr, v uint16) []byte {
	dst = append(dst, byte(FuncWriteSingleRegister))
	dst = appendBE16(dst, addr)
	return appendBE16(dst, v)
}

// AppendWriteMultipleCoils appends an FC 15 request writing qty coils from
// packed (LSB first; at least BitBytes(qty) bytes, extra bytes ignored).
func AppendWriteMultipleCoils(dst []byte, addr, qty uint16, packed []byte) []byte {
	n := BitBytes(int(qty))
	if n > len(packed) {
		n = len(packed)
	}
	dst = append(dst, byte(FuncWriteMultipleCoils))
	dst = appendBE16(dst, addr)
	dst = appendBE16(dst, qty)
	dst = append(dst, byte(n))
	return append(dst, packed[:n]...)
}

// AppendWriteMultipleRegisters appends an FC 16 request writing the
// big-endian registers regs (len(regs)/2 registers) from addr.
func AppendWriteMultipleRegisters(dst []byte, addr uint16, regs []byte) []byte {
	regs = regs[:len(regs)&^1]
	dst = append(dst, byte(FuncWriteMultipleRegisters))
	dst = appendBE16(dst, addr)
	dst = appendBE16(dst, uint16(len(regs)/2))
	dst = append(dst, byte(len(regs)))
	return append(dst, regs...)
}

// AppendReadDeviceIDRequest appends an FC 43/14 request.
func AppendReadDeviceIDRequest(dst []byte, code, objectID uint8) []byte {
	return append(dst, byte(FuncEncapsulatedInterface), MEIReadDeviceID, code, objectID)
}

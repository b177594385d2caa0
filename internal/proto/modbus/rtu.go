package modbus

// MaxRTUFrame is the largest RTU frame: address, MaxPDU bytes, CRC.
const MaxRTUFrame = 1 + MaxPDU + 2

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/MODBUS of b (init 0xFFFF, reflected poly 0x8005).
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^x]
	}
	return crc
}

// AppendCRC appends the CRC of frame (address and PDU), low byte first as
// RTU sends it.
func AppendCRC(frame []byte) []byte {
	c := CRC16(frame)
	return append(frame, byte(c), byte(c>>8))
}

// AppendRTU appends a whole RTU frame: address, pdu, CRC.
func AppendRTU(dst []byte, addr uint8, pdu []byte) []byte {
	start := len(dst)
	dst = append(dst, addr)
	dst = append(dst, pdu...)
	c := CRC16(dst[start:])
	return append(dst, byte(c), byte(c>>8))
}

// DecodeRTU checks the CRC of one RTU frame and splits it into the address
// and the PDU (which aliases frame).
func DecodeRTU(frame []byte) (addr uint8, pdu []byte, err error) {
	if len(frame) < 4 {
		return 0, nil, ErrTruncated
	}
	if len(frame) > MaxRTUFrame {
		return 0, nil, ErrBadLength
	}
	n := len(frame) - 2
	if CRC16(frame[:n]) != uint16(frame[n])|uint16(frame[n+1])<<8 {
		return 0, nil, ErrBadCRC
	}
	return frame[0], frame[1:n], nil
}

// RTURequestLen infers the length of the RTU request frame at the head of
// b from its function code, since RTU has no length field. When n > len(b)
// the caller needs n bytes to know more (or to have the frame). Unknown
// functions give ErrUnknownFunction: the stream cannot be split further.
func RTURequestLen(b []byte) (n int, err error) {
	if len(b) < 2 {
		return 2, nil
	}
	switch FunctionCode(b[1]) {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		return 8, nil
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(b) < 7 {
			return 7, nil
		}
		return 9 + int(b[6]), nil
	case FuncReportServerID:
		return 4, nil
	case FuncEncapsulatedInterface:
		if len(b) < 3 {
			return 3, nil
		}
		if b[2] != MEIReadDeviceID {
			return 0, ErrUnknownFunction
		}
		return 7, nil
	}
	return 0, ErrUnknownFunction
}

// RTUResponseLen infers the length of the RTU response frame at the head
// of b, with the same contract as RTURequestLen.
func RTUResponseLen(b []byte) (n int, err error) {
	if len(b) < 2 {
		return 2, nil
	}
	if b[1]&exceptionBit != 0 {
		return 5, nil
	}
	switch FunctionCode(b[1]) {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters, FuncReportServerID:
		if len(b) < 3 {
			return 3, nil
		}
		return 5 + int(b[2]), nil
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return 8, nil
	case FuncEncapsulatedInterface:
		if len(b) < 3 {
			return 3, nil
		}
		if b[2] != MEIReadDeviceID {
			return 0, ErrUnknownFunction
		}
		// address, 43, 14, code, conformity, more, next, count, objects, crc
		off := 8
		if len(b) < off {
			return off, nil
		}
		for i := 0; i < int(b[7]); i++ {
			if len(b) < off+2 {
				return off + 2, nil
			}
			off += 2 + int(b[off+1])
			if off+2 > MaxRTUFrame {
				return 0, ErrBadLength
			}
		}
		return off + 2, nil
	}
	return 0, ErrUnknownFunction
}

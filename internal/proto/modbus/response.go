package modbus

import (
	"encoding/hex"
	"iter"
	"strings"
)

// Response is a decoded response PDU. Data and the device identification
// objects alias the decoded bytes.
type Response struct {
	Function  FunctionCode  // without the exception bit
	Exception ExceptionCode // non-zero for an exception reply

	Data []byte // FC 1-4: packed bits (LSB first) or big-endian registers

	Address  uint16 // FC 5, 6, 15, 16: echoed address
	Quantity uint16 // FC 15, 16: echoed quantity; 1 for FC 5 and 6
	Value    uint16 // FC 5, 6: echoed value

	// FC 17: Data holds the byte count's bytes (see ServerID).

	// FC 43/14.
	MEIType      uint8
	DeviceIDCode uint8
	Conformity   uint8
	MoreFollows  bool
	NextObjectID uint8
	NumObjects   uint8
	objects      []byte
}

// IsException reports an exception reply.
func (r *Response) IsException() bool { return r.Exception != 0 }

// Err returns the exception as an *Exception, or nil.
func (r *Response) Err() error {
	if r.Exception == 0 {
		return nil
	}
	return &Exception{Function: r.Function, Code: r.Exception}
}

// Register returns register i of a register read reply. It panics when i
// is out of range, like a slice index.
func (r *Response) Register(i int) uint16 { return be16(r.Data[2*i:]) }

// Bit returns bit i of a bit read reply (false past the data).
func (r *Response) Bit(i int) bool {
	if i < 0 || i/8 >= len(r.Data) {
		return false
	}
	return r.Data[i/8]>>(i%8)&1 == 1
}

// ServerID splits an FC 17 reply's data: the server id byte, the run
// indicator (0xFF on, 0x00 off; ok false when the reply stops before it)
// and the device-specific bytes after it. The layout past the id is the
// convention most devices follow, not a rule of the specification.
func (r *Response) ServerID() (id byte, run, hasRun bool, extra []byte) {
	d := r.Data
	if len(d) == 0 {
		return 0, false, false, nil
	}
	if len(d) == 1 {
		return d[0], false, false, nil
	}
	return d[0], d[1] == 0xFF, true, d[2:]
}

// IdentityText is how an identification field (an FC 43 object, FC 17's
// device data) is shown: its text without trailing NULs and spaces when it
// is printable ASCII, else its hex, so binary ids stay readable.
func IdentityText(v []byte) string {
	s := strings.TrimRight(string(v), "\x00 ")
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return hex.EncodeToString(v)
		}
	}
	return s
}

// Objects iterates over the device identification objects of an FC 43/14
// reply as (object id, value). Decode has validated the list.
func (r *Response) Objects() iter.Seq2[uint8, []byte] {
	return func(yield func(uint8, []byte) bool) {
		b := r.objects
		for len(b) >= 2 && len(b) >= 2+int(b[1]) {
			n := int(b[1])
			if !yield(b[0], b[2:2+n]) {
				return
			}
			b = b[2+n:]
		}
	}
}

// Decode parses any response PDU. Every response the codec knows carries
// its own length, so no request is needed; DecodeFor also checks that the
// reply answers a request.
func (r *Response) Decode(pdu []byte) error {
	*r = Response{}
	if len(pdu) < 1 {
		return ErrTruncated
	}
	fc := pdu[0]
	r.Function = FunctionCode(fc &^ exceptionBit)
	if fc&exceptionBit != 0 {
		if len(pdu) < 2 {
			return ErrTruncated
		}
		if len(pdu) > 2 {
			return ErrBadLength
		}
		r.Exception = ExceptionCode(pdu[1])
		if r.Exception == 0 {
			return ErrBadLength
		}
		return nil
	}
	switch r.Function {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters:
		if len(pdu) < 2 {
			return ErrTruncated
		}
		bc := int(pdu[1])
		if bc == 0 || bc > 250 || (bc%2 != 0 && !r.Function.IsBitFunc()) {
			return ErrBadLength
		}
		if len(pdu) < 2+bc {
			return ErrTruncated
		}
		if len(pdu) > 2+bc {
			return ErrBadLength
		}
		r.Data = pdu[2:]
		return nil
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(pdu) < 5 {
			return ErrTruncated
		}
		if len(pdu) > 5 {
			return ErrBadLength
		}
		r.Address = be16(pdu[1:])
		v := be16(pdu[3:])
		switch r.Function {
		case FuncWriteSingleCoil:
			r.Quantity, r.Value = 1, v
			if v != coilOn && v != 0 {
				return ErrBadQuantity
			}
		case FuncWriteSingleRegister:
			r.Quantity, r.Value = 1, v
		case FuncWriteMultipleCoils:
			r.Quantity = v
			if v < 1 || v > MaxWriteBits {
				return ErrBadQuantity
			}
		default:
			r.Quantity = v
			if v < 1 || v > MaxWriteRegisters {
				return ErrBadQuantity
			}
		}
		return nil
	case FuncReportServerID:
		if len(pdu) < 2 {
			return ErrTruncated
		}
		bc := int(pdu[1])
		if len(pdu) < 2+bc {
			return ErrTruncated
		}
		if len(pdu) > 2+bc {
			return ErrBadLength
		}
		r.Data = pdu[2:]
		return nil
	case FuncEncapsulatedInterface:
		if len(pdu) < 2 {
			return ErrTruncated
		}
		r.MEIType = pdu[1]
		if r.MEIType != MEIReadDeviceID {
			return ErrUnknownFunction
		}
		if len(pdu) < 7 {
			return ErrTruncated
		}
		r.DeviceIDCode, r.Conformity = pdu[2], pdu[3]
		r.MoreFollows, r.NextObjectID, r.NumObjects = pdu[4] != 0, pdu[5], pdu[6]
		b := pdu[7:]
		for i := 0; i < int(r.NumObjects); i++ {
			if len(b) < 2 || len(b) < 2+int(b[1]) {
				return ErrTruncated
			}
			b = b[2+int(b[1]):]
		}
		if len(b) != 0 {
			return ErrBadLength
		}
		r.objects = pdu[7:]
		return nil
	}
	return ErrUnknownFunction
}

// DecodeFor decodes pdu and checks that it answers q: same function, and
// for normal replies the byte count, echoed address, value or quantity, or
// device identification code that q implies. It returns ErrMismatch when
// the reply is well-formed but answers something else.
func (r *Response) DecodeFor(q *Request, pdu []byte) error {
	if err := r.Decode(pdu); err != nil {
		return err
	}
	if r.Function != q.Function {
		return ErrMismatch
	}
	if r.Exception != 0 {
		return nil
	}
	switch q.Function {
	case FuncReadCoils, FuncReadDiscreteInputs:
		if len(r.Data) != BitBytes(int(q.Quantity)) {
			return ErrMismatch
		}
	case FuncReadHoldingRegisters, FuncReadInputRegisters:
		if len(r.Data) != 2*int(q.Quantity) {
			return ErrMismatch
		}
	case FuncWriteSingleCoil, FuncWriteSingleRegister:
		if r.Address != q.Address || r.Value != q.Value {
			return ErrMismatch
		}
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if r.Address != q.Address || r.Quantity != q.Quantity {
			return ErrMismatch
		}
	case FuncEncapsulatedInterface:
		if r.MEIType != q.MEIType || r.DeviceIDCode != q.DeviceIDCode {
			return ErrMismatch
		}
	}
	return nil
}

// AppendReportServerIDResponse appends an FC 17 reply: id, the run
// indicator and extra (at most 249 bytes).
func AppendReportServerIDResponse(dst []byte, id byte, run bool, extra []byte) []byte {
	ri := byte(0)
	if run {
		ri = 0xFF
	}
	dst = append(dst, byte(FuncReportServerID), byte(2+len(extra)), id, ri)
	return append(dst, extra...)
}

// AppendReadResponse appends a reply to FC 1-4 carrying data (packed bits
// or big-endian registers; at most 250 bytes).
func AppendReadResponse(dst []byte, fc FunctionCode, data []byte) []byte {
	dst = append(dst, byte(fc), byte(len(data)))
	return append(dst, data...)
}

// AppendWriteResponse appends a reply to FC 5, 6, 15 or 16: the address and
// the value (FC 5, 6) or quantity (FC 15, 16) echoed.
func AppendWriteResponse(dst []byte, fc FunctionCode, addr, v uint16) []byte {
	dst = append(dst, byte(fc))
	dst = appendBE16(dst, addr)
	return appendBE16(dst, v)
}

// AppendExceptionResponse appends an exception reply to fc.
func AppendExceptionResponse(dst []byte, fc FunctionCode, code ExceptionCode) []byte {
	return append(dst, byte(fc)|exceptionBit, byte(code))
}

// DeviceObject is one device identification object, for encoding.
type DeviceObject struct {
	ID    uint8
	Value []byte
}

// AppendReadDeviceIDResponse appends an FC 43/14 reply. Objects whose value
// is longer than 255 bytes are cut; the caller keeps the PDU under MaxPDU
// by splitting with more and next.
func AppendReadDeviceIDResponse(dst []byte, code, conformity uint8, more bool, next uint8, objs []DeviceObject) []byte {
	var mf byte
	if more {
		mf = 0xFF
	}
	dst = append(dst, byte(FuncEncapsulatedInterface), MEIReadDeviceID, code, conformity, mf, next, byte(len(objs)))
	for _, o := range objs {
		v := o.Value
		if len(v) > 255 {
			v = v[:255]
		}
		dst = append(dst, o.ID, byte(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

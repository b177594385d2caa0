package modbus

// MBAPHeaderLen is the length of the Modbus TCP (MBAP) header: transaction
// id, protocol id (0), length (unit id + PDU), unit id.
const MBAPHeaderLen = 7

// MaxADU is the largest Modbus TCP frame: the header and a MaxPDU PDU.
const MaxADU = MBAPHeaderLen + MaxPDU

// ADU is one Modbus TCP frame. PDU aliases the parsed bytes.
type ADU struct {
	Transaction uint16
	Protocol    uint16
	Unit        uint8
	PDU         []byte
}

// AppendMBAP appends an MBAP header for a PDU of pduLen bytes. When the PDU
// length is not known yet, pass 0 and call FinishMBAP on the whole frame.
func AppendMBAP(dst []byte, tid uint16, unit uint8, pduLen int) []byte {
	dst = appendBE16(dst, tid)
	dst = append(dst, 0, 0)
	dst = appendBE16(dst, uint16(pduLen+1))
	return append(dst, unit)
}

// FinishMBAP sets the length field of frame, which starts with an MBAP
// header and holds exactly one PDU after it.
func FinishMBAP(frame []byte) {
	if len(frame) < MBAPHeaderLen {
		return
	}
	n := len(frame) - 6
	frame[4], frame[5] = byte(n>>8), byte(n)
}

// ParseADU parses the Modbus TCP frame at the head of a stream chunk b.
// n is the length of that frame: when n > len(b) the frame is incomplete
// (or its header is) and the caller reads until it has n bytes and calls
// again. err is ErrBadHeader when the header cannot start a frame (protocol
// id not 0, length outside 2..254): the stream is not Modbus TCP or has lost
// sync. The PDU itself is not decoded.
func ParseADU(b []byte) (a ADU, n int, err error) {
	if len(b) >= 4 && (b[2] != 0 || b[3] != 0) {
		return ADU{}, 0, ErrBadHeader
	}
	if len(b) >= 6 {
		l := int(be16(b[4:]))
		if l < 2 || l > MaxPDU+1 {
			return ADU{}, 0, ErrBadHeader
		}
		n = 6 + l
	} else {
		n = MBAPHeaderLen
	}
	if len(b) < n {
		return ADU{}, n, nil
	}
	return ADU{Transaction: be16(b), Protocol: 0, Unit: b[6], PDU: b[MBAPHeaderLen:n]}, n, nil
}

package iec104

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "iec104"

const (
	start     = 0x68
	maxAPDU   = 2 + 253 // start, length, at most 253 bytes
	maxValues = 127     // the variable structure qualifier counts to 127
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the IEC 60870-5-104 dissector.
type Dissector struct{}

// Proto returns "iec104".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 2404.
func (Dissector) Ports() []dissect.Port { return []dissect.Port{{T: dissect.TCP, Port: 2404}} }

// Probe accepts a first payload that is exactly one or more whole APDUs
// whose first is a U frame (a connection starts with STARTDT or TESTFR) or
// an I frame with a known type id: 0x68 alone is far too weak.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.TCP || len(b) < 6 || b[0] != start || b[1] < 4 || int(b[1])+2 > len(b) {
		return false
	}
	switch c := b[2]; {
	case c&3 == 3:
		return b[1] == 4 && (c == 0x07 || c == 0x0b || c == 0x13 || c == 0x23 || c == 0x43 || c == 0x83) && b[3] == 0 && b[4] == 0 && b[5] == 0
	case c&1 == 0:
		return b[1] >= 10 && typeNames[b[6]] != "" && b[7]&0x7f != 0
	}
	return false
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type parser struct {
	*out
	buf  [2][]byte // unfinished APDU bytes per direction, under maxAPDU
	junk [2]bool   // skipping garbage: reported once per run
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	objs []dissect.Object
	vals []float64
}

func (p *parser) Gap(dir dissect.Dir) {
	p.buf[dir&1] = p.buf[dir&1][:0]
	p.junk[dir&1] = false
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	d := m.Dir & 1
	buf := p.buf[d]
	for len(b) > 0 {
		if len(buf) == 0 {
			n := p.apdus(m, b, emit)
			buf = append(buf, b[n:]...)
			break
		}
		k := min(len(b), maxAPDU-len(buf))
		buf = append(buf, b[:k]...)
		b = b[k:]
		n := p.apdus(m, buf, emit)
		buf = buf[:copy(buf, buf[n:])]
	}
	p.buf[d] = buf
}

// apdus parses whole APDUs from b and returns the bytes consumed; what is
// left is the start of an unfinished APDU.
func (p *parser) apdus(m dissect.Meta, b []byte, emit func(*dissect.PDU)) int {
	off := 0
	for off < len(b) {
		rest := b[off:]
		if rest[0] != start {
			skip := 1
			for skip < len(rest) && rest[skip] != start {
				skip++
			}
			// One malformed PDU per run of garbage, however it is segmented.
			if !p.junk[m.Dir&1] {
				p.junk[m.Dir&1] = true
				p.malformed(m, emit, "garbage before an apdu start 0x68")
			}
			off += skip
			continue
		}
		if len(rest) < 2 {
			return off
		}
		ln := int(rest[1])
		if ln < 4 {
			p.malformed(m, emit, fmt.Sprintf("apdu length %d below 4", ln))
			off += 2
			continue
		}
		if len(rest) < ln+2 {
			return off
		}
		p.junk[m.Dir&1] = false
		p.apdu(m, rest[2:2+ln], emit)
		off += ln + 2
	}
	return off
}

func (p *parser) reset(m dissect.Meta) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m}
	p.objs = p.objs[:0]
	p.vals = p.vals[:0]
}

func (p *parser) malformed(m dissect.Meta, emit func(*dissect.PDU), why string) {
	p.reset(m)
	p.pdu.Counting = dissect.CountNone
	p.pdu.Malformed = why
	emit(&p.pdu)
}

var uNames = [256]string{
	0x07: "STARTDT act", 0x0b: "STARTDT con", 0x13: "STOPDT act", 0x23: "STOPDT con",
	0x43: "TESTFR act", 0x83: "TESTFR con",
}

// apdu decodes the control field and ASDU of one APDU (without start and
// length).
func (p *parser) apdu(m dissect.Meta, a []byte, emit func(*dissect.PDU)) {
	p.reset(m)
	c := a[0]
	switch {
	case c&1 == 0:
		// I frame: counted by type id below.
	case c&3 == 1:
		p.pdu.Counting = dissect.CountNone
		p.pdu.Name = "S frame"
		p.pdu.Variant = "apci"
		if len(a) != 4 {
			p.pdu.Malformed = fmt.Sprintf("s frame of %d bytes", len(a)+2)
		}
		emit(&p.pdu)
		return
	default:
		p.pdu.Counting = dissect.CountNone
		p.pdu.Variant = "apci"
		p.pdu.Function = uint32(c)
		p.pdu.Action = dissect.ActConnect
		p.pdu.Name = uNames[c]
		p.pdu.Request = c == 0x07 || c == 0x13 || c == 0x43
		p.pdu.Response = !p.pdu.Request
		if p.pdu.Name == "" {
			p.pdu.Name = "U frame"
			p.pdu.Malformed = fmt.Sprintf("u frame with control 0x%02x", c)
		} else if len(a) != 4 {
			p.pdu.Malformed = fmt.Sprintf("u frame of %d bytes", len(a)+2)
		}
		emit(&p.pdu)
		return
	}
	asdu := a[4:]
	if len(asdu) < 6 {
		// tshark shows (and counts) the type id of a truncated ASDU.
		p.pdu.Counting = dissect.CountNone
		if len(asdu) > 0 {
			p.pdu.Counting = dissect.CountFunction
			p.pdu.Function = uint32(asdu[0])
			p.pdu.Name = typeNames[asdu[0]]
		}
		p.pdu.Malformed = fmt.Sprintf("i frame with a %d-byte asdu", len(asdu))
		emit(&p.pdu)
		return
	}
	p.asdu(asdu)
	emit(&p.pdu)
}

// asdu decodes the data unit identifier and information objects.
func (p *parser) asdu(b []byte) {
	typ, vsq, cot := b[0], b[1], b[2]
	sq, n := vsq&0x80 != 0, int(vsq&0x7f)
	p.pdu.Function = uint32(typ)
	p.pdu.Counting = dissect.CountFunction
	p.pdu.Name = typeNames[typ]
	if p.pdu.Name == "" {
		p.pdu.Name = fmt.Sprintf("type %d", typ)
	}
	p.pdu.Unit = uint32(binary.LittleEndian.Uint16(b[4:6]))
	p.pdu.Action = typeAction(typ)
	cause := cot & 0x3f
	switch cause {
	case 6, 8, 5, 13:
		p.pdu.Request = true
	case 7, 9, 10, 44, 45, 46, 47:
		p.pdu.Response = true
	default:
		p.pdu.Response = cause == 20 || (cause >= 21 && cause <= 41)
	}
	// The negative bit or a cause 44-47 (unknown type, cause, address,
	// object address) is the station's refusal.
	if cot&0x40 != 0 || cause >= 44 {
		p.pdu.Exception = uint32(cot & 0x7f)
	}
	if cot&0x80 != 0 {
		p.pdu.Variant = "test"
	}
	size, known := elemSize(typ)
	objs := b[6:]
	if !known {
		return
	}
	need := n * (3 + size)
	if sq {
		need = 3 + n*size
	}
	if n == 0 {
		if len(objs) != 0 {
			p.pdu.Malformed = "asdu with zero objects carries data"
		}
		return
	}
	if len(objs) != need {
		p.pdu.Malformed = fmt.Sprintf("asdu of %d objects needs %d bytes, has %d", n, need, len(objs))
		if len(objs) < need {
			return
		}
	}
	if sq {
		ioa := ioaOf(objs)
		o := dissect.Object{Space: "ioa", Start: ioa, Count: uint32(n)}
		for k := 0; k < n; k++ {
			if v, ok := value(typ, objs[3+k*size:3+(k+1)*size]); ok {
				p.vals = append(p.vals, v)
			}
		}
		if len(p.vals) == n {
			o.Values = p.vals
		}
		p.objs = append(p.objs, o)
	} else {
		for k := 0; k < n; k++ {
			e := objs[k*(3+size):]
			o := dissect.Object{Space: "ioa", Start: ioaOf(e), Count: 1}
			if v, ok := value(typ, e[3:3+size]); ok {
				i := len(p.vals)
				p.vals = append(p.vals, v)
				o.Values = p.vals[i : i+1 : i+1]
			}
			p.objs = append(p.objs, o)
		}
	}
	p.pdu.Objects = p.objs
}

func ioaOf(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

// value decodes the value of one information element where it is a single
// number: a point state, a measurement, a counter or a setpoint.
func value(typ byte, e []byte) (float64, bool) {
	switch typ {
	case 1, 2, 30, 45, 58: // single point, single command
		return float64(e[0] & 1), true
	case 3, 4, 31, 46, 59, 47, 60: // double point, double and regulating step command
		return float64(e[0] & 3), true
	case 5, 6, 32: // step position: 7-bit signed
		return float64(int8(e[0]<<1) >> 1), true
	case 7, 8, 33, 51, 64: // bitstring of 32 bits
		return float64(binary.LittleEndian.Uint32(e)), true
	case 9, 10, 34, 21, 48, 61, 110: // normalised value
		return float64(int16(binary.LittleEndian.Uint16(e))) / 32768, true
	case 11, 12, 35, 49, 62, 111: // scaled value
		return float64(int16(binary.LittleEndian.Uint16(e))), true
	case 13, 14, 36, 50, 63, 112: // short float
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(e))), true
	case 15, 16, 37: // binary counter reading
		return float64(int32(binary.LittleEndian.Uint32(e))), true
	}
	return 0, false
}

func typeAction(t byte) dissect.Action {
	switch {
	case t >= 1 && t <= 40:
		return dissect.ActData
	case t >= 45 && t <= 64:
		return dissect.ActWrite
	case t == 70:
		return dissect.ActRestart // end of initialisation: the station restarted
	case t == 100, t == 101, t == 102:
		return dissect.ActRead
	case t == 103:
		return dissect.ActTimeSet
	case t == 105:
		return dissect.ActRestart
	case t >= 110 && t <= 113:
		return dissect.ActWrite
	case t >= 120 && t <= 127:
		return dissect.ActUpload
	}
	return dissect.ActOther
}

// elemSize is the size of one information element (without its address)
// of type t; known is false for types whose size this dissector does not
// know (segments of files are variable).
func elemSize(t byte) (size int, known bool) {
	s := elemSizes[t]
	return int(s), s != 0 || t == 102 // C_RD_NA_1 (read) carries only its address
}

var elemSizes = [256]uint8{
	1: 1, 2: 4, 3: 1, 4: 4, 5: 2, 6: 5, 7: 5, 8: 8, 9: 3, 10: 6, 11: 3, 12: 6, 13: 5, 14: 8,
	15: 5, 16: 8, 17: 6, 18: 7, 19: 7, 20: 5, 21: 2,
	30: 8, 31: 8, 32: 9, 33: 12, 34: 10, 35: 10, 36: 12, 37: 12, 38: 10, 39: 11, 40: 11,
	45: 1, 46: 1, 47: 1, 48: 3, 49: 3, 50: 5, 51: 4,
	58: 8, 59: 8, 60: 8, 61: 10, 62: 10, 63: 12, 64: 11,
	70: 1, 100: 1, 101: 1, 102: 0, 103: 7, 104: 2, 105: 1, 106: 2, 107: 9,
	110: 3, 111: 3, 112: 5, 113: 1,
	120: 6, 121: 7, 122: 4, 123: 5, 124: 4, 126: 13, 127: 16,
}

var typeNames = [256]string{
	1: "M_SP_NA_1", 2: "M_SP_TA_1", 3: "M_DP_NA_1", 4: "M_DP_TA_1", 5: "M_ST_NA_1", 6: "M_ST_TA_1",
	7: "M_BO_NA_1", 8: "M_BO_TA_1", 9: "M_ME_NA_1", 10: "M_ME_TA_1", 11: "M_ME_NB_1", 12: "M_ME_TB_1",
	13: "M_ME_NC_1", 14: "M_ME_TC_1", 15: "M_IT_NA_1", 16: "M_IT_TA_1", 17: "M_EP_TA_1", 18: "M_EP_TB_1",
	19: "M_EP_TC_1", 20: "M_PS_NA_1", 21: "M_ME_ND_1", 30: "M_SP_TB_1", 31: "M_DP_TB_1", 32: "M_ST_TB_1",
	33: "M_BO_TB_1", 34: "M_ME_TD_1", 35: "M_ME_TE_1", 36: "M_ME_TF_1", 37: "M_IT_TB_1", 38: "M_EP_TD_1",
	39: "M_EP_TE_1", 40: "M_EP_TF_1", 45: "C_SC_NA_1", 46: "C_DC_NA_1", 47: "C_RC_NA_1", 48: "C_SE_NA_1",
	49: "C_SE_NB_1", 50: "C_SE_NC_1", 51: "C_BO_NA_1", 58: "C_SC_TA_1", 59: "C_DC_TA_1", 60: "C_RC_TA_1",
	61: "C_SE_TA_1", 62: "C_SE_TB_1", 63: "C_SE_TC_1", 64: "C_BO_TA_1", 70: "M_EI_NA_1",
	100: "C_IC_NA_1", 101: "C_CI_NA_1", 102: "C_RD_NA_1", 103: "C_CS_NA_1", 104: "C_TS_NA_1",
	105: "C_RP_NA_1", 106: "C_CD_NA_1", 107: "C_TS_TA_1", 110: "P_ME_NA_1", 111: "P_ME_NB_1",
	112: "P_ME_NC_1", 113: "P_AC_NA_1", 120: "F_FR_NA_1", 121: "F_SR_NA_1", 122: "F_SC_NA_1",
	123: "F_LS_NA_1", 124: "F_AF_NA_1", 125: "F_SG_NA_1", 126: "F_DR_TA_1", 127: "F_SC_NB_1",
}

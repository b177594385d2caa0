package dnp3

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/otlink/otlink/internal/dissect"
)

// Application function codes that change how objects are read.
const (
	fcConfirm  = 0
	fcRead     = 1
	fcWrite    = 2
	fcOpenFile = 25
	fcResponse = 129
	fcUnsol    = 130
	fcAuthResp = 131
)

var funcNames = [256]string{
	0: "Confirm", 1: "Read", 2: "Write", 3: "Select", 4: "Operate", 5: "Direct Operate",
	6: "Direct Operate No Ack", 7: "Immediate Freeze", 8: "Immediate Freeze No Ack",
	9: "Freeze and Clear", 10: "Freeze and Clear No Ack", 11: "Freeze at Time",
	12: "Freeze at Time No Ack", 13: "Cold Restart", 14: "Warm Restart",
	15: "Initialize Data", 16: "Initialize Application", 17: "Start Application",
	18: "Stop Application", 19: "Save Configuration", 20: "Enable Spontaneous Messages",
	21: "Disable Spontaneous Messages", 22: "Assign Classes", 23: "Delay Measurement",
	24: "Record Current Time", 25: "Open File", 26: "Close File", 27: "Delete File",
	28: "Get File Info", 29: "Authenticate File", 30: "Abort File Transfer",
	31: "Activate Config", 32: "Authentication Request", 33: "Authentication Request No Ack",
	129: "Response", 130: "Unsolicited Response", 131: "Authentication Response",
}

var funcActions = [256]dissect.Action{
	1: dissect.ActRead, 2: dissect.ActWrite, 3: dissect.ActWrite, 4: dissect.ActWrite,
	5: dissect.ActWrite, 6: dissect.ActWrite, 13: dissect.ActRestart, 14: dissect.ActRestart,
	15: dissect.ActRestart, 16: dissect.ActRestart, 17: dissect.ActStart, 18: dissect.ActStop,
	19: dissect.ActWrite, 20: dissect.ActSubscribe, 21: dissect.ActSubscribe, 22: dissect.ActSubscribe,
	24: dissect.ActTimeSet, 27: dissect.ActWrite, 28: dissect.ActRead, 29: dissect.ActAuth,
	31: dissect.ActDownload, 32: dissect.ActAuth, 33: dissect.ActAuth, 130: dissect.ActData,
	131: dissect.ActAuth,
}

// Device attribute variations of group 0 that say who the device is.
var attrNames = map[byte]string{
	242: "firmware", 243: "hardware", 245: "location", 246: "id",
	247: "name", 248: "serial", 250: "product", 252: "vendor",
}

// application decodes one reassembled application fragment.
func (p *parser) application(m dissect.Meta, a []byte, fromMaster bool, unit uint32, emit func(*dissect.PDU)) {
	p.reset(m)
	p.pdu.Unit = unit
	if len(a) < 2 {
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "application fragment shorter than 2 bytes"
		emit(&p.pdu)
		return
	}
	fc := a[1]
	p.pdu.Function = uint32(fc)
	p.pdu.Counting = dissect.CountFunction
	p.pdu.Name = funcNames[fc]
	if p.pdu.Name == "" {
		p.pdu.Name = fmt.Sprintf("Function %d", fc)
	}
	p.pdu.Action = funcActions[fc]
	p.pdu.Response = fc >= fcResponse
	p.pdu.Request = !p.pdu.Response
	off := 2
	if p.pdu.Response {
		if len(a) < 4 {
			p.pdu.Malformed = "response without internal indications"
			emit(&p.pdu)
			return
		}
		// IIN2 bits 0-2: function not supported, object unknown, parameter
		// error; the other IIN bits are status, not an error.
		p.pdu.Exception = uint32(a[3] & 0x07)
		off = 4
	}
	p.objects(fc, a[off:])
	p.pdu.Objects = p.objs
	if len(p.ident) > 0 {
		p.pdu.Identity = p.ident
	}
	emit(&p.pdu)
}

// objects walks the object headers of a fragment. It stops quietly at an
// object whose size it does not know: what came before is still right.
func (p *parser) objects(fc byte, b []byte) {
	noData := fc == fcRead || (fc >= 7 && fc <= 12) || (fc >= 20 && fc <= 22) || fc == fcConfirm
	for off := 0; off < len(b); {
		if len(p.objs) == maxObjects {
			return
		}
		if len(b)-off < 3 {
			p.pdu.Malformed = "truncated object header"
			return
		}
		g, v, q := b[off], b[off+1], b[off+2]
		off += 3
		prefix, rng := q>>4&7, q&0x0f
		var start, count uint32
		switch rng {
		case 0, 1, 2, 3, 4, 5:
			w := 1 << (rng % 3)
			if len(b)-off < 2*w {
				p.pdu.Malformed = "truncated object range"
				return
			}
			start, stop := uintN(b[off:], w), uintN(b[off+w:], w)
			off += 2 * w
			if stop < start {
				p.pdu.Malformed = fmt.Sprintf("object range stop %d below start %d", stop, start)
				return
			}
			count = stop - start + 1
		case 6:
		case 7, 8, 9, 0xb:
			w := 1 << (rng - 7)
			if rng == 0xb {
				w = 1
			}
			if len(b)-off < w {
				p.pdu.Malformed = "truncated object count"
				return
			}
			count = uintN(b[off:], w)
			off += w
		default:
			p.pdu.Malformed = fmt.Sprintf("reserved range code %d", rng)
			return
		}
		p.action(fc, g)
		i := len(p.objs)
		p.objs = append(p.objs, dissect.Object{Space: p.space(g, v), Start: start, Count: count})
		if noData || rng == 6 || g == 60 || count == 0 {
			continue
		}
		// Values go into the parser's buffer, not a new slice per object.
		if cap(p.vals) == 0 {
			p.vals = make([]float64, 0, 2*maxValues)
		}
		n0 := len(p.vals)
		p.objs[i].Values = p.vals[n0:n0]
		n, ok := p.data(fc, g, v, prefix, count, b[off:], &p.objs[i])
		if o := &p.objs[i]; len(o.Values) == 0 {
			o.Values = nil
		} else if k := len(o.Values); n0+k <= cap(p.vals) && &o.Values[0] == &p.vals[:n0+1][n0] {
			p.vals = p.vals[:n0+k]
			o.Values = p.vals[n0 : n0+k : n0+k]
		} else { // grew past the buffer: keep a bigger buffer for next time
			p.vals = append(p.vals[:n0], o.Values...)
			o.Values = p.vals[n0 : n0+k : n0+k]
		}
		if !ok {
			return
		}
		off += n
	}
}

// action refines the function's action from the objects it carries.
func (p *parser) action(fc, g byte) {
	switch {
	case g == 120:
		p.pdu.Action = dissect.ActAuth
	case g == 50 && fc == fcWrite:
		p.pdu.Action = dissect.ActTimeSet
	case g == 70 && fc == fcRead:
		p.pdu.Action = dissect.ActUpload
	case g == 70 && fc == fcWrite:
		p.pdu.Action = dissect.ActDownload
	}
}

// data walks the data of count objects of group g variation v and returns
// the bytes they take; ok is false when their size is unknown or the
// fragment is too short.
func (p *parser) data(fc, g, v, prefix byte, count uint32, b []byte, o *dissect.Object) (n int, ok bool) {
	if count > uint32(len(b)) && !(prefix == 0 && bitsOf(g, v) > 0) {
		p.pdu.Malformed = fmt.Sprintf("object count %d exceeds the fragment", count)
		return 0, false
	}
	switch {
	case prefix >= 4 && prefix <= 6: // each object preceded by its size
		w := 1 << (prefix - 4)
		off := 0
		for k := uint32(0); k < count; k++ {
			if len(b)-off < w {
				p.pdu.Malformed = "truncated object size prefix"
				return 0, false
			}
			sz := int(uintN(b[off:], w))
			off += w
			if sz > len(b)-off {
				p.pdu.Malformed = "object larger than the fragment"
				return 0, false
			}
			if g == 70 && fc == fcOpenFile && v == 3 && sz >= 22 {
				p.fileMode(b[off : off+sz])
			}
			off += sz
		}
		return off, true
	case prefix >= 1 && prefix <= 3: // each object preceded by its index
		w := 1 << (prefix - 1)
		size := sizeOf(g, v)
		if size == 0 {
			return 0, false
		}
		off := 0
		for k := uint32(0); k < count; k++ {
			if len(b)-off < w+size {
				p.pdu.Malformed = "truncated indexed object"
				return 0, false
			}
			idx := uintN(b[off:], w)
			if k == 0 {
				o.Start = idx
			}
			p.value(g, v, b[off+w:off+w+size], o)
			off += w + size
		}
		return off, true
	case prefix == 0:
		if bits := bitsOf(g, v); bits > 0 {
			nb := (uint64(count)*uint64(bits) + 7) / 8
			if nb > uint64(len(b)) {
				p.pdu.Malformed = "truncated packed objects"
				return 0, false
			}
			if bits == 1 {
				for k := uint32(0); k < count && k < maxValues; k++ {
					o.Values = append(o.Values, float64(b[k/8]>>(k%8)&1))
				}
			}
			return int(nb), true
		}
		if g == 0 {
			return p.attributes(v, count, b)
		}
		size := sizeOf(g, v)
		if size == 0 {
			return 0, false
		}
		if uint64(count)*uint64(size) > uint64(len(b)) {
			p.pdu.Malformed = "truncated objects"
			return 0, false
		}
		for k := 0; k < int(count); k++ {
			p.value(g, v, b[k*size:(k+1)*size], o)
		}
		return int(count) * size, true
	}
	p.pdu.Malformed = fmt.Sprintf("reserved prefix code %d", prefix)
	return 0, false
}

// attributes reads group 0 device attributes: each is a data type, a
// length and the value.
func (p *parser) attributes(v byte, count uint32, b []byte) (int, bool) {
	off := 0
	for k := uint32(0); k < count; k++ {
		if len(b)-off < 2 {
			p.pdu.Malformed = "truncated device attribute"
			return 0, false
		}
		typ, ln := b[off], int(b[off+1])
		off += 2
		if ln > len(b)-off {
			p.pdu.Malformed = "device attribute longer than the fragment"
			return 0, false
		}
		if name, ok := attrNames[v]; ok && typ == 1 && ln > 0 {
			if p.ident == nil {
				p.ident = map[string]string{}
			}
			p.ident[name] = printable(b[off : off+ln])
		}
		off += ln
	}
	return off, true
}

// fileMode reads the mode of a g70v3 file command: read means the file
// leaves the device (upload), write or append means it goes in (download).
func (p *parser) fileMode(obj []byte) {
	// name offset 2, name size 2, time 6, permissions 2, auth key 4,
	// file size 4, then the mode.
	switch binary.LittleEndian.Uint16(obj[20:22]) {
	case 1:
		p.pdu.Action = dissect.ActUpload
	case 2, 3:
		p.pdu.Action = dissect.ActDownload
	}
}

// value appends the value of one object where it is simple: binary and
// analog points, counters, control relay outputs and analog outputs.
func (p *parser) value(g, v byte, b []byte, o *dissect.Object) {
	if len(o.Values) >= maxValues {
		return
	}
	var x float64
	switch {
	case (g == 1 || g == 10) && v == 2, (g == 2 || g == 11) && v >= 1:
		x = float64(b[0] >> 7)
	case g == 12 && v == 1: // CROB control code
		code := b[0]
		switch {
		case code>>6 == 1:
			x = 1 // close
		case code>>6 == 2:
			x = 0 // trip
		case code&0x0f == 1 || code&0x0f == 3:
			x = 1 // pulse on, latch on
		default:
			x = 0
		}
	default:
		var f field
		if t := numericTab[g]; int(v) < len(t) {
			f = t[v]
		}
		if f.kind == 0 || int(f.off)+int(f.kind&0x0f) > len(b) {
			return
		}
		x = f.read(b[f.off:])
	}
	o.Values = append(o.Values, x)
}

func uintN(b []byte, w int) uint32 {
	switch w {
	case 1:
		return uint32(b[0])
	case 2:
		return uint32(binary.LittleEndian.Uint16(b))
	}
	return binary.LittleEndian.Uint32(b)
}

func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

// space names an object type the way DNP3 people write it: "g12v1 CROB".
// Names are cached per parser (bounded: group and variation are bytes).
func (p *parser) space(g, v byte) string {
	k := uint16(g)<<8 | uint16(v)
	if s := spaces.Get(uint64(k)); s != "" {
		return s
	}
	s := fmt.Sprintf("g%dv%d", g, v)
	if n := groupName(g, v); n != "" {
		s += " " + n
	}
	return spaces.Put(uint64(k), s)
}

func groupName(g, v byte) string {
	switch g {
	case 12:
		switch v {
		case 1:
			return "CROB"
		case 2:
			return "PCB"
		case 3:
			return "PCM"
		}
	case 60:
		if v >= 1 && v <= 4 {
			return fmt.Sprintf("class %d", v-1)
		}
	}
	return groupNames[g]
}

var groupNames = [256]string{
	0: "device attributes", 1: "binary input", 2: "binary input event", 3: "double-bit input",
	4: "double-bit input event", 10: "binary output", 11: "binary output event",
	13: "binary output command event", 20: "counter", 21: "frozen counter", 22: "counter event",
	23: "frozen counter event", 30: "analog input", 31: "frozen analog input",
	32: "analog input event", 33: "frozen analog input event", 34: "analog input deadband",
	40: "analog output status", 41: "analog output", 42: "analog output event",
	43: "analog output command event", 50: "time", 51: "time of occurrence", 52: "time delay",
	70: "file", 80: "internal indications", 110: "octet string", 111: "octet string event",
	112: "virtual terminal output", 113: "virtual terminal event", 120: "authentication",
	121: "security statistic", 122: "security statistic event",
}

// field says where the number of a numeric object is and how it is coded.
type field struct {
	off  uint8
	kind uint8 // low nibble: width in bytes; 0x10 signed; 0x20 float
}

const (
	u32 = 4
	i16 = 0x12
	i32 = 0x14
	f32 = 0x24
	f64 = 0x28
)

func (f field) read(b []byte) float64 {
	switch f.kind {
	case u32:
		return float64(binary.LittleEndian.Uint32(b))
	case 2:
		return float64(binary.LittleEndian.Uint16(b))
	case i16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case i32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case f32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case f64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func gv(g, v byte) uint16 { return uint16(g)<<8 | uint16(v) }

// numeric lists the counters, analog inputs and analog outputs whose value
// is kept: the offset skips the flag octet where the variation has one.
var numeric = map[uint16]field{
	gv(20, 1): {1, u32}, gv(20, 2): {1, 2}, gv(20, 5): {0, u32}, gv(20, 6): {0, 2},
	gv(21, 1): {1, u32}, gv(21, 2): {1, 2}, gv(21, 5): {1, u32}, gv(21, 6): {1, 2}, gv(21, 9): {0, u32}, gv(21, 10): {0, 2},
	gv(22, 1): {1, u32}, gv(22, 2): {1, 2}, gv(22, 5): {1, u32}, gv(22, 6): {1, 2},
	gv(30, 1): {1, i32}, gv(30, 2): {1, i16}, gv(30, 3): {0, i32}, gv(30, 4): {0, i16}, gv(30, 5): {1, f32}, gv(30, 6): {1, f64},
	gv(32, 1): {1, i32}, gv(32, 2): {1, i16}, gv(32, 3): {1, i32}, gv(32, 4): {1, i16}, gv(32, 5): {1, f32}, gv(32, 6): {1, f64}, gv(32, 7): {1, f32}, gv(32, 8): {1, f64},
	gv(40, 1): {1, i32}, gv(40, 2): {1, i16}, gv(40, 3): {1, f32}, gv(40, 4): {1, f64},
	gv(41, 1): {0, i32}, gv(41, 2): {0, i16}, gv(41, 3): {0, f32}, gv(41, 4): {0, f64},
	gv(42, 1): {1, i32}, gv(42, 2): {1, i16}, gv(42, 3): {1, i32}, gv(42, 4): {1, i16}, gv(42, 5): {1, f32}, gv(42, 6): {1, f64}, gv(42, 7): {1, f32}, gv(42, 8): {1, f64},
}

// bitsOf is the packed size in bits of the objects that are packed.
func bitsOf(g, v byte) int {
	switch {
	case (g == 1 || g == 10 || g == 80) && v == 1, g == 12 && v == 3:
		return 1
	case g == 3 && v == 1:
		return 2
	}
	return 0
}

// sizeOf is the size in bytes of one fixed-size object, 0 when unknown or
// variable.
func sizeOf(g, v byte) int {
	switch g {
	case 110, 111, 112, 113: // octet strings: the variation is the length
		return int(v)
	}
	if t := sizesTab[g]; int(v) < len(t) {
		return int(t[v])
	}
	return 0
}

// numericTab and sizesTab index numeric and sizes by group, then
// variation: two slice lookups per object instead of a map's hash.
var numericTab, sizesTab = func() (n [256][]field, s [256][]uint8) {
	for k, f := range numeric {
		g, v := k>>8, int(k&0xff)
		for len(n[g]) <= v {
			n[g] = append(n[g], field{})
		}
		n[g][v] = f
	}
	for k, z := range sizes {
		g, v := k>>8, int(k&0xff)
		for len(s[g]) <= v {
			s[g] = append(s[g], 0)
		}
		s[g][v] = z
	}
	return n, s
}()

var sizes = map[uint16]uint8{
	gv(1, 2): 1, gv(2, 1): 1, gv(2, 2): 7, gv(2, 3): 3, gv(3, 2): 1, gv(4, 1): 1, gv(4, 2): 7, gv(4, 3): 3,
	gv(10, 2): 1, gv(11, 1): 1, gv(11, 2): 7, gv(12, 1): 11, gv(12, 2): 11, gv(13, 1): 1, gv(13, 2): 7,
	gv(20, 1): 5, gv(20, 2): 3, gv(20, 3): 5, gv(20, 4): 3, gv(20, 5): 4, gv(20, 6): 2, gv(20, 7): 4, gv(20, 8): 2,
	gv(21, 1): 5, gv(21, 2): 3, gv(21, 3): 5, gv(21, 4): 3, gv(21, 5): 11, gv(21, 6): 9, gv(21, 7): 11, gv(21, 8): 9,
	gv(21, 9): 4, gv(21, 10): 2, gv(21, 11): 4, gv(21, 12): 2,
	gv(22, 1): 5, gv(22, 2): 3, gv(22, 3): 5, gv(22, 4): 3, gv(22, 5): 11, gv(22, 6): 9, gv(22, 7): 11, gv(22, 8): 9,
	gv(23, 1): 5, gv(23, 2): 3, gv(23, 3): 5, gv(23, 4): 3, gv(23, 5): 11, gv(23, 6): 9, gv(23, 7): 11, gv(23, 8): 9,
	gv(30, 1): 5, gv(30, 2): 3, gv(30, 3): 4, gv(30, 4): 2, gv(30, 5): 5, gv(30, 6): 9,
	gv(31, 1): 5, gv(31, 2): 3, gv(31, 3): 11, gv(31, 4): 9, gv(31, 5): 4, gv(31, 6): 2, gv(31, 7): 5, gv(31, 8): 9,
	gv(32, 1): 5, gv(32, 2): 3, gv(32, 3): 11, gv(32, 4): 9, gv(32, 5): 5, gv(32, 6): 9, gv(32, 7): 11, gv(32, 8): 15,
	gv(33, 1): 5, gv(33, 2): 3, gv(33, 3): 11, gv(33, 4): 9, gv(33, 5): 5, gv(33, 6): 9, gv(33, 7): 11, gv(33, 8): 15,
	gv(34, 1): 2, gv(34, 2): 4, gv(34, 3): 4,
	gv(40, 1): 5, gv(40, 2): 3, gv(40, 3): 5, gv(40, 4): 9,
	gv(41, 1): 5, gv(41, 2): 3, gv(41, 3): 5, gv(41, 4): 9,
	gv(42, 1): 5, gv(42, 2): 3, gv(42, 3): 11, gv(42, 4): 9, gv(42, 5): 5, gv(42, 6): 9, gv(42, 7): 11, gv(42, 8): 15,
	gv(43, 1): 5, gv(43, 2): 3, gv(43, 3): 11, gv(43, 4): 9, gv(43, 5): 5, gv(43, 6): 9, gv(43, 7): 11, gv(43, 8): 15,
	gv(50, 1): 6, gv(50, 2): 10, gv(50, 3): 6, gv(50, 4): 11, gv(51, 1): 6, gv(51, 2): 6, gv(52, 1): 2, gv(52, 2): 2,
}

// spaces caches the object names by group and variation, process-wide.
var spaces dissect.Names

package opcua

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
)

// Limits of the decoder: what one message may make it store or recurse.
const (
	maxStr     = 512 // longest string kept (longer ones are cut)
	maxObjects = 256 // node ids kept per PDU
	maxValues  = 64  // values kept per object
	maxDepth   = 8   // nesting of variants, diagnostic infos, data values
	maxItems   = 4096
)

// rd reads OPC UA binary encoding (little endian) from a byte slice.
// After the first short read every further read returns zero values and
// bad stays set, so decoders check once at the end.
type rd struct {
	b   []byte
	p   int
	bad bool
}

func (r *rd) need(n int) bool {
	if r.bad || n < 0 || len(r.b)-r.p < n {
		r.bad = true
		return false
	}
	return true
}

func (r *rd) left() int { return len(r.b) - r.p }

func (r *rd) skip(n int) {
	if r.need(n) {
		r.p += n
	}
}

func (r *rd) u8() byte {
	if !r.need(1) {
		return 0
	}
	r.p++
	return r.b[r.p-1]
}

func (r *rd) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.p += 2
	return binary.LittleEndian.Uint16(r.b[r.p-2:])
}

func (r *rd) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.p += 4
	return binary.LittleEndian.Uint32(r.b[r.p-4:])
}

func (r *rd) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	r.p += 8
	return binary.LittleEndian.Uint64(r.b[r.p-8:])
}

// bytesv returns a view of a ByteString (or String) body; nil for null.
func (r *rd) bytesv() []byte {
	n := int32(r.u32())
	if r.bad || n <= 0 {
		if n < -1 {
			r.bad = true
		}
		return nil
	}
	if !r.need(int(n)) {
		return nil
	}
	r.p += int(n)
	return r.b[r.p-int(n) : r.p]
}

func (r *rd) str() string {
	v := r.bytesv()
	if len(v) > maxStr {
		v = v[:maxStr]
	}
	return string(v)
}

// arr reads an array length; -1 (null) is 0. A length that cannot fit in
// the bytes left (each element takes at least min bytes) marks r bad.
func (r *rd) arr(min int) int {
	n := int32(r.u32())
	if r.bad || n <= 0 {
		if n < -1 {
			r.bad = true
		}
		return 0
	}
	if min < 1 {
		min = 1
	}
	if int64(n)*int64(min) > int64(r.left()) {
		r.bad = true
		return 0
	}
	return int(n)
}

// nodeID is a decoded NodeId.
type nodeID struct {
	ns   uint16
	kind byte // 'i' numeric, 's' string, 'g' guid, 'b' opaque
	num  uint32
	s    string
}

func (n nodeID) String() string {
	pre := "ns=" + strconv.Itoa(int(n.ns)) + ";"
	switch n.kind {
	case 'i':
		return pre + "i=" + strconv.FormatUint(uint64(n.num), 10)
	case 's':
		return pre + "s=" + n.s
	case 'g':
		return pre + "g=" + n.s
	}
	return pre + "b=" + n.s
}

// nodeID reads a NodeId; with exp an ExpandedNodeId (namespace URI and
// server index flags allowed).
func (r *rd) nodeIDx(exp bool) nodeID {
	enc := r.u8()
	var n nodeID
	switch enc & 0x3f {
	case 0:
		n = nodeID{kind: 'i', num: uint32(r.u8())}
	case 1:
		n.kind = 'i'
		n.ns = uint16(r.u8())
		n.num = uint32(r.u16())
	case 2:
		n.kind = 'i'
		n.ns = r.u16()
		n.num = r.u32()
	case 3:
		n.kind = 's'
		n.ns = r.u16()
		n.s = r.str()
	case 4:
		n.kind = 'g'
		n.ns = r.u16()
		if r.need(16) {
			g := r.b[r.p : r.p+16]
			r.p += 16
			n.s = guidString(g)
		}
	case 5:
		n.kind = 'b'
		n.ns = r.u16()
		v := r.bytesv()
		if len(v) > 64 {
			v = v[:64]
		}
		n.s = base64.StdEncoding.EncodeToString(v)
	default:
		r.bad = true
	}
	if enc&0xc0 != 0 {
		if !exp {
			r.bad = true
		}
		if enc&0x80 != 0 {
			r.bytesv()
		}
		if enc&0x40 != 0 {
			r.u32()
		}
	}
	return n
}

func (r *rd) nodeID() nodeID    { return r.nodeIDx(false) }
func (r *rd) expNodeID() nodeID { return r.nodeIDx(true) }

func guidString(g []byte) string {
	var b [36]byte
	d1 := binary.LittleEndian.Uint32(g)
	d2 := binary.LittleEndian.Uint16(g[4:])
	d3 := binary.LittleEndian.Uint16(g[6:])
	var h [16]byte
	binary.BigEndian.PutUint32(h[:], d1)
	binary.BigEndian.PutUint16(h[4:], d2)
	binary.BigEndian.PutUint16(h[6:], d3)
	copy(h[8:], g[8:16])
	hex.Encode(b[0:8], h[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], h[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], h[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], h[8:10])
	b[23] = '-'
	hex.Encode(b[24:], h[10:16])
	return string(b[:])
}

// extObj skips an ExtensionObject and returns its type id and body.
func (r *rd) extObj() (nodeID, []byte) {
	id := r.nodeID()
	switch r.u8() {
	case 0:
		return id, nil
	case 1, 2:
		return id, r.bytesv()
	}
	r.bad = true
	return id, nil
}

func (r *rd) localized() string {
	m := r.u8()
	if m&0x01 != 0 {
		r.bytesv()
	}
	if m&0x02 != 0 {
		return r.str()
	}
	return ""
}

func (r *rd) qualified() {
	r.u16()
	r.bytesv()
}

func (r *rd) diag(depth int) {
	if depth > maxDepth {
		r.bad = true
		return
	}
	m := r.u8()
	for _, bit := range []byte{0x01, 0x02, 0x08, 0x04} {
		if m&bit != 0 {
			r.u32()
		}
	}
	if m&0x10 != 0 {
		r.bytesv()
	}
	if m&0x20 != 0 {
		r.u32()
	}
	if m&0x40 != 0 {
		r.diag(depth + 1)
	}
}

// fixed sizes of the built-in types with a fixed encoding, by type id.
var fixed = [26]int{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 4, 8: 8, 9: 8, 10: 4, 11: 8, 13: 8, 14: 16, 19: 4}

// scalar reads one value of built-in type t, returning it as a float when
// it is a number or a boolean.
func (r *rd) scalar(t byte, depth int) (float64, bool) {
	switch t {
	case 1:
		if r.u8() != 0 {
			return 1, true
		}
		return 0, !r.bad
	case 2:
		return float64(int8(r.u8())), !r.bad
	case 3:
		return float64(r.u8()), !r.bad
	case 4:
		return float64(int16(r.u16())), !r.bad
	case 5:
		return float64(r.u16()), !r.bad
	case 6:
		return float64(int32(r.u32())), !r.bad
	case 7:
		return float64(r.u32()), !r.bad
	case 8:
		return float64(int64(r.u64())), !r.bad
	case 9:
		return float64(r.u64()), !r.bad
	case 10:
		return float64(math.Float32frombits(r.u32())), !r.bad
	case 11:
		return math.Float64frombits(r.u64()), !r.bad
	case 12, 15, 16:
		r.bytesv()
	case 13, 14, 19:
		r.skip(fixed[t])
	case 17:
		r.nodeID()
	case 18:
		r.expNodeID()
	case 20:
		r.qualified()
	case 21:
		r.localized()
	case 22:
		r.extObj()
	case 23:
		r.dataValue(depth+1, nil)
	case 24:
		r.variant(depth+1, nil)
	case 25:
		r.diag(depth + 1)
	default:
		r.bad = true
	}
	return 0, false
}

// variant reads a Variant, appending its numeric values (at most
// maxValues) to *vals when vals is not nil.
func (r *rd) variant(depth int, vals *[]float64) {
	if depth > maxDepth {
		r.bad = true
		return
	}
	enc := r.u8()
	t := enc & 0x3f
	if t == 0 || r.bad {
		return
	}
	n := 1
	if enc&0x80 != 0 {
		min := 1
		if t < byte(len(fixed)) && fixed[t] > 0 {
			min = fixed[t]
		}
		n = r.arr(min)
	}
	for i := 0; i < n && !r.bad; i++ {
		v, ok := r.scalar(t, depth)
		if ok && vals != nil && len(*vals) < maxValues {
			*vals = append(*vals, v)
		}
	}
	if enc&0x40 != 0 {
		d := r.arr(4)
		r.skip(4 * d)
	}
}

// dataValue reads a DataValue; its status code is returned.
func (r *rd) dataValue(depth int, vals *[]float64) uint32 {
	m := r.u8()
	var st uint32
	if m&0x01 != 0 {
		r.variant(depth, vals)
	}
	if m&0x02 != 0 {
		st = r.u32()
	}
	if m&0x04 != 0 {
		r.u64()
	}
	if m&0x10 != 0 {
		r.u16()
	}
	if m&0x08 != 0 {
		r.u64()
	}
	if m&0x20 != 0 {
		r.u16()
	}
	return st
}

// requestHeader skips a RequestHeader and returns the request handle.
func (r *rd) requestHeader() uint32 {
	r.nodeID()   // authentication token
	r.u64()      // timestamp
	h := r.u32() // request handle
	r.u32()      // return diagnostics
	r.bytesv()   // audit entry id
	r.u32()      // timeout hint
	r.extObj()   // additional header
	return h
}

// responseHeader skips a ResponseHeader and returns the request handle
// and the service result.
func (r *rd) responseHeader() (uint32, uint32) {
	r.u64()
	h := r.u32()
	st := r.u32()
	r.diag(0)
	n := r.arr(4)
	for i := 0; i < n && !r.bad; i++ {
		r.bytesv()
	}
	r.extObj()
	return h, st
}

package bacnet

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// tag is one BACnet ASN.1 tag with its value bytes.
type tag struct {
	num     uint8
	context bool
	open    bool
	close   bool
	lvt     uint32 // length, or the value of an application boolean
	val     []byte
}

// reader walks the tags of a service body; a malformed tag stops it.
type reader struct {
	b   []byte
	off int
	n   int
	bad string
}

func (r *reader) next() (tag, bool) {
	if r.off >= len(r.b) || r.n >= maxTags {
		return tag{}, false
	}
	r.n++
	h := r.b[r.off]
	r.off++
	t := tag{num: h >> 4, context: h&0x08 != 0, lvt: uint32(h & 7)}
	if t.num == 15 {
		if r.off >= len(r.b) {
			r.bad = "truncated extended tag number"
			return tag{}, false
		}
		t.num = r.b[r.off]
		r.off++
	}
	if t.context && t.lvt == 6 {
		t.open = true
		return t, true
	}
	if t.context && t.lvt == 7 {
		t.close = true
		return t, true
	}
	if !t.context && t.num == 1 { // boolean: the value is the lvt
		return t, true
	}
	if t.lvt == 5 {
		if r.off >= len(r.b) {
			r.bad = "truncated tag length"
			return tag{}, false
		}
		t.lvt = uint32(r.b[r.off])
		r.off++
		switch t.lvt {
		case 254:
			if len(r.b)-r.off < 2 {
				r.bad = "truncated tag length"
				return tag{}, false
			}
			t.lvt = uint32(binary.BigEndian.Uint16(r.b[r.off:]))
			r.off += 2
		case 255:
			if len(r.b)-r.off < 4 {
				r.bad = "truncated tag length"
				return tag{}, false
			}
			t.lvt = binary.BigEndian.Uint32(r.b[r.off:])
			r.off += 4
		}
	}
	if uint64(t.lvt) > uint64(len(r.b)-r.off) {
		r.bad = "tag longer than the apdu"
		return tag{}, false
	}
	t.val = r.b[r.off : r.off+int(t.lvt)]
	r.off += int(t.lvt)
	return t, true
}

// uint reads an unsigned or enumerated value (at most 4 bytes kept).
func (t tag) uint() uint32 {
	var v uint32
	for _, c := range t.val {
		v = v<<8 | uint32(c)
	}
	return v
}

// objectID splits an object identifier into type and instance.
func (t tag) objectID() (typ, inst uint32, ok bool) {
	if len(t.val) != 4 {
		return 0, 0, false
	}
	v := binary.BigEndian.Uint32(t.val)
	return v >> 22, v & 0x3fffff, true
}

// text renders a value for identity fields: a character string (UTF-8 and
// ISO 8859-1 are read, other sets shown as hex-free placeholders), an
// unsigned or an enumerated number.
func (t tag) text() (string, bool) {
	if t.context {
		return "", false
	}
	switch t.num {
	case 2, 9: // unsigned, enumerated
		return strconv.FormatUint(uint64(t.uint()), 10), true
	case 7: // character string: a set octet, then the bytes
		if len(t.val) < 1 {
			return "", true
		}
		s := t.val[1:]
		switch t.val[0] {
		case 0:
			if utf8.Valid(s) {
				return clean(string(s)), true
			}
			fallthrough
		case 5: // ISO 8859-1
			r := make([]rune, 0, len(s))
			for _, c := range s {
				r = append(r, rune(c))
			}
			return clean(string(r)), true
		}
		return "", false
	}
	return "", false
}

// clean drops control characters and trailing NULs and bounds the length.
func clean(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if c >= 0x20 && c != 0x7f {
			out = append(out, c)
		}
		if len(out) == 256 {
			break
		}
	}
	return string(out)
}

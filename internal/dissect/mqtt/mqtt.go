package mqtt

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "mqtt"

// Bounds of one flow.
const (
	// maxPacket is the largest packet buffered whole; a larger one is
	// decoded from its first prefixLen bytes and the rest skipped.
	maxPacket = 256 << 10
	prefixLen = 8 << 10
	maxStr    = 512
	maxTopics = 256
	// maxResync is how many segments after a gap are tried for a packet
	// boundary before the direction is given up.
	maxResync = 64
	// resyncScan bounds the offsets of one segment tried as a boundary.
	resyncScan = 2048
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the MQTT dissector.
type Dissector struct{}

// Proto returns "mqtt".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 1883 and 8883 (MQTT over TLS: recognised, not decoded).
func (Dissector) Ports() []dissect.Port {
	return []dissect.Port{{T: dissect.TCP, Port: 1883}, {T: dissect.TCP, Port: 8883}}
}

// Probe accepts a CONNECT whose protocol name is "MQTT" or "MQIsdp" with a
// known protocol level.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.TCP || len(b) < 2 || b[0] != 0x10 {
		return false
	}
	rem, n, ok := varint(b[1:])
	if !ok || n == 0 || rem < 10 {
		return false
	}
	v := b[1+n:]
	if len(v) < 2 {
		return false
	}
	l := int(binary.BigEndian.Uint16(v))
	if len(v) < 3+l || (l != 4 && l != 6) {
		return false
	}
	name, level := string(v[2:2+l]), v[2+l]
	return (name == "MQTT" && (level == 4 || level == 5)) || (name == "MQIsdp" && level == 3)
}

// varint decodes a remaining length: value, bytes used, and whether it is
// well-formed. n == 0 with ok means more bytes are needed.
func varint(b []byte) (v, n int, ok bool) {
	mul := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, true
		}
		v += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
		mul *= 128
	}
	return 0, 0, false
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type stream struct {
	buf     []byte
	skip    int
	started bool
	lost    bool // after a gap: looking for a packet boundary
	tries   int
	dead    bool
}

type parser struct {
	*out
	d       [2]stream
	version byte      // protocol level from CONNECT: 3, 4 or 5; 0 unknown
	topics  [8]string // recent topics: a flow publishes a few topics again and again
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	objs []dissect.Object
	val  [1]float64 // backing of a PUBLISH's value
}

// topic returns b as a string, from the recent topics when it is one.
func (p *parser) topic(b []byte) string {
	if len(b) > maxStr {
		b = b[:maxStr]
	}
	for _, t := range p.topics {
		if t == string(b) { // compares without converting
			return t
		}
	}
	s := string(b)
	copy(p.topics[1:], p.topics[:])
	p.topics[0] = s
	return s
}

// numeric reports whether b may be a number (the payload of many UNS and
// plain MQTT topics), so that only those pay for ParseFloat.
func numeric(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	c := b[0]
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'I' || c == 'N' || c == 'i' || c == 'n'
}

func (p *parser) Gap(dir dissect.Dir) {
	s := &p.d[dir&1]
	s.buf = s.buf[:0]
	s.skip = 0
	s.lost = true
	s.tries = 0
}

// isTLS tells whether b starts with a TLS record header: MQTT never does,
// since 0x14..0x17 would be a CONNECT or CONNACK with reserved flags set.
func isTLS(b []byte) bool {
	return len(b) >= 3 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 3 && b[2] <= 4
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	s := &p.d[m.Dir&1]
	if s.dead || len(b) == 0 {
		return
	}
	if !s.started {
		s.started = true
		if isTLS(b) {
			u := p.reset(m, "TLS")
			u.Variant = "tls"
			u.Action = dissect.ActConnect
			u.Request = m.Dir == dissect.ToServer
			u.Response = !u.Request
			emit(u)
			s.dead = true
			return
		}
	}
	if s.lost {
		if s.skip > 0 {
			n := min(s.skip, len(b))
			s.skip -= n
			b = b[n:]
		}
		i := boundary(b)
		if i < 0 {
			s.tries++
			if s.tries >= maxResync {
				s.dead = true
			}
			return
		}
		s.lost = false
		b = b[i:]
	}
	var work []byte
	if len(s.buf) == 0 {
		work = b
	} else {
		s.buf = append(s.buf, b...)
		work = s.buf
	}
	for len(work) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(work))
			s.skip -= n
			work = work[n:]
			continue
		}
		if len(work) < 2 {
			break
		}
		rem, n, ok := varint(work[1:])
		if !ok || work[0]>>4 == 0 {
			why := "remaining length longer than 4 bytes"
			if ok {
				why = "reserved packet type 0"
			}
			p.malformed(m, why, emit)
			s.dead = true
			s.buf = nil
			return
		}
		if n == 0 {
			break
		}
		size := 1 + n + rem
		if size <= maxPacket {
			if len(work) < size {
				break
			}
			p.packet(m, work[0], work[1+n:size], false, emit)
			work = work[size:]
			continue
		}
		if len(work) < prefixLen {
			break
		}
		p.packet(m, work[0], work[1+n:prefixLen], true, emit)
		s.skip = size - prefixLen
		work = work[prefixLen:]
	}
	if len(s.buf) == 0 {
		s.buf = append(s.buf, work...)
	} else {
		s.buf = s.buf[:copy(s.buf, work)]
	}
	if cap(s.buf) > 2*maxPacket && len(s.buf) < maxPacket {
		s.buf = append([]byte(nil), s.buf...)
	}
}

// boundary returns the first offset of b from which whole, well-formed
// fixed headers follow one another to exactly the end of b, or -1. After
// a gap it finds where packets start again, since senders end segments on
// packet boundaries far more often than not.
func boundary(b []byte) int {
	for i := 0; i < len(b) && i < resyncScan; i++ {
		j, k := i, 0
		for ; j < len(b) && k < 64; k++ {
			if !validFlags(b[j]) {
				break
			}
			rem, n, ok := varint(b[j+1:])
			if !ok || n == 0 {
				break
			}
			j += 1 + n + rem
		}
		if j == len(b) && k > 0 {
			return i
		}
	}
	return -1
}

// validFlags tells whether the first byte of a fixed header has the flags
// its packet type requires.
func validFlags(c byte) bool {
	t, f := c>>4, c&0x0f
	switch t {
	case 0:
		return false
	case 3:
		return f&0x06 != 0x06
	case 6, 8, 10:
		return f == 2
	}
	return f == 0
}

func (p *parser) reset(m dissect.Meta, name string) *dissect.PDU {
	p.objs = p.objs[:0]
	p.pdu = dissect.PDU{Proto: Proto, Name: name, Counting: dissect.CountNone, Meta: m, Variant: p.variant()}
	return &p.pdu
}

func (p *parser) variant() string {
	switch p.version {
	case 3:
		return "mqtt 3.1"
	case 4:
		return "mqtt 3.1.1"
	case 5:
		return "mqtt 5"
	}
	return ""
}

func (p *parser) malformed(m dissect.Meta, why string, emit func(*dissect.PDU)) {
	u := p.reset(m, "malformed")
	u.Malformed = why
	u.Request = m.Dir == dissect.ToServer
	u.Response = !u.Request
	emit(u)
}

var names = [16]string{"Reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// rd reads MQTT's big-endian fields; after a short read bad stays set.
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
	return binary.BigEndian.Uint16(r.b[r.p-2:])
}

func (r *rd) bin() []byte {
	n := int(r.u16())
	if !r.need(n) {
		return nil
	}
	r.p += n
	return r.b[r.p-n : r.p]
}

func (r *rd) str() string {
	v := r.bin()
	if len(v) > maxStr {
		v = v[:maxStr]
	}
	return string(v)
}

// props skips MQTT 5 properties (a length-prefixed block).
func (r *rd) props() {
	if r.bad {
		return
	}
	n, k, ok := varint(r.b[r.p:])
	if !ok || k == 0 {
		r.bad = true
		return
	}
	r.p += k
	if r.need(n) {
		r.p += n
	}
}

func (r *rd) left() int { return len(r.b) - r.p }

// packet decodes one packet: first byte c, body (truncated when cut).
func (p *parser) packet(m dissect.Meta, c byte, body []byte, cut bool, emit func(*dissect.PDU)) {
	t := c >> 4
	u := p.reset(m, names[t])
	u.Function, u.Counting = uint32(t), dissect.CountFunction
	if !validFlags(c) && t != 3 {
		u.Malformed = "reserved flags set in " + names[t]
	}
	r := rd{b: body}
	v5 := p.version == 5
	switch t {
	case 1: // CONNECT
		u.Request, u.Action = true, dissect.ActAuth
		proto := r.str()
		level := r.u8()
		flags := r.u8()
		keep := r.u16()
		if !r.bad && (level == 3 || level == 4 || level == 5) {
			p.version = level
			u.Variant = p.variant()
			v5 = level == 5
		}
		if v5 {
			r.props()
		}
		id := map[string]string{"protocol": proto, "keep_alive": strconv.Itoa(int(keep))}
		if r.bad {
			u.Malformed = "truncated CONNECT"
			break
		}
		if flags&0x01 != 0 {
			u.Malformed = "reserved CONNECT flag set"
		}
		id["client_id"] = r.str()
		id["clean_session"] = strconv.FormatBool(flags&0x02 != 0)
		if flags&0x04 != 0 {
			if v5 {
				r.props()
			}
			id["will_topic"] = r.str()
			r.bin()
			id["will_qos"] = strconv.Itoa(int(flags>>3) & 3)
		}
		if flags&0x80 != 0 {
			id["username"] = "present"
			r.bin()
		}
		if flags&0x40 != 0 {
			// The password is flagged, never stored.
			id["password"] = "present"
		}
		if r.bad && !cut {
			u.Malformed = "truncated CONNECT"
		}
		u.Identity = id
	case 2: // CONNACK
		u.Response, u.Action = true, dissect.ActAuth
		r.u8()
		rc := r.u8()
		if r.bad {
			u.Malformed = "truncated CONNACK"
		}
		u.Exception = uint32(rc)
	case 3: // PUBLISH
		u.Request = m.Dir == dissect.ToServer
		u.Action = dissect.ActData
		qos := (c >> 1) & 3
		if qos == 3 {
			u.Malformed = "invalid QoS 3 in PUBLISH"
		}
		topic := p.topic(r.bin())
		if qos > 0 {
			r.u16()
		}
		if v5 {
			r.props()
		}
		if r.bad {
			if !cut {
				u.Malformed = "truncated PUBLISH"
			}
			break
		}
		o := dissect.Object{Space: topic, Count: uint32(r.left())}
		if cut {
			o.Count = 0 // size unknown from a prefix; see doc
		}
		if pl := body[r.p:min(len(body), r.p+32)]; r.left() <= 32 && numeric(pl) {
			if v, err := strconv.ParseFloat(string(bytes.TrimSpace(pl)), 64); err == nil {
				p.val[0] = v
				o.Values = p.val[:]
			}
		}
		p.objs = append(p.objs, o)
		u.Objects = p.objs
		if strings.HasPrefix(topic, "spBv1.0/") {
			u.Variant = "sparkplug b"
			if parts := strings.SplitN(topic, "/", 4); len(parts) >= 3 && (parts[2] == "NCMD" || parts[2] == "DCMD") {
				u.Action = dissect.ActWrite
			}
		}
	case 4, 5, 6, 7: // PUBACK, PUBREC, PUBREL, PUBCOMP
		u.Response = t != 6
		u.Action = dissect.ActData
		r.u16()
		if r.bad {
			u.Malformed = "truncated " + names[t]
		} else if v5 && r.left() > 0 {
			if rc := r.u8(); rc >= 0x80 {
				u.Exception = uint32(rc)
			}
		}
	case 8, 10: // SUBSCRIBE, UNSUBSCRIBE
		u.Request, u.Action = true, dissect.ActSubscribe
		r.u16()
		if v5 {
			r.props()
		}
		for i := 0; i < maxTopics && r.left() > 0 && !r.bad; i++ {
			topic := r.str()
			if t == 8 {
				r.u8()
			}
			if !r.bad {
				p.objs = append(p.objs, dissect.Object{Space: topic, Count: 1})
			}
		}
		if r.bad && !cut {
			u.Malformed = "truncated " + names[t]
		}
		u.Objects = p.objs
	case 9, 11: // SUBACK, UNSUBACK
		u.Response, u.Action = true, dissect.ActSubscribe
		r.u16()
		if v5 {
			r.props()
		}
		if r.bad {
			u.Malformed = "truncated " + names[t]
			break
		}
		if t == 9 || v5 {
			for r.left() > 0 {
				if rc := r.u8(); rc >= 0x80 && u.Exception == 0 {
					u.Exception = uint32(rc)
				}
			}
		}
	case 12:
		u.Request = true
	case 13:
		u.Response = true
	case 14:
		u.Action = dissect.ActConnect
		if v5 && r.left() > 0 {
			if rc := r.u8(); rc >= 0x80 {
				u.Exception = uint32(rc)
			}
		}
	case 15:
		u.Action = dissect.ActAuth
	}
	emit(u)
}

// maxBuffered is the most a direction keeps between two Data calls.
const maxBuffered = maxPacket

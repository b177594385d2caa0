package dnp3

import (
	"encoding/binary"
	"fmt"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "dnp3"

const (
	startLo, startHi = 0x05, 0x64
	headerLen        = 10  // start, LEN, CTRL, DEST, SRC, CRC
	maxFrame         = 292 // LEN 255: 10 + 250 data bytes + 16 block CRCs
	// maxFragment bounds one reassembled application fragment. The
	// standard's default is 2048 bytes; real outstations stay well under
	// 16 KiB, and a peer announcing more is either broken or hostile.
	maxFragment = 16 << 10
	// maxReassembly bounds how many (source, destination) pairs of one
	// direction may have an unfinished fragment at the same time.
	maxReassembly = 8
	maxObjects    = 64  // object headers kept per PDU
	maxValues     = 256 // values kept per object
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the DNP3 dissector.
type Dissector struct{}

// Proto returns "dnp3".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP and UDP 20000.
func (Dissector) Ports() []dissect.Port {
	return []dissect.Port{{T: dissect.TCP, Port: 20000}, {T: dissect.UDP, Port: 20000}}
}

// Probe accepts a first payload that starts with a DNP3 link header whose
// CRC is right: 0x0564, a length of at least 5 and a valid 16-bit check
// over 8 bytes, which random data passes about once in 2^32.
func (Dissector) Probe(_ dissect.Transport, b []byte) bool {
	return len(b) >= headerLen && b[0] == startLo && b[1] == startHi && b[2] >= 5 && crcOK(b[:8], b[8:10])
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type fragment struct {
	src, dst uint16
	seq      uint8
	used     bool
	data     []byte
}

type parser struct {
	*out
	buf  [2][]byte // unfinished link frame bytes per TCP direction
	junk [2]bool   // skipping garbage: reported once per run
	// frags reassembles application fragments sent in several transport
	// segments; made on the first such segment, as most flows send every
	// fragment in one.
	frags [2]*[maxReassembly]fragment
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	ud    []byte // user data of one frame without CRCs
	pdu   dissect.PDU
	objs  []dissect.Object
	vals  []float64
	ident map[string]string
}

func (p *parser) Gap(dir dissect.Dir) {
	d := dir & 1
	p.buf[d] = p.buf[d][:0]
	p.junk[d] = false
	if fs := p.frags[d]; fs != nil {
		for i := range fs {
			fs[i].used = false
			fs[i].data = fs[i].data[:0]
		}
	}
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	d := m.Dir & 1
	if m.T == dissect.UDP {
		// A datagram carries whole frames; a partial one at the end is lost.
		if n := p.frames(m, b, emit); n < len(b) {
			p.malformed(m, emit, fmt.Sprintf("datagram ends inside a link frame (%d bytes left)", len(b)-n))
		}
		return
	}
	// Feed the pending frame at most one frame's worth at a time, so the
	// buffer stays under maxFrame bytes; once it is empty, parse straight
	// from b without copying.
	buf := p.buf[d]
	for len(b) > 0 {
		if len(buf) == 0 {
			n := p.frames(m, b, emit)
			buf = append(buf, b[n:]...)
			break
		}
		k := min(len(b), maxFrame-len(buf))
		buf = append(buf, b[:k]...)
		b = b[k:]
		n := p.frames(m, buf, emit)
		buf = buf[:copy(buf, buf[n:])]
	}
	p.buf[d] = buf
}

// frames parses whole link frames from b and returns how many bytes it
// consumed; the rest is the start of an unfinished frame (fewer than
// maxFrame bytes).
func (p *parser) frames(m dissect.Meta, b []byte, emit func(*dissect.PDU)) int {
	off := 0
	for off < len(b) {
		rest := b[off:]
		if rest[0] != startLo || (len(rest) > 1 && rest[1] != startHi) {
			// One malformed PDU per run of garbage, however it is segmented.
			if !p.junk[m.Dir&1] {
				p.junk[m.Dir&1] = true
				p.malformed(m, emit, "garbage before a link frame start 0x0564")
			}
			off += resync(rest)
			continue
		}
		if len(rest) < headerLen {
			return off
		}
		if !crcOK(rest[:8], rest[8:10]) {
			p.malformed(m, emit, "bad link header crc")
			off += 2
			continue
		}
		ln := int(rest[2])
		if ln < 5 {
			p.malformed(m, emit, fmt.Sprintf("link length %d below 5", ln))
			off += headerLen
			continue
		}
		udLen := ln - 5
		size := headerLen + udLen + 2*((udLen+15)/16)
		if len(rest) < size {
			return off
		}
		p.junk[m.Dir&1] = false
		p.frame(m, rest[:size], udLen, emit)
		off += size
	}
	return off
}

// resync returns how many bytes to drop to reach the next possible frame
// start; a trailing 0x05 is kept since its 0x64 may be in the next segment.
func resync(b []byte) int {
	for i := 1; i < len(b); i++ {
		if b[i] == startLo && (i+1 == len(b) || b[i+1] == startHi) {
			return i
		}
	}
	return len(b)
}

// frame handles one link frame whose header CRC is right.
func (p *parser) frame(m dissect.Meta, f []byte, udLen int, emit func(*dissect.PDU)) {
	ctrl := f[3]
	dst := binary.LittleEndian.Uint16(f[4:6])
	src := binary.LittleEndian.Uint16(f[6:8])
	fromMaster := ctrl&0x80 != 0
	prm := ctrl&0x40 != 0
	lfc := ctrl & 0x0f
	unit := uint32(src)
	if fromMaster {
		unit = uint32(dst)
	}
	p.ud = p.ud[:0]
	for i, blk := headerLen, 0; blk < udLen; blk += 16 {
		n := min(16, udLen-blk)
		if !crcOK(f[i:i+n], f[i+n:i+n+2]) {
			p.reset(m)
			p.pdu.Unit = unit
			p.pdu.Malformed = fmt.Sprintf("bad crc in data block %d", blk/16)
			emit(&p.pdu)
			return
		}
		p.ud = append(p.ud, f[i:i+n]...)
		i += n + 2
	}
	if !prm || (lfc != 3 && lfc != 4) || len(p.ud) == 0 {
		// A link-layer-only frame: tshark shows no dnp3.al.func for it.
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Function = uint32(lfc)
		p.pdu.Name = linkName(prm, lfc)
		p.pdu.Unit = unit
		p.pdu.Request = prm
		p.pdu.Response = !prm
		p.pdu.Variant = "link"
		emit(&p.pdu)
		return
	}
	th := p.ud[0]
	fin, fir, seq := th&0x80 != 0, th&0x40 != 0, th&0x3f
	seg := p.ud[1:]
	d := m.Dir & 1
	if fir && fin {
		// A whole fragment in one segment, the common case: dissected in
		// place; it ends any reassembly of the same addresses.
		if fr := p.slot(d, src, dst, false); fr != nil {
			fr.used, fr.data = false, fr.data[:0]
		}
		p.application(m, seg, fromMaster, unit, emit)
		return
	}
	fr := p.slot(d, src, dst, fir)
	switch {
	case fir:
		fr.used, fr.src, fr.dst, fr.seq = true, src, dst, seq
		fr.data = append(fr.data[:0], seg...)
	case fr != nil && fr.used && seq == (fr.seq+1)&0x3f:
		fr.seq = seq
		if len(fr.data)+len(seg) > maxFragment {
			fr.used, fr.data = false, fr.data[:0]
			p.malformed(m, emit, fmt.Sprintf("application fragment exceeds %d bytes", maxFragment))
			return
		}
		fr.data = append(fr.data, seg...)
	default:
		if fr != nil {
			fr.used, fr.data = false, fr.data[:0]
		}
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Unit = unit
		p.pdu.Malformed = fmt.Sprintf("transport segment seq %d without its first segment", seq)
		emit(&p.pdu)
		return
	}
	if !fin {
		return
	}
	p.application(m, fr.data, fromMaster, unit, emit)
	fr.used, fr.data = false, fr.data[:0]
}

// slot finds the reassembly state of (src, dst); on a first segment it
// takes a free or the oldest slot so the number of states stays bounded.
func (p *parser) slot(d dissect.Dir, src, dst uint16, first bool) *fragment {
	fs := p.frags[d]
	if fs == nil {
		if !first {
			return nil
		}
		fs = new([maxReassembly]fragment)
		p.frags[d] = fs
	}
	var free *fragment
	for i := range fs {
		f := &fs[i]
		if f.used && f.src == src && f.dst == dst {
			return f
		}
		if !f.used && free == nil {
			free = f
		}
	}
	if !first {
		return nil
	}
	if free == nil {
		free = &fs[0]
	}
	return free
}

func (p *parser) reset(m dissect.Meta) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m, Objects: p.objs[:0]}
	p.objs = p.objs[:0]
	p.vals = p.vals[:0]
	p.ident = nil
}

func (p *parser) malformed(m dissect.Meta, emit func(*dissect.PDU), why string) {
	p.reset(m)
	p.pdu.Counting = dissect.CountNone
	p.pdu.Malformed = why
	emit(&p.pdu)
}

func linkName(prm bool, fc byte) string {
	if prm {
		switch fc {
		case 0:
			return "Reset Link States"
		case 1:
			return "Reset User Process"
		case 2:
			return "Test Link States"
		case 3:
			return "Confirmed User Data"
		case 4:
			return "Unconfirmed User Data"
		case 9:
			return "Request Link Status"
		}
		return fmt.Sprintf("Link Function %d", fc)
	}
	switch fc {
	case 0:
		return "ACK"
	case 1:
		return "NACK"
	case 11:
		return "Link Status"
	case 15:
		return "Link Service Not Supported"
	}
	return fmt.Sprintf("Link Function %d", fc)
}

package s7comm

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "s7comm"

// Port is the ISO-on-TCP port.
const Port = 102

const (
	tpktHeader = 4
	// maxTPKT bounds a buffered TPKT frame. S7 negotiates PDUs of at most
	// 960 bytes (S7-1500: 1920); S7comm-plus frames stay under 4 KiB in
	// practice. A larger frame is skipped without buffering.
	maxTPKT = 8192
	// maxCOTP bounds a COTP DT reassembly (TPDUs without EOT).
	maxCOTP = 16384
	maxObjs = 64
	maxVals = 256
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the S7comm dissector.
type Dissector struct{}

// Proto returns "s7comm".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 102.
func (Dissector) Ports() []dissect.Port { return []dissect.Port{{T: dissect.TCP, Port: Port}} }

// Probe accepts a TPKT version 3 header whose length covers a COTP
// connection request or a DT TPDU carrying S7 (0x32) or S7comm-plus (0x72).
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.TCP || !plausibleTPKT(b) || len(b) < 7 {
		return false
	}
	li := int(b[4])
	switch b[5] & 0xF0 {
	case 0xE0: // CR
		return li >= 6 && tpktHeader+1+li <= len(b)
	case 0xF0: // DT
		off := tpktHeader + 1 + li
		return li == 2 && off < len(b) && (b[off] == 0x32 || b[off] == 0x72)
	}
	return false
}

func plausibleTPKT(b []byte) bool {
	if len(b) < tpktHeader || b[0] != 3 || b[1] != 0 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	return n >= tpktHeader+3
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type stream struct {
	buf    []byte // unfinished TPKT frame, at most maxTPKT bytes
	skip   int    // bytes of an oversized frame still to drop
	cotp   []byte // COTP DT payload awaiting EOT, at most maxCOTP bytes
	resync bool
}

type parser struct {
	*out
	dir [2]stream
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	objs []dissect.Object
	vals []float64
	id   map[string]string
}

func (p *parser) Gap(d dissect.Dir) {
	if d > dissect.ToClient {
		return
	}
	s := &p.dir[d]
	s.buf, s.cotp, s.skip = s.buf[:0], s.cotp[:0], 0
	s.resync = true
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	if m.Dir > dissect.ToClient {
		return
	}
	s := &p.dir[m.Dir]
	if s.resync {
		// Resynchronise where a chunk (a TCP segment) starts.
		if !plausibleTPKT(b) {
			return
		}
		s.resync = false
	}
	for len(b) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(b))
			s.skip -= n
			b = b[n:]
			continue
		}
		if len(s.buf) > 0 || len(b) < tpktHeader {
			// Accumulate the header, then the frame.
			need := tpktHeader
			if len(s.buf) >= tpktHeader {
				need = int(binary.BigEndian.Uint16(s.buf[2:]))
			}
			c := min(need-len(s.buf), len(b))
			s.buf = append(s.buf, b[:c]...)
			b = b[c:]
			if len(s.buf) == tpktHeader {
				if !p.header(m, s, s.buf, emit) {
					s.buf = s.buf[:0]
					return
				}
				if s.skip > 0 {
					s.buf = s.buf[:0]
				}
				continue
			}
			if len(s.buf) >= tpktHeader && len(s.buf) == int(binary.BigEndian.Uint16(s.buf[2:])) {
				p.frame(m, s, s.buf, emit)
				s.buf = s.buf[:0]
			}
			continue
		}
		if !p.header(m, s, b, emit) {
			return
		}
		if s.skip > 0 {
			n := min(s.skip, len(b))
			s.skip -= n
			b = b[n:]
			continue
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b) {
			s.buf = append(s.buf[:0], b...)
			return
		}
		p.frame(m, s, b[:n], emit)
		b = b[n:]
	}
}

// header checks a TPKT header; on garbage it reports once and drops the
// direction into resync. An oversized frame is reported and skipped.
func (p *parser) header(m dissect.Meta, s *stream, h []byte, emit func(*dissect.PDU)) bool {
	if !plausibleTPKT(h) {
		s.resync = true
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Name = "bad TPKT header"
		p.pdu.Malformed = "bad TPKT header: version not 3 or length too short"
		emit(&p.pdu)
		return false
	}
	if n := int(binary.BigEndian.Uint16(h[2:])); n > maxTPKT {
		s.skip = n
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Name = "oversized TPKT frame"
		p.pdu.Malformed = "TPKT frame of " + strconv.Itoa(n) + " bytes exceeds the dissector's limit"
		emit(&p.pdu)
	}
	return true
}

func (p *parser) reset(m dissect.Meta) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m, Request: m.Dir == dissect.ToServer, Response: m.Dir == dissect.ToClient}
	p.objs = p.objs[:0]
	p.vals = p.vals[:0]
	clear(p.id)
}

// frame dissects one whole TPKT frame: COTP, then S7.
func (p *parser) frame(m dissect.Meta, s *stream, f []byte, emit func(*dissect.PDU)) {
	if len(f) < tpktHeader+2 {
		return
	}
	li := int(f[4])
	if tpktHeader+1+li > len(f) {
		p.malformed(m, "COTP length indicator beyond the TPKT frame", emit)
		return
	}
	switch f[5] & 0xF0 {
	case 0xE0, 0xD0, 0x80: // CR, CC, DR
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Action = dissect.ActConnect
		p.pdu.Name = map[byte]string{0xE0: "COTP connection request", 0xD0: "COTP connection confirm", 0x80: "COTP disconnect request"}[f[5]&0xF0]
		emit(&p.pdu)
		return
	case 0xF0:
	default:
		return
	}
	if li < 2 {
		p.malformed(m, "COTP DT header too short", emit)
		return
	}
	eot := f[6]&0x80 != 0
	data := f[tpktHeader+1+li:]
	if !eot || len(s.cotp) > 0 {
		if len(s.cotp)+len(data) > maxCOTP {
			s.cotp = s.cotp[:0]
			p.malformed(m, "COTP reassembly exceeds the dissector's limit", emit)
			return
		}
		s.cotp = append(s.cotp, data...)
		if !eot {
			return
		}
		data = s.cotp
		defer func() { s.cotp = s.cotp[:0] }()
	}
	if len(data) == 0 {
		return
	}
	switch data[0] {
	case 0x32:
		p.s7(m, data, emit)
	case 0x72:
		p.plus(m, data, emit)
	}
}

func (p *parser) malformed(m dissect.Meta, why string, emit func(*dissect.PDU)) {
	p.reset(m)
	p.pdu.Counting = dissect.CountNone
	p.pdu.Malformed = why
	emit(&p.pdu)
}

// ROSCTR values.
const (
	rosJob      = 1
	rosAck      = 2
	rosAckData  = 3
	rosUserdata = 7
)

// s7 dissects one S7comm PDU.
func (p *parser) s7(m dissect.Meta, d []byte, emit func(*dissect.PDU)) {
	p.reset(m)
	p.pdu.Variant = ""
	if len(d) < 10 {
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "S7 header truncated"
		emit(&p.pdu)
		return
	}
	ros := d[1]
	hl := 10
	if ros == rosAck || ros == rosAckData {
		hl = 12
	}
	if len(d) < hl {
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "S7 header truncated"
		emit(&p.pdu)
		return
	}
	pl := int(binary.BigEndian.Uint16(d[6:]))
	dl := int(binary.BigEndian.Uint16(d[8:]))
	if hl == 12 {
		p.pdu.Exception = uint32(d[10])<<8 | uint32(d[11])
	}
	par := d[hl:]
	var dat []byte
	if hl+pl > len(d) {
		p.pdu.Malformed = "S7 parameter length beyond the PDU"
		par = par[:0]
	} else {
		par = d[hl : hl+pl]
		dat = d[hl+pl:]
		if dl <= len(dat) {
			dat = dat[:dl]
		} else {
			p.pdu.Malformed = "S7 data length beyond the PDU"
		}
	}
	switch ros {
	case rosJob, rosAckData:
		p.pdu.Request, p.pdu.Response = ros == rosJob, ros == rosAckData
		if len(par) == 0 {
			p.pdu.Counting = dissect.CountNone
			p.pdu.Name = "job without parameter"
			if p.pdu.Malformed == "" {
				p.pdu.Malformed = "S7 job without parameter"
			}
			emit(&p.pdu)
			return
		}
		fn := par[0]
		p.pdu.Function = uint32(fn)
		p.pdu.Counting = dissect.CountFunction
		p.pdu.Name = funcName(fn)
		p.pdu.Action = funcAction(fn)
		switch fn {
		case 0x04, 0x05:
			if ros == rosJob {
				p.items(par, dat, fn == 0x05)
			}
		case 0x28, 0x29:
			if ros == rosJob {
				p.piService(fn, par)
			}
		case 0x1a, 0x1b, 0x1d:
			if ros == rosJob {
				p.blockName(par)
			}
		}
	case rosAck:
		p.pdu.Response, p.pdu.Request = true, false
		p.pdu.Counting = dissect.CountNone
		p.pdu.Name = "ack"
	case rosUserdata:
		p.userdata(par, dat)
	default:
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "unknown ROSCTR " + strconv.Itoa(int(ros))
	}
	emit(&p.pdu)
}

var funcNames = [256]string{
	0x00: "cpu services", 0x04: "read var", 0x05: "write var", 0xf0: "setup communication",
	0x1a: "request download", 0x1b: "download block", 0x1c: "download ended",
	0x1d: "start upload", 0x1e: "upload", 0x1f: "end upload", 0x28: "PI service", 0x29: "PLC stop",
}

func funcName(fn byte) string {
	if n := funcNames[fn]; n != "" {
		return n
	}
	return fmt.Sprintf("function 0x%02x", fn)
}

func funcAction(fn byte) dissect.Action {
	switch fn {
	case 0x04:
		return dissect.ActRead
	case 0x05:
		return dissect.ActWrite
	case 0xf0:
		return dissect.ActConnect
	case 0x1a, 0x1b, 0x1c:
		return dissect.ActDownload
	case 0x1d, 0x1e, 0x1f:
		return dissect.ActUpload
	case 0x29:
		return dissect.ActStop
	}
	return dissect.ActOther
}

var areas = map[byte]string{
	0x03: "SI", 0x05: "S5", 0x06: "AI", 0x07: "AO", 0x1c: "C", 0x1d: "T", 0x1e: "IEC counter", 0x1f: "IEC timer",
	0x80: "P", 0x81: "I", 0x82: "Q", 0x83: "M", 0x84: "DB", 0x85: "DI", 0x86: "L", 0x87: "V",
}

// items decodes the S7ANY items of a read or write var job, and the values
// of a write.
func (p *parser) items(par, dat []byte, write bool) {
	if len(par) < 2 {
		p.pdu.Malformed = "read/write var parameter truncated"
		return
	}
	n := int(par[1])
	it := par[2:]
	for i := 0; i < n; i++ {
		if len(it) < 2 || len(it) < 2+int(it[1]) {
			p.pdu.Malformed = "read/write var item truncated"
			return
		}
		l := int(it[1])
		if it[0] == 0x12 && l == 10 && it[2] == 0x10 && len(p.objs) < maxObjs {
			ts := it[3]
			cnt := binary.BigEndian.Uint16(it[4:])
			db := binary.BigEndian.Uint16(it[6:])
			area := it[8]
			addr := uint32(it[9])<<16 | uint32(it[10])<<8 | uint32(it[11])
			sp := areaSpace(area, db)
			start := addr >> 3 // byte address; bit accesses keep the byte
			if ts == 0x01 {
				start = addr // bit: the bit address
			}
			p.objs = append(p.objs, dissect.Object{Space: sp, Start: start, Count: uint32(cnt)})
		}
		it = it[2+l:]
	}
	if write {
		p.writeValues(dat)
	}
	p.pdu.Objects = p.objs
}

// writeValues attaches the data items of a write var job to its objects:
// one value per byte (per bit for bit accesses).
func (p *parser) writeValues(dat []byte) {
	for i := range p.objs {
		if len(dat) < 4 {
			return
		}
		ts := dat[1]
		l := int(binary.BigEndian.Uint16(dat[2:]))
		if ts == 0x03 || ts == 0x04 || ts == 0x05 { // bit, byte/word/dword, integer: length in bits
			l = (l + 7) / 8
		}
		if 4+l > len(dat) {
			return
		}
		start := len(p.vals)
		for _, v := range dat[4 : 4+l] {
			if len(p.vals) >= maxVals {
				break
			}
			p.vals = append(p.vals, float64(v))
		}
		p.objs[i].Values = p.vals[start:len(p.vals):len(p.vals)]
		adv := 4 + l
		if adv%2 == 1 && adv < len(dat) {
			adv++
		}
		dat = dat[adv:]
	}
}

// piService reads the PI service name of 0x28 (after a parameter block)
// and the one of 0x29 (PLC stop).
func (p *parser) piService(fn byte, par []byte) {
	var name []byte
	switch fn {
	case 0x28:
		if len(par) < 10 {
			return
		}
		pb := int(binary.BigEndian.Uint16(par[8:]))
		o := 10 + pb
		if o >= len(par) {
			return
		}
		n := int(par[o])
		if o+1+n > len(par) {
			return
		}
		name = par[o+1 : o+1+n]
	case 0x29:
		if len(par) < 7 {
			return
		}
		n := int(par[6])
		if 7+n > len(par) {
			return
		}
		name = par[7 : 7+n]
	}
	svc := string(name)
	if fn == 0x28 {
		p.pdu.Name = "PI service " + svc
		switch svc {
		case "P_PROGRAM", "_PROGRAM":
			p.pdu.Action = dissect.ActStart
		case "_INSE", "_INSI", "_DELE":
			p.pdu.Action = dissect.ActDownload
		case "_MODU", "_GARB", "_EXEC":
			p.pdu.Action = dissect.ActOther
		}
	} else {
		p.pdu.Name = "PLC stop " + svc
	}
	p.objs = append(p.objs, dissect.Object{Space: "PI " + svc})
	p.pdu.Objects = p.objs
}

// blockName records the block of a download or upload job: a file name
// like "_0A00001P" (type 0A = DB, number 00001).
func (p *parser) blockName(par []byte) {
	// func, status, 2 unknown, 4 upload id, filename length, filename.
	if len(par) < 9 {
		return
	}
	n := int(par[8])
	if 9+n > len(par) || n < 9 {
		return
	}
	f := par[9 : 9+n]
	num, err := strconv.Atoi(string(f[3:8]))
	if err != nil {
		return
	}
	typ := map[string]string{"08": "OB", "0A": "DB", "0B": "SDB", "0C": "FC", "0D": "SFC", "0E": "FB", "0F": "SFB"}[string(f[1:3])]
	if typ == "" {
		typ = "block " + string(f[1:3])
	}
	p.objs = append(p.objs, dissect.Object{Space: typ, Start: uint32(num), Count: 1})
	p.pdu.Objects = p.objs
}

// userdata dissects a userdata PDU. tshark shows no s7comm.param.func for
// them, so they are not counted; Function holds group<<8 | subfunction.
func (p *parser) userdata(par, dat []byte) {
	p.pdu.Counting = dissect.CountNone
	if len(par) < 8 || par[0] != 0 || par[1] != 1 || par[2] != 0x12 {
		p.pdu.Name = "userdata"
		if p.pdu.Malformed == "" {
			p.pdu.Malformed = "userdata parameter header invalid"
		}
		return
	}
	typ := par[5] >> 4
	grp := par[5] & 0x0F
	sub := par[6]
	p.pdu.Request, p.pdu.Response = typ == 4, typ == 8 || typ == 0
	p.pdu.Function = uint32(grp)<<8 | uint32(sub)
	gname := groupNames[grp]
	if gname == "" {
		gname = "group " + strconv.Itoa(int(grp))
	}
	p.pdu.Name = gname + " subfunction " + strconv.Itoa(int(sub))
	switch grp {
	case 1:
		p.pdu.Action = dissect.ActModeChange
	case 2:
		p.pdu.Action = dissect.ActSubscribe
	case 3:
		p.pdu.Action = dissect.ActIdentify // block list / info: a directory listing
	case 4:
		switch sub {
		case 1:
			p.pdu.Name = "read SZL"
			p.pdu.Action = dissect.ActIdentify
			p.szl(dat)
		case 2:
			p.pdu.Action = dissect.ActSubscribe // message service
		}
	case 5:
		p.pdu.Action = dissect.ActAuth
	case 7:
		switch sub {
		case 1, 3:
			p.pdu.Name = "read clock"
			p.pdu.Action = dissect.ActRead
		case 2, 4:
			p.pdu.Name = "set clock"
			p.pdu.Action = dissect.ActTimeSet
		}
	}
}

var groupNames = [256]string{0: "mode transition", 1: "programmer commands", 2: "cyclic data", 3: "block functions", 4: "CPU functions", 5: "security", 6: "PBC BSEND/BRECV", 7: "time functions", 0xf: "NC programming"}

// szl reads the SZL id and index of a read SZL request or response and,
// from responses of SZL 0x0011 and 0x001C, the module identity.
func (p *parser) szl(dat []byte) {
	if len(dat) < 8 || dat[0] != 0xFF {
		return
	}
	l := int(binary.BigEndian.Uint16(dat[2:]))
	d := dat[4:]
	if l < len(d) {
		d = d[:l]
	}
	if len(d) < 4 {
		return
	}
	id := binary.BigEndian.Uint16(d)
	idx := binary.BigEndian.Uint16(d[2:])
	p.objs = append(p.objs, dissect.Object{Space: fmt.Sprintf("SZL 0x%04x", id), Start: uint32(idx), Count: 1})
	p.pdu.Objects = p.objs
	if !p.pdu.Response || len(d) < 8 {
		return
	}
	rl := int(binary.BigEndian.Uint16(d[4:]))
	nr := int(binary.BigEndian.Uint16(d[6:]))
	recs := d[8:]
	if rl < 2 {
		return
	}
	for i := 0; i < nr && len(recs) >= rl && i < 64; i++ {
		r := recs[:rl]
		recs = recs[rl:]
		ri := binary.BigEndian.Uint16(r)
		switch id & 0xFF {
		case 0x11:
			if rl < 28 {
				continue
			}
			order := text(r[2:22])
			switch ri {
			case 1:
				p.identity("order_number", order)
			case 6:
				p.identity("hardware", order)
			case 7:
				if r[22+2] == 'V' {
					p.identity("firmware", fmt.Sprintf("V%d.%d.%d", r[25], r[26], r[27]))
				}
			}
		case 0x1c:
			v := text(r[2:])
			switch ri {
			case 1:
				p.identity("name", v)
			case 2:
				p.identity("module", v)
			case 3:
				p.identity("plant", v)
			case 4:
				p.identity("copyright", v)
			case 5:
				p.identity("serial", v)
			case 7:
				p.identity("module_type", v)
			case 8:
				p.identity("memory_serial", v)
			}
		}
	}
}

func (p *parser) identity(k, v string) {
	if v == "" {
		return
	}
	if p.id == nil {
		p.id = map[string]string{}
	}
	p.id[k] = v
	p.pdu.Identity = p.id
}

// text returns the printable text of a fixed-size, zero or blank padded
// field.
func text(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		if c >= 0x20 && c < 0x7f {
			s.WriteByte(c)
		}
	}
	return strings.TrimSpace(s.String())
}

// plus labels an S7comm-plus PDU: version, then (outside the integrity
// part of version 3) opcode and function. It is not counted: tshark has no
// S7comm-plus dissector.
func (p *parser) plus(m dissect.Meta, d []byte, emit func(*dissect.PDU)) {
	p.reset(m)
	p.pdu.Variant = "s7comm-plus"
	p.pdu.Counting = dissect.CountNone
	if len(d) < 4 {
		p.pdu.Malformed = "S7comm-plus header truncated"
		emit(&p.pdu)
		return
	}
	ver := d[1]
	b := d[4:]
	if ver == 3 && len(b) > 0 && int(b[0])+1 <= len(b) { // integrity digest
		b = b[1+int(b[0]):]
	}
	p.pdu.Name = "S7comm-plus v" + strconv.Itoa(int(ver))
	if len(b) >= 5 {
		op := b[0]
		fn := binary.BigEndian.Uint16(b[3:])
		p.pdu.Function = uint32(fn)
		switch op {
		case 0x31:
			p.pdu.Request, p.pdu.Response = true, false
		case 0x32:
			p.pdu.Request, p.pdu.Response = false, true
		}
		n := plusFuncs[fn]
		if n == "" {
			n = fmt.Sprintf("function 0x%04x", fn)
		}
		p.pdu.Name += fmt.Sprintf(" opcode 0x%02x %s", op, n)
		if fn == 0x04ca || fn == 0x04d4 {
			p.pdu.Action = dissect.ActConnect
		}
	}
	emit(&p.pdu)
}

var plusFuncs = map[uint16]string{
	0x04bb: "explore", 0x04ca: "create object", 0x04d4: "delete object", 0x04f2: "set variable",
	0x0524: "get variable", 0x0542: "set multi variables", 0x054c: "get multi variables",
	0x0556: "begin sequence", 0x0560: "end sequence", 0x056b: "invoke", 0x0586: "get var subStreamed",
}

// spaceNames caches areaSpace's names for all flows: "DB12" is built once
// per process, not once per read.
var spaceNames dissect.Names

// areaSpace names an item's memory area: "M", "DB12", "area 0x1f".
func areaSpace(area byte, db uint16) string {
	k := uint64(area)
	if area == 0x84 || area == 0x85 {
		k |= 1<<8 | uint64(db)<<16
	}
	if s := spaceNames.Get(k); s != "" {
		return s
	}
	sp, ok := areas[area]
	if !ok {
		sp = fmt.Sprintf("area 0x%02x", area)
	}
	if area == 0x84 || area == 0x85 {
		sp += strconv.Itoa(int(db))
	}
	return spaceNames.Put(k, sp)
}

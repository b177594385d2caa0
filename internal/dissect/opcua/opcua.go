package opcua

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "opcua"

// Bounds of one flow.
const (
	// maxChunk is the largest chunk buffered whole. Larger chunks are
	// decoded from their first prefixLen bytes and the rest is skipped
	// without buffering.
	maxChunk  = 256 << 10
	prefixLen = 16 << 10
	// maxMessage bounds a message reassembled from C chunks; beyond it the
	// message is decoded from what was kept.
	maxMessage = 1 << 20
	// maxSane is the largest message size taken for a header: UA TCP
	// limits a chunk to what was agreed in HEL/ACK, never near this.
	maxSane = 64 << 20
	// maxBad malformed episodes end the parsing of a direction.
	maxBad = 8
	// maxPending bounds the Read requests remembered to label responses.
	maxPending = 64
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the OPC UA binary dissector.
type Dissector struct{}

// Proto returns "opcua".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 4840.
func (Dissector) Ports() []dissect.Port { return []dissect.Port{{T: dissect.TCP, Port: 4840}} }

// Probe accepts a UA TCP Hello (or a server's ReverseHello) whose declared
// size matches its endpoint URL exactly.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.TCP || len(b) < 32 || b[3] != 'F' {
		return false
	}
	size := int(binary.LittleEndian.Uint32(b[4:]))
	switch string(b[:3]) {
	case "HEL":
		n := int(int32(binary.LittleEndian.Uint32(b[28:])))
		if n < 0 || n > 4096 || size != 32+n {
			return false
		}
		return n == 0 || len(b) < 32+4 || strings.HasPrefix(string(b[32:min(len(b), 36)]), "opc.")
	case "RHE":
		return size >= 16 && size <= 8192
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

// stream is the state of one direction.
type stream struct {
	buf    []byte
	skip   int  // bytes of an oversize chunk still to discard
	resync bool // scanning for a header after garbage
	strict bool // after a gap: the next message must start with a known service
	bad    int
	dead   bool

	// message reassembly from C chunks
	msg     []byte
	msgOn   bool
	msgReq  uint32
	msgType string
	msgCut  bool
}

type parser struct {
	*out
	d      [2]stream
	secure int8 // 0 unknown, 1 policy None, 2 a security policy
	// pending maps a Read request handle to the node ids it reads, so the
	// response's values can be labelled.
	pending map[uint32][]nodeID
	freeIDs [][]nodeID // node id slices of answered reads, for reuse
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu   dissect.PDU
	objs  []dissect.Object
	vals  []float64
	store []float64 // backing of the objects' values, reused per PDU
}

func validType(b []byte) bool {
	switch string(b[:3]) {
	case "HEL", "ACK", "ERR", "RHE":
		return b[3] == 'F'
	case "OPN", "MSG", "CLO":
		return b[3] == 'F' || b[3] == 'C' || b[3] == 'A'
	}
	return false
}

// header checks a chunk header and returns its size, or 0.
func header(b []byte) int {
	if !validType(b) {
		return 0
	}
	size := int(binary.LittleEndian.Uint32(b[4:]))
	minSize := 8
	switch string(b[:3]) {
	case "HEL":
		minSize = 32
	case "ACK":
		minSize = 28
	case "ERR", "MSG", "CLO":
		minSize = 16
	case "OPN":
		minSize = 12
	}
	if size < minSize || size > maxSane {
		return 0
	}
	return size
}

func (p *parser) Gap(dir dissect.Dir) {
	s := &p.d[dir&1]
	s.buf = s.buf[:0]
	s.skip = 0
	s.msgOn = false
	s.msg = s.msg[:0]
	s.resync = true
	s.strict = true
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	s := &p.d[m.Dir&1]
	if s.dead || len(b) == 0 {
		return
	}
	var work []byte
	if len(s.buf) == 0 {
		work = b
	} else {
		s.buf = append(s.buf, b...)
		work = s.buf
	}
	for len(work) > 0 && !s.dead {
		if s.skip > 0 {
			n := min(s.skip, len(work))
			s.skip -= n
			work = work[n:]
			continue
		}
		if s.resync {
			i := findHeader(work)
			if i < 0 {
				if len(work) > 7 {
					work = work[len(work)-7:]
				}
				break
			}
			work = work[i:]
			s.resync = false
		}
		if len(work) < 8 {
			break
		}
		size := header(work)
		if size == 0 {
			p.malformed(m, "not a UA TCP message header: "+printable(work[:4]), emit)
			s.bad++
			if s.bad >= maxBad {
				s.dead = true
				break
			}
			s.resync = true
			work = work[1:]
			continue
		}
		if size <= maxChunk {
			if len(work) < size {
				break
			}
			p.chunk(m, s, work[:size], false, emit)
			work = work[size:]
			continue
		}
		if len(work) < prefixLen {
			break
		}
		p.chunk(m, s, work[:prefixLen], true, emit)
		s.skip = size - prefixLen
		work = work[prefixLen:]
	}
	if s.dead {
		s.buf = nil
		s.msg = nil
		return
	}
	// Keep the unfinished rest; work may alias s.buf (copy is a memmove).
	if len(s.buf) == 0 {
		s.buf = append(s.buf, work...)
	} else {
		s.buf = s.buf[:copy(s.buf, work)]
	}
	if cap(s.buf) > 2*maxChunk && len(s.buf) < maxChunk {
		s.buf = append([]byte(nil), s.buf...)
	}
}

// findHeader returns the offset of the first plausible chunk header.
func findHeader(b []byte) int {
	for i := 0; i+8 <= len(b); i++ {
		if header(b[i:]) > 0 {
			return i
		}
	}
	return -1
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteString("\\x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:])
		}
	}
	return sb.String()
}

// reset prepares the parser's PDU for a new message.
func (p *parser) reset(m dissect.Meta, name string) *dissect.PDU {
	p.objs = p.objs[:0]
	p.store = p.store[:0]
	p.pdu = dissect.PDU{Proto: Proto, Name: name, Counting: dissect.CountNone, Meta: m}
	return &p.pdu
}

func (p *parser) malformed(m dissect.Meta, why string, emit func(*dissect.PDU)) {
	u := p.reset(m, "malformed")
	u.Malformed = why
	u.Request = m.Dir == dissect.ToServer
	u.Response = !u.Request
	emit(u)
}

// chunk handles one whole chunk (or the prefix of an oversize one).
func (p *parser) chunk(m dissect.Meta, s *stream, c []byte, cut bool, emit func(*dissect.PDU)) {
	typ := chunkType(c[:3])
	r := rd{b: c, p: 8}
	switch typ {
	case "HEL":
		u := p.reset(m, "Hello")
		u.Request, u.Action = true, dissect.ActConnect
		r.skip(20)
		if url := r.str(); url != "" {
			u.Identity = map[string]string{"endpoint_url": url}
		}
		if r.bad {
			u.Malformed = "truncated Hello"
		}
		emit(u)
		return
	case "ACK":
		u := p.reset(m, "Acknowledge")
		u.Response, u.Action = true, dissect.ActConnect
		emit(u)
		return
	case "ERR":
		u := p.reset(m, "Error")
		u.Response, u.Action = true, dissect.ActConnect
		u.Exception = r.u32()
		if r.bad {
			u.Malformed = "truncated Error"
		}
		emit(u)
		return
	case "RHE":
		u := p.reset(m, "ReverseHello")
		u.Action = dissect.ActConnect
		app, url := r.str(), r.str()
		u.Identity = map[string]string{}
		if app != "" {
			u.Identity["application_uri"] = app
		}
		if url != "" {
			u.Identity["endpoint_url"] = url
		}
		if r.bad {
			u.Malformed = "truncated ReverseHello"
		}
		emit(u)
		return
	}
	r.u32() // secure channel id
	var ident map[string]string
	if typ == "OPN" {
		policy := r.str()
		cert := r.bytesv()
		r.bytesv() // receiver certificate thumbprint
		if r.bad {
			p.malformed(m, "truncated OpenSecureChannel security header", emit)
			return
		}
		if policy != "" {
			if strings.HasSuffix(policy, "#None") {
				p.secure = 1
			} else {
				p.secure = 2
			}
			ident = map[string]string{"security_policy": policy}
		}
		if subj := certSubject(cert); subj != "" {
			if ident == nil {
				ident = map[string]string{}
			}
			ident["certificate_subject"] = subj
		}
	} else {
		r.u32() // token id
	}
	seq := r.u32()
	reqID := r.u32()
	_ = seq
	if r.bad {
		p.malformed(m, "truncated "+typ+" chunk", emit)
		return
	}
	body := c[r.p:]
	switch c[3] {
	case 'A':
		s.msgOn = false
		s.msg = s.msg[:0]
		u := p.reset(m, "Abort")
		u.Action = dissect.ActConnect
		ar := rd{b: body}
		u.Exception = ar.u32()
		u.Identity = ident
		emit(u)
		return
	case 'C':
		if s.msgOn && s.msgReq == reqID && s.msgType == typ {
			s.add(body)
			return
		}
		if !p.startsMessage(s, body) {
			// Ciphertext, or a tail after a gap: an encrypted message is
			// reported once, on its final chunk.
			return
		}
		s.msgOn, s.msgReq, s.msgType, s.msgCut = true, reqID, typ, false
		s.msg = s.msg[:0]
		s.add(body)
		if cut {
			s.msgCut = true
		}
		return
	}
	// final chunk
	if s.msgOn && s.msgReq == reqID && s.msgType == typ {
		s.add(body)
		s.msgOn = false
		p.decode(m, typ, s.msg, cut || s.msgCut, ident, emit)
		s.msg = s.msg[:0]
		return
	}
	s.msgOn = false
	if !p.startsMessage(s, body) {
		if s.strict && p.secure != 2 {
			return // the tail of a message cut by a gap
		}
		if p.secure == 1 {
			p.malformed(m, "service type is not a numeric node id", emit)
			return
		}
		u := p.reset(m, "encrypted")
		u.Variant = "encrypted"
		u.Request = m.Dir == dissect.ToServer
		u.Response = !u.Request
		u.Action = dissect.ActOther
		if typ == "OPN" {
			u.Action = dissect.ActConnect
		}
		u.Identity = ident
		emit(u)
		return
	}
	p.decode(m, typ, body, cut, ident, emit)
}

func (s *stream) add(b []byte) {
	if n := maxMessage - len(s.msg); n < len(b) {
		b = b[:max(n, 0)]
		s.msgCut = true
	}
	s.msg = append(s.msg, b...)
}

// startsMessage tells whether body can be the start of a readable message.
// On a channel with a security policy, or after a gap, it must begin with
// the encoding id of a known service: ciphertext or the middle of a
// message almost never does.
func (p *parser) startsMessage(s *stream, body []byte) bool {
	r := rd{b: body}
	id := r.nodeID()
	if r.bad || id.kind != 'i' {
		return false
	}
	if _, ok := services[id.num]; ok && id.ns == 0 {
		s.strict = false
		return true
	}
	return p.secure == 1 && !s.strict
}

// maxBuffered is the most a direction keeps between two Data calls.
const maxBuffered = maxChunk

// chunkType returns the message type as a constant string, so that naming
// it does not allocate for every chunk.
func chunkType(b []byte) string {
	switch string(b) {
	case "MSG":
		return "MSG"
	case "HEL":
		return "HEL"
	case "ACK":
		return "ACK"
	case "OPN":
		return "OPN"
	case "CLO":
		return "CLO"
	case "ERR":
		return "ERR"
	case "RHE":
		return "RHE"
	}
	return string(b)
}

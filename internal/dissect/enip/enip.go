package enip

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "enip"

// Ports of EtherNet/IP.
const (
	PortExplicit = 44818
	PortIO       = 2222
)

const (
	encapHeader = 24
	// maxEncap bounds the data of one buffered encapsulation message. A
	// Large Forward Open allows CIP messages near 4 KiB; bigger frames are
	// skipped without buffering and reported.
	maxEncap = 8192
	// maxDepth bounds the nesting of Multiple Service Packets and
	// Unconnected Sends inside each other.
	maxDepth = 3
	// maxEmbedded bounds the services of one Multiple Service Packet.
	maxEmbedded = 256
	// pending bounds the requests remembered to pair responses with.
	pending = 16
	// maxPaired bounds the embedded requests of one Multiple Service
	// Packet remembered to pair the embedded replies with.
	maxPaired = 64
	maxVals   = 64
)

// Encapsulation commands.
const (
	cmdNOP               = 0x00
	cmdListServices      = 0x04
	cmdListIdentity      = 0x63
	cmdListInterfaces    = 0x64
	cmdRegisterSession   = 0x65
	cmdUnregisterSession = 0x66
	cmdSendRRData        = 0x6F
	cmdSendUnitData      = 0x70
)

// cmdName names an encapsulation command: the commands are few and small
// numbers, so an array serves where a map would hash per message.
func cmdName(c uint16) string {
	if c < uint16(len(cmdNameTab)) {
		return cmdNameTab[c]
	}
	return ""
}

var cmdNameTab = [cmdSendUnitData + 1]string{
	cmdNOP: "NOP", cmdListServices: "ListServices", cmdListIdentity: "ListIdentity",
	cmdListInterfaces: "ListInterfaces", cmdRegisterSession: "RegisterSession",
	cmdUnregisterSession: "UnregisterSession", cmdSendRRData: "SendRRData", cmdSendUnitData: "SendUnitData",
}

func init() { dissect.Register(Dissector{}) }

// Dissector is the EtherNet/IP dissector.
type Dissector struct{}

// Proto returns "enip".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 44818, UDP 44818 and UDP 2222.
func (Dissector) Ports() []dissect.Port {
	return []dissect.Port{{T: dissect.TCP, Port: PortExplicit}, {T: dissect.UDP, Port: PortExplicit}, {T: dissect.UDP, Port: PortIO}}
}

// Probe accepts an encapsulation header with a known command, options 0,
// status 0 (the client speaks first, and a request carries no status) and
// a length that the bytes seen agree with (exactly, for UDP). On TCP a
// message longer than the first segment is accepted only when the segment
// is full-sized, i.e. the message plausibly continues in the next one: a
// short segment announcing more (a NetBIOS session header reads as a NOP of
// 12,544 bytes) is another protocol.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if !plausibleHeader(b) || binary.LittleEndian.Uint32(b[8:]) != 0 {
		return false
	}
	n := encapHeader + int(binary.LittleEndian.Uint16(b[2:]))
	if t == dissect.UDP {
		return n == len(b)
	}
	return n <= len(b) || len(b) >= minFullSegment
}

// minFullSegment is the smallest TCP segment taken as full (the IPv4
// minimum MSS): a message may continue past it.
const minFullSegment = 536

func plausibleHeader(b []byte) bool {
	if len(b) < encapHeader {
		return false
	}
	switch binary.LittleEndian.Uint16(b) {
	case cmdNOP, cmdListServices, cmdListIdentity, cmdListInterfaces, cmdRegisterSession,
		cmdUnregisterSession, cmdSendRRData, cmdSendUnitData:
	default:
		return false
	}
	return binary.LittleEndian.Uint32(b[20:]) == 0 // options
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type stream struct {
	buf    []byte
	skip   int
	resync bool
}

type request struct {
	used    bool
	key     uint64
	svc     byte
	class   uint32
	inst    uint32
	stamp   uint32
	noClass bool
	// msp holds the embedded requests of a Multiple Service Packet, in
	// order: the reply carries the replies in the same order.
	msp []embedded
}

type embedded struct {
	svc     byte
	noClass bool
	class   uint32
	inst    uint32
}

type parser struct {
	*out
	clock uint32
	dir   [2]stream
	// pairNext says the next request is embedded in an Unconnected Send.
	pairNext bool
	// collect, while the embedded requests of a remembered Multiple
	// Service Packet at depth collectDepth are dissected, receives them.
	collect      *request
	collectDepth int
	// paired, while the embedded replies of a Multiple Service Packet at
	// depth 1 are dissected, holds the requests; pairIdx is the current.
	paired  []embedded
	pairIdx int
	reqs    [pending]request
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	objs [1]dissect.Object
	vals []float64
	id   map[string]string
}

func (p *parser) Gap(d dissect.Dir) {
	if d > dissect.ToClient {
		return
	}
	s := &p.dir[d]
	s.buf, s.skip, s.resync = s.buf[:0], 0, true
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	if m.Dir > dissect.ToClient {
		return
	}
	if m.T == dissect.UDP {
		p.datagram(m, b, emit)
		return
	}
	s := &p.dir[m.Dir]
	if s.resync {
		// Resynchronise where a chunk (a TCP segment) starts.
		if !plausibleHeader(b) {
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
		if len(s.buf) > 0 || len(b) < encapHeader {
			need := encapHeader
			if len(s.buf) >= encapHeader {
				need += int(binary.LittleEndian.Uint16(s.buf[2:]))
			}
			c := min(need-len(s.buf), len(b))
			s.buf = append(s.buf, b[:c]...)
			b = b[c:]
			if len(s.buf) == encapHeader {
				if !p.header(m, s, s.buf, emit) {
					s.buf = s.buf[:0]
					return
				}
				if s.skip > 0 {
					s.buf = s.buf[:0]
					continue
				}
			}
			if len(s.buf) >= encapHeader && len(s.buf) == encapHeader+int(binary.LittleEndian.Uint16(s.buf[2:])) {
				p.encap(m, s.buf, emit)
				s.buf = s.buf[:0]
			}
			continue
		}
		if !p.header(m, s, b, emit) {
			return
		}
		if s.skip > 0 {
			continue
		}
		n := encapHeader + int(binary.LittleEndian.Uint16(b[2:]))
		if n > len(b) {
			s.buf = append(s.buf[:0], b...)
			return
		}
		p.encap(m, b[:n], emit)
		b = b[n:]
	}
}

// header checks an encapsulation header; garbage is reported once and
// drops the direction into resync, an oversized message is skipped.
func (p *parser) header(m dissect.Meta, s *stream, h []byte, emit func(*dissect.PDU)) bool {
	if !plausibleHeader(h) {
		s.resync = true
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "bad encapsulation header: unknown command or non-zero options"
		emit(&p.pdu)
		return false
	}
	if n := int(binary.LittleEndian.Uint16(h[2:])); n > maxEncap {
		s.skip = encapHeader + n
		p.reset(m)
		p.pdu.Function = uint32(binary.LittleEndian.Uint16(h))
		p.pdu.Counting = dissect.CountCommand
		p.pdu.Name = cmdName(uint16(p.pdu.Function))
		p.pdu.Malformed = "encapsulation message of " + strconv.Itoa(n) + " bytes exceeds the dissector's limit"
		emit(&p.pdu)
	}
	return true
}

func (p *parser) reset(m dissect.Meta) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m}
	p.objs[0] = dissect.Object{}
	p.vals = p.vals[:0]
	clear(p.id)
}

// datagram dissects one UDP datagram: an encapsulation message (44818) or
// implicit I/O in common packet format (2222).
func (p *parser) datagram(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	if plausibleHeader(b) && encapHeader+int(binary.LittleEndian.Uint16(b[2:])) == len(b) {
		p.encap(m, b, emit)
		return
	}
	p.reset(m)
	p.pdu.Counting = dissect.CountNone
	p.pdu.Action = dissect.ActData
	p.pdu.Name = "implicit I/O"
	items, ok := cpf(b)
	if !ok {
		p.pdu.Malformed = "implicit I/O: bad common packet format"
		emit(&p.pdu)
		return
	}
	for _, it := range items {
		if it.typ == 0x8002 && len(it.data) >= 8 {
			p.pdu.Objects = p.objs[:1]
			p.objs[0] = dissect.Object{Space: "connection", Start: binary.LittleEndian.Uint32(it.data), Count: 1}
		}
	}
	emit(&p.pdu)
}

type item struct {
	typ  uint16
	data []byte
}

// cpf splits a common packet format: item count, then type, length, data.
// It returns at most 4 items (the protocol uses 2, sockaddr items add 2).
func cpf(b []byte) ([4]item, bool) {
	var out [4]item
	if len(b) < 2 {
		return out, false
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if n > len(out) {
		return out, false
	}
	for i := 0; i < n; i++ {
		if len(b) < 4 {
			return out, false
		}
		l := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+l > len(b) {
			return out, false
		}
		out[i] = item{typ: binary.LittleEndian.Uint16(b), data: b[4 : 4+l]}
		b = b[4+l:]
	}
	return out, true
}

// encap dissects one whole encapsulation message.
func (p *parser) encap(m dissect.Meta, f []byte, emit func(*dissect.PDU)) {
	cmd := binary.LittleEndian.Uint16(f)
	status := binary.LittleEndian.Uint32(f[8:])
	ctx := binary.LittleEndian.Uint64(f[12:])
	data := f[encapHeader:]
	p.reset(m)
	p.pdu.Function = uint32(cmd)
	p.pdu.Counting = dissect.CountCommand
	p.pdu.Name = cmdName(cmd)
	p.pdu.Exception = status
	p.pdu.Request, p.pdu.Response = m.Dir == dissect.ToServer, m.Dir == dissect.ToClient
	switch cmd {
	case cmdListIdentity, cmdListServices, cmdListInterfaces:
		p.pdu.Action = dissect.ActIdentify
		if cmd == cmdListIdentity && len(data) > 0 {
			p.pdu.Response, p.pdu.Request = true, false
			p.listIdentity(data)
		}
		emit(&p.pdu)
		return
	case cmdRegisterSession, cmdUnregisterSession:
		p.pdu.Action = dissect.ActConnect
		emit(&p.pdu)
		return
	case cmdSendRRData, cmdSendUnitData:
	default:
		emit(&p.pdu)
		return
	}
	if len(data) < 6 {
		if status == 0 {
			p.pdu.Malformed = "send data: interface handle and timeout truncated"
		}
		emit(&p.pdu)
		return
	}
	items, ok := cpf(data[6:])
	if !ok {
		p.pdu.Malformed = "send data: bad common packet format"
		emit(&p.pdu)
		return
	}
	emit(&p.pdu)
	for _, it := range items {
		switch it.typ {
		case 0x00B2: // unconnected data
			p.cip(m, it.data, ctx, 0, emit)
		case 0x00B1: // connected data: sequence count, then CIP
			if len(it.data) < 2 {
				continue
			}
			seq := uint64(binary.LittleEndian.Uint16(it.data)) | 1<<63
			p.cip(m, it.data[2:], seq, 0, emit)
		}
	}
}

// listIdentity extracts the identity item of a ListIdentity response.
func (p *parser) listIdentity(data []byte) {
	items, ok := cpf(data)
	if !ok {
		p.pdu.Malformed = "list identity: bad common packet format"
		return
	}
	for _, it := range items {
		// Version (2), socket address (16), then the Identity attributes.
		if it.typ == 0x000C && len(it.data) >= 18 {
			if !p.identityAttrs(it.data[18:]) {
				p.pdu.Malformed = "list identity: identity item truncated"
			}
			if len(it.data) >= 8 {
				sa := it.data[2:18]
				p.identity("ip", fmt.Sprintf("%d.%d.%d.%d", sa[4], sa[5], sa[6], sa[7]))
			}
		}
	}
}

// identityAttrs decodes the Identity object attributes 1-7 as ListIdentity
// and Get_Attributes_All carry them.
func (p *parser) identityAttrs(b []byte) bool {
	if len(b) < 15 {
		return false
	}
	vendor := binary.LittleEndian.Uint16(b)
	p.identity("vendor_id", idNumber(idDecimal, uint32(vendor)))
	if n, ok := vendors[vendor]; ok {
		p.identity("vendor", n)
	}
	dt := binary.LittleEndian.Uint16(b[2:])
	p.identity("device_type", idNumber(idDecimal, uint32(dt)))
	if n, ok := deviceTypes[dt]; ok {
		p.identity("device", n)
	}
	p.identity("product_code", idNumber(idDecimal, uint32(binary.LittleEndian.Uint16(b[4:]))))
	p.identity("revision", idNumber(idRevision, uint32(b[6])<<8|uint32(b[7])))
	p.identity("serial", idNumber(idSerial, binary.LittleEndian.Uint32(b[10:])))
	n := int(b[14])
	if 15+n > len(b) {
		return false
	}
	var buf [255]byte // n < 256: the name stays on the stack
	name := buf[:0]
	for _, c := range b[15 : 15+n] {
		if c >= 0x20 && c < 0x7f {
			name = append(name, c)
		}
	}
	// A device answers with the same name every time.
	p.identity("product", productNames.Intern(name))
	return true
}

// Identity numbers are formatted once per process, not once per reply.
const (
	idDecimal  = iota // 42
	idRevision        // major<<8|minor: "2.11"
	idSerial          // "0x0012abcd"
)

var idNames dissect.Names

// productNames interns product names (dissect.Names.Intern).
var productNames dissect.Names

func idNumber(kind uint64, v uint32) string {
	k := kind<<32 | uint64(v)
	if s := idNames.Get(k); s != "" {
		return s
	}
	var s string
	switch kind {
	case idRevision:
		s = strconv.Itoa(int(v>>8)) + "." + strconv.Itoa(int(v&0xff))
	case idSerial:
		s = fmt.Sprintf("0x%08x", v)
	default:
		s = strconv.FormatUint(uint64(v), 10)
	}
	return idNames.Put(k, s)
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

// path is a decoded CIP request path.
type path struct {
	class, inst, attr uint32
	hasClass, hasInst bool
	hasAttr           bool
	symbol            string
}

// parsePath decodes logical (8, 16, 32-bit) and ANSI symbolic segments;
// it stops at the first segment it does not know.
func parsePath(b []byte) path {
	var pt path
	for i := 0; len(b) > 0 && i < 32; i++ {
		seg := b[0]
		if seg == 0x91 { // ANSI extended symbolic
			if len(b) < 2 || 2+int(b[1]) > len(b) {
				return pt
			}
			n := int(b[1])
			if pt.symbol == "" {
				pt.symbol = string(b[2 : 2+n])
			} else if len(pt.symbol) < 128 {
				pt.symbol += "." + string(b[2:2+n])
			}
			n += 2
			if n%2 == 1 {
				n++
			}
			b = b[min(n, len(b)):]
			continue
		}
		if seg&0xE0 != 0x20 { // not a logical segment
			return pt
		}
		var v uint32
		switch seg & 3 {
		case 0:
			if len(b) < 2 {
				return pt
			}
			v, b = uint32(b[1]), b[2:]
		case 1:
			if len(b) < 4 {
				return pt
			}
			v, b = uint32(binary.LittleEndian.Uint16(b[2:])), b[4:]
		case 2:
			if len(b) < 6 {
				return pt
			}
			v, b = binary.LittleEndian.Uint32(b[2:]), b[6:]
		default:
			return pt
		}
		switch (seg >> 2) & 7 {
		case 0:
			pt.class, pt.hasClass = v, true
		case 1:
			pt.inst, pt.hasInst = v, true
		case 4:
			pt.attr, pt.hasAttr = v, true
		}
	}
	return pt
}

// cip dissects one CIP message (request or response), emits it, then the
// services it embeds. key pairs a response with its request.
func (p *parser) cip(m dissect.Meta, msg []byte, key uint64, depth int, emit func(*dissect.PDU)) {
	p.reset(m)
	if len(msg) < 2 {
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "CIP message truncated"
		emit(&p.pdu)
		return
	}
	sc := msg[0]
	svc := sc & 0x7F
	p.pdu.Function = uint32(svc)
	p.pdu.Counting = dissect.CountFunction
	p.pdu.Name = serviceName(svc)
	if sc&0x80 == 0 {
		p.pdu.Request = true
		ps := 2 * int(msg[1])
		if 2+ps > len(msg) {
			p.pdu.Malformed = "CIP request path beyond the message"
			emit(&p.pdu)
			return
		}
		pt := parsePath(msg[2 : 2+ps])
		data := msg[2+ps:]
		p.pdu.Action = action(svc, pt.class, pt.hasClass)
		p.request(pt, svc, data)
		if c := p.collect; c != nil && depth == p.collectDepth && len(c.msp) < maxPaired {
			c.msp = append(c.msp, embedded{svc: svc, noClass: !pt.hasClass, class: pt.class, inst: pt.inst})
		}
		// The reply to an Unconnected Send is the embedded service's
		// reply, so the embedded request is the one to pair it with.
		var r *request
		if depth == 0 || p.pairNext {
			r = p.remember(key, svc, pt)
		}
		p.pairNext = false
		emit(&p.pdu)
		if depth >= maxDepth {
			return
		}
		switch {
		case svc == 0x0A:
			if r != nil {
				p.collect, p.collectDepth = r, depth+1
			}
			p.multiple(m, data, key, depth, emit)
			if r != nil {
				p.collect = nil
			}
		case svc == 0x52 && pt.class == 6:
			// Unconnected Send: priority, ticks, size, embedded request.
			if len(data) < 4 {
				return
			}
			n := int(binary.LittleEndian.Uint16(data[2:]))
			if 4+n > len(data) {
				p.reset(m)
				p.pdu.Counting = dissect.CountNone
				p.pdu.Malformed = "unconnected send: embedded request beyond the message"
				emit(&p.pdu)
				return
			}
			p.pairNext = depth == 0
			p.cip(m, data[4:4+n], key, depth+1, emit)
		}
		return
	}
	p.pdu.Response = true
	if len(msg) < 4 {
		p.pdu.Malformed = "CIP response header truncated"
		emit(&p.pdu)
		return
	}
	p.pdu.Exception = uint32(msg[2])
	as := 2 * int(msg[3])
	if 4+as > len(msg) {
		p.pdu.Malformed = "CIP response additional status beyond the message"
		emit(&p.pdu)
		return
	}
	data := msg[4+as:]
	var paired []embedded
	switch {
	case depth == 0:
		if q := p.match(key); q != nil && q.svc == svc {
			p.pair(svc, embedded{svc: q.svc, noClass: q.noClass, class: q.class, inst: q.inst}, msg[2], data)
			if svc == 0x0A {
				paired = q.msp
			}
		}
	case depth == 1 && p.paired != nil:
		// An embedded reply of a Multiple Service Packet: its request is
		// the one at the same index of the request packet.
		if i := p.pairIdx; i < len(p.paired) && p.paired[i].svc == svc {
			p.pair(svc, p.paired[i], msg[2], data)
		}
	}
	emit(&p.pdu)
	if svc == 0x0A && depth < maxDepth {
		if depth == 0 {
			p.paired = paired
		}
		p.multiple(m, data, key, depth, emit)
		if depth == 0 {
			p.paired = nil
		}
	}
}

// pair gives a reply the action and object of its request q.
func (p *parser) pair(svc byte, q embedded, status byte, data []byte) {
	p.pdu.Action = action(svc, q.class, !q.noClass)
	if !q.noClass {
		p.objs[0] = dissect.Object{Space: p.classSpace(q.class, 0, false), Start: q.inst, Count: 1}
		p.pdu.Objects = p.objs[:1]
	}
	if q.class == 1 && !q.noClass && svc == 0x01 && status == 0 {
		p.pdu.Action = dissect.ActIdentify
		if !p.identityAttrs(data) {
			p.pdu.Malformed = "identity get attributes all: reply truncated"
		}
	}
}

// multiple dissects the services of a Multiple Service Packet request or
// response: a count, offsets from the count, and the messages.
func (p *parser) multiple(m dissect.Meta, data []byte, key uint64, depth int, emit func(*dissect.PDU)) {
	if len(data) < 2 {
		return
	}
	n := int(binary.LittleEndian.Uint16(data))
	if n > maxEmbedded || 2+2*n > len(data) {
		p.reset(m)
		p.pdu.Counting = dissect.CountNone
		p.pdu.Malformed = "multiple service packet: offsets beyond the message"
		emit(&p.pdu)
		return
	}
	for i := 0; i < n; i++ {
		start := int(binary.LittleEndian.Uint16(data[2+2*i:]))
		end := len(data)
		if i+1 < n {
			end = int(binary.LittleEndian.Uint16(data[2+2*(i+1):]))
		}
		if start < 2+2*n || start > end || end > len(data) {
			p.reset(m)
			p.pdu.Counting = dissect.CountNone
			p.pdu.Malformed = "multiple service packet: bad offset"
			emit(&p.pdu)
			return
		}
		if depth == 0 {
			p.pairIdx = i
		}
		p.cip(m, data[start:end], key, depth+1, emit)
	}
}

// request fills the object of a request: class, instance (and attribute),
// or the symbolic tag; the values a Set_Attribute carries.
func (p *parser) request(pt path, svc byte, data []byte) {
	switch {
	case pt.symbol != "":
		p.objs[0] = dissect.Object{Space: "tag " + pt.symbol, Count: 1}
	case pt.hasClass && pt.hasAttr:
		p.objs[0] = dissect.Object{Space: p.classSpace(pt.class, pt.inst, true), Start: pt.attr, Count: 1}
	case pt.hasClass:
		p.objs[0] = dissect.Object{Space: p.classSpace(pt.class, 0, false), Start: pt.inst, Count: 1}
	default:
		return
	}
	p.pdu.Objects = p.objs[:1]
	if svc == 0x10 || svc == 0x02 {
		for _, v := range data {
			if len(p.vals) >= maxVals {
				break
			}
			p.vals = append(p.vals, float64(v))
		}
		p.objs[0].Values = p.vals
	}
}

// classNames caches classSpace's names for all flows: new flows keep
// naming the same classes and instances.
var classNames dissect.Names

// classSpace names "class C" or "class C instance I", from the process's
// cache once a flow has named it.
func (p *parser) classSpace(class, inst uint32, withInst bool) string {
	k := uint64(class)
	if withInst {
		k |= 1<<63 | uint64(inst)<<32
	}
	if s := classNames.Get(k); s != "" {
		return s
	}
	s := "class " + strconv.FormatUint(uint64(class), 10)
	if withInst {
		s += " instance " + strconv.FormatUint(uint64(inst), 10)
	}
	return classNames.Put(k, s)
}

func (p *parser) remember(key uint64, svc byte, pt path) *request {
	p.clock++
	var slot *request
	for i := range p.reqs {
		r := &p.reqs[i]
		if !r.used || r.key == key {
			slot = r
			break
		}
		if slot == nil || r.stamp < slot.stamp {
			slot = r
		}
	}
	*slot = request{used: true, key: key, svc: svc, class: pt.class, inst: pt.inst, noClass: !pt.hasClass, stamp: p.clock, msp: slot.msp[:0]}
	return slot
}

func (p *parser) match(key uint64) *request {
	for i := range p.reqs {
		r := &p.reqs[i]
		if r.used && r.key == key {
			r.used = false
			return r
		}
	}
	return nil
}

// action classifies a CIP service. Codes 0x4B-0x63 are object specific, so
// they are read by class.
func action(svc byte, class uint32, hasClass bool) dissect.Action {
	switch svc {
	case 0x01, 0x03, 0x0E, 0x18:
		if hasClass && class == 1 {
			return dissect.ActIdentify
		}
		return dissect.ActRead
	case 0x02, 0x04, 0x10, 0x0D, 0x13, 0x19:
		return dissect.ActWrite
	case 0x05:
		return dissect.ActRestart
	case 0x06:
		return dissect.ActStart
	case 0x07:
		return dissect.ActStop
	case 0x09, 0x15:
		return dissect.ActWrite
	}
	if hasClass && class == 6 { // Connection Manager
		switch svc {
		case 0x54, 0x5B, 0x4E:
			return dissect.ActConnect
		}
		return dissect.ActOther
	}
	if hasClass && class == 0x37 { // File object
		switch svc {
		case 0x4B, 0x4F:
			return dissect.ActUpload
		case 0x4C, 0x50:
			return dissect.ActDownload
		}
	}
	if hasClass && class >= 0x64 && class <= 0xC7 && class != 0x67 && class != 0x6B && class != 0x6C {
		// Vendor-specific classes (CIP Vol 1 table 5A-1.1: 0x64-0xC7),
		// less PCCC (0x67) and Logix Symbol (0x6B) and Template (0x6C)
		// (pycomm3 cip/object_library.py ClassCode; Wireshark's
		// packet-cip.c names none of these and shows "Unknown Service").
		// Rockwell Logix programming software moves routines with the
		// File object's transfer codes: Upload Transfer 0x4F, Download
		// Transfer 0x50, on the routine class 0x6A (path program 0x68 /
		// routine 0x6A). Seen in iti__EIP-SoftwareUpload.pcap (0x4F
		// replies carry rung text) and in the download of
		// iti__EIP-RebootorRestart.pcap (Create 0x08 of 0x68/0x6A/0x6B
		// objects, then 0x50 with the routines).
		switch svc {
		case 0x4F:
			return dissect.ActUpload
		case 0x50:
			return dissect.ActDownload
		case 0x08:
			return dissect.ActWrite // creates program, routine and tag objects
		}
	}
	switch svc { // Logix tag services, by symbolic or logical path
	case 0x4C, 0x52:
		return dissect.ActRead
	case 0x4D, 0x4E, 0x53:
		return dissect.ActWrite
	}
	return dissect.ActOther
}

var serviceNames = [256]string{
	0x01: "Get_Attributes_All", 0x02: "Set_Attributes_All", 0x03: "Get_Attribute_List", 0x04: "Set_Attribute_List",
	0x05: "Reset", 0x06: "Start", 0x07: "Stop", 0x08: "Create", 0x09: "Delete", 0x0A: "Multiple_Service_Packet",
	0x0D: "Apply_Attributes", 0x0E: "Get_Attribute_Single", 0x10: "Set_Attribute_Single", 0x11: "Find_Next_Object_Instance",
	0x14: "Error_Response", 0x15: "Restore", 0x16: "Save", 0x17: "No_Operation", 0x18: "Get_Member", 0x19: "Set_Member",
	0x4C: "Read_Tag / object specific 0x4c", 0x4D: "Write_Tag / object specific 0x4d",
	0x4E: "Forward_Close / Read_Modify_Write_Tag", 0x52: "Unconnected_Send / Read_Tag_Fragmented",
	0x53: "Write_Tag_Fragmented", 0x54: "Forward_Open", 0x5B: "Large_Forward_Open",
	0x4B: "Execute_PCCC / Initiate_Upload / object specific 0x4b", 0x4F: "Upload_Transfer / object specific 0x4f",
	0x50: "Download_Transfer / object specific 0x50",
}

func serviceName(svc byte) string {
	if n := serviceNames[svc]; n != "" {
		return n
	}
	return fmt.Sprintf("service 0x%02x", svc)
}

var vendors = map[uint16]string{
	1: "Rockwell Automation/Allen-Bradley", 5: "Rockwell Automation/Reliance Elec.", 8: "Molex Incorporated",
	26: "Festo Corporation", 40: "Wago Corporation", 44: "Yaskawa Electric America, Inc.", 47: "Omron Corporation",
	48: "TURCk, Inc.", 90: "HMS Industrial Networks AB", 161: "Mitsubishi Electric Corporation",
	243: "Schneider Automation, Inc.", 283: "Hilscher GmbH", 678: "Cognex Corporation", 808: "SICK AG",
}

var deviceTypes = map[uint16]string{
	0: "Generic Device", 2: "AC Drive", 7: "General Purpose Discrete I/O", 12: "Communications Adapter",
	14: "Programmable Logic Controller", 24: "Human-Machine Interface",
}

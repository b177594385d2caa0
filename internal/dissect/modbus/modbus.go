package modbus

import (
	"strconv"

	"github.com/otlink/otlink/internal/dissect"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// Proto is the registered protocol name.
const Proto = "modbus"

// Port is the Modbus/TCP port.
const Port = 502

// pending bounds the table of requests waiting for their response, per
// flow: a client rarely has more than a few transactions in flight, and a
// scanner that never waits must not grow it.
const pending = 32

// maxValues bounds the values carried by one object (a read of 2000 coils).
const maxValues = mb.MaxReadBits

func init() { dissect.Register(Dissector{}) }

// Dissector is the Modbus/TCP dissector.
type Dissector struct{}

// Proto returns "modbus".
func (Dissector) Proto() string { return Proto }

// Ports returns TCP 502.
func (Dissector) Ports() []dissect.Port { return []dissect.Port{{T: dissect.TCP, Port: Port}} }

// Probe accepts a complete-looking MBAP header: protocol id 0, a length the
// codec accepts, a unit byte and a function code in 1..127.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.TCP || len(b) < mb.MBAPHeaderLen+1 {
		return false
	}
	_, n, err := mb.ParseADU(b)
	if err != nil {
		return false
	}
	// The first segment of a client usually holds exactly one or more whole
	// frames; a frame longer than the segment is allowed only if the length
	// is sane (ParseADU checked it).
	_ = n
	return validFunction(b[7])
}

// validFunction accepts the function codes of the public and user-defined
// ranges; 0 and the exception bit are not valid in a request.
func validFunction(fc byte) bool { return fc >= 1 && fc <= 127 }

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type txn struct {
	used  bool
	tid   uint16
	unit  uint8
	fc    mb.FunctionCode
	addr  uint16
	qty   uint16
	stamp uint32
}

type stream struct {
	n      int  // bytes buffered of an unfinished frame
	resync bool // lost sync: skip until a plausible header, do not re-report
	// buf holds a frame split over segments; made when first needed, as
	// most flows never split one.
	buf *[mb.MaxADU]byte
}

type parser struct {
	*out
	clock uint32
	dir   [2]stream
	txns  [pending]txn
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	obj  [1]dissect.Object
	vals []float64
	id   map[string]string
	q    mb.Request
	r    mb.Response
}

func (p *parser) Gap(d dissect.Dir) {
	if d > dissect.ToClient {
		return
	}
	p.dir[d].n = 0
	p.dir[d].resync = true
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	if m.Dir > dissect.ToClient {
		return
	}
	s := &p.dir[m.Dir]
	// Bounded loop: every iteration consumes bytes of b, completes the
	// buffered frame, or returns.
	for len(b) > 0 || s.n > 0 {
		if s.n > 0 {
			// Complete the buffered frame first.
			_, need, err := mb.ParseADU(s.buf[:s.n])
			if err != nil {
				p.badHeader(m, s, emit)
				s.n = 0
				continue
			}
			if need > s.n {
				if len(b) == 0 {
					return
				}
				c := copy(s.buf[s.n:need], b)
				s.n += c
				b = b[c:]
				continue
			}
			p.frame(m, s.buf[:need], emit)
			s.n, s.resync = 0, false
			continue
		}
		if s.resync {
			// Resynchronise only where a chunk starts (a TCP segment
			// boundary, as tshark does): a header found inside garbage is
			// more often a coincidence than a frame.
			if !plausibleFrame(b) {
				return
			}
			s.resync = false
		}
		_, n, err := mb.ParseADU(b)
		if err != nil {
			p.badHeader(m, s, emit)
			b = b[1:]
			continue
		}
		if n > len(b) {
			if s.buf == nil {
				s.buf = new([mb.MaxADU]byte)
			}
			s.n = copy(s.buf[:], b)
			return
		}
		p.frame(m, b[:n], emit)
		b = b[n:]
	}
}

// badHeader reports a lost framing once, then resynchronises.
func (p *parser) badHeader(m dissect.Meta, s *stream, emit func(*dissect.PDU)) {
	if s.resync {
		return
	}
	s.resync = true
	p.reset(m)
	p.pdu.Counting = dissect.CountNone
	p.pdu.Name = "bad MBAP header"
	p.pdu.Malformed = "bad MBAP header: protocol id not 0 or length out of range"
	emit(&p.pdu)
}

// plausibleFrame reports whether b starts with an MBAP header of protocol
// id 0, a sane length and a non-zero function code.
func plausibleFrame(b []byte) bool {
	if len(b) < mb.MBAPHeaderLen+1 {
		return false
	}
	if _, _, err := mb.ParseADU(b); err != nil {
		return false
	}
	return b[7]&^0x80 != 0
}

func (p *parser) reset(m dissect.Meta) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m}
	p.obj[0] = dissect.Object{}
	p.vals = p.vals[:0]
	clear(p.id)
}

// frame dissects one complete MBAP frame.
func (p *parser) frame(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	a, _, err := mb.ParseADU(b)
	if err != nil || len(a.PDU) == 0 {
		return
	}
	p.reset(m)
	p.clock++
	fc := mb.FunctionCode(a.PDU[0] &^ 0x80)
	p.pdu.Function = uint32(fc)
	p.pdu.Counting = dissect.CountFunction
	p.pdu.Unit = uint32(a.Unit)
	p.pdu.Name = funcName(fc)
	p.pdu.Action = action(fc, a.PDU)
	if m.Dir == dissect.ToServer {
		p.pdu.Request = true
		p.request(a)
	} else {
		p.pdu.Response = true
		p.response(a)
	}
	emit(&p.pdu)
}

func (p *parser) request(a mb.ADU) {
	err := p.q.Decode(a.PDU)
	t := p.remember(a.Transaction, a.Unit)
	t.fc = mb.FunctionCode(a.PDU[0])
	if err == mb.ErrUnknownFunction {
		return
	}
	if err != nil {
		p.pdu.Malformed = "request: " + err.Error()
		return
	}
	q := &p.q
	switch q.Function {
	case mb.FuncReadCoils, mb.FuncReadDiscreteInputs, mb.FuncReadHoldingRegisters, mb.FuncReadInputRegisters:
		t.addr, t.qty = q.Address, q.Quantity
		p.object(space(q.Function), q.Address, q.Quantity)
	case mb.FuncWriteSingleCoil:
		v := 0.0
		if q.Value != 0 {
			v = 1
		}
		p.object("coil", q.Address, 1)
		p.value(v)
	case mb.FuncWriteSingleRegister:
		p.object("holding", q.Address, 1)
		p.value(float64(q.Value))
	case mb.FuncWriteMultipleCoils:
		p.object("coil", q.Address, q.Quantity)
		for i := 0; i < int(q.Quantity) && i/8 < len(q.Data); i++ {
			p.value(float64(q.Data[i/8] >> (i % 8) & 1))
		}
	case mb.FuncWriteMultipleRegisters:
		p.object("holding", q.Address, q.Quantity)
		for i := 0; i+1 < len(q.Data); i += 2 {
			p.value(float64(uint16(q.Data[i])<<8 | uint16(q.Data[i+1])))
		}
	}
}

func (p *parser) response(a mb.ADU) {
	t := p.match(a.Transaction, a.Unit)
	err := p.r.Decode(a.PDU)
	if err == mb.ErrUnknownFunction {
		return
	}
	if err != nil {
		p.pdu.Malformed = "response: " + err.Error()
		return
	}
	r := &p.r
	if r.IsException() {
		p.pdu.Exception = uint32(r.Exception)
		p.pdu.Name = exceptionName(mb.FunctionCode(p.pdu.Function), r.Exception)
		return
	}
	switch r.Function {
	case mb.FuncReadCoils, mb.FuncReadDiscreteInputs:
		if t == nil || t.fc != r.Function {
			return
		}
		if len(r.Data) != mb.BitBytes(int(t.qty)) {
			p.pdu.Malformed = "response: byte count does not match the request"
			return
		}
		p.object(space(r.Function), t.addr, t.qty)
		for i := 0; i < int(t.qty); i++ {
			if r.Bit(i) {
				p.value(1)
			} else {
				p.value(0)
			}
		}
	case mb.FuncReadHoldingRegisters, mb.FuncReadInputRegisters:
		if t == nil || t.fc != r.Function {
			return
		}
		if len(r.Data) != 2*int(t.qty) {
			p.pdu.Malformed = "response: byte count does not match the request"
			return
		}
		p.object(space(r.Function), t.addr, t.qty)
		for i := 0; i < int(t.qty); i++ {
			p.value(float64(r.Register(i)))
		}
	case mb.FuncWriteSingleCoil, mb.FuncWriteSingleRegister, mb.FuncWriteMultipleCoils, mb.FuncWriteMultipleRegisters:
		sp := "holding"
		if r.Function.IsBitFunc() {
			sp = "coil"
		}
		p.object(sp, r.Address, r.Quantity)
	case mb.FuncEncapsulatedInterface:
		for id, v := range r.Objects() {
			p.identity(objectKey(id), mb.IdentityText(v))
		}
	case mb.FuncReportServerID:
		p.serverID(r)
	}
}

// serverID takes the identity of an FC 17 (report server id) reply: the
// server id, the run indicator and the device-specific text after it.
func (p *parser) serverID(r *mb.Response) {
	if len(r.Data) == 0 {
		return
	}
	id, run, hasRun, extra := r.ServerID()
	p.identity("server_id", strconv.Itoa(int(id)))
	if hasRun {
		if run {
			p.identity("run", "on")
		} else {
			p.identity("run", "off")
		}
	}
	if s := mb.IdentityText(extra); s != "" {
		p.identity("device", s)
	}
}

func (p *parser) identity(k, v string) {
	if v == "" {
		return
	}
	if p.id == nil {
		p.id = map[string]string{}
	}
	if len(p.id) >= 32 {
		return
	}
	p.id[k] = v
	p.pdu.Identity = p.id
}

func (p *parser) object(sp string, addr, qty uint16) {
	p.obj[0] = dissect.Object{Space: sp, Start: uint32(addr), Count: uint32(qty)}
	p.pdu.Objects = p.obj[:1]
}

func (p *parser) value(v float64) {
	if len(p.vals) >= maxValues || len(p.pdu.Objects) == 0 {
		return
	}
	p.vals = append(p.vals, v)
	p.obj[0].Values = p.vals
}

// remember records a request; the oldest entry is reused when full.
func (p *parser) remember(tid uint16, unit uint8) *txn {
	var slot *txn
	for i := range p.txns {
		t := &p.txns[i]
		if !t.used || (t.tid == tid && t.unit == unit) {
			slot = t
			break
		}
		if slot == nil || t.stamp < slot.stamp {
			slot = t
		}
	}
	*slot = txn{used: true, tid: tid, unit: unit, stamp: p.clock}
	return slot
}

// match finds and releases the request a response answers.
func (p *parser) match(tid uint16, unit uint8) *txn {
	for i := range p.txns {
		t := &p.txns[i]
		if t.used && t.tid == tid && t.unit == unit {
			t.used = false
			return t
		}
	}
	return nil
}

func space(fc mb.FunctionCode) string {
	switch fc {
	case mb.FuncReadCoils, mb.FuncWriteSingleCoil, mb.FuncWriteMultipleCoils:
		return "coil"
	case mb.FuncReadDiscreteInputs:
		return "discrete"
	case mb.FuncReadInputRegisters:
		return "input"
	}
	return "holding"
}

// action classifies a PDU by function code (and sub-function where the
// function has one: FC 8 restart communications, FC 43 MEI type).
func action(fc mb.FunctionCode, pdu []byte) dissect.Action {
	switch fc {
	case 1, 2, 3, 4, 20, 24:
		return dissect.ActRead
	case 5, 6, 15, 16, 21, 22, 23:
		return dissect.ActWrite
	case 7, 11, 12, 17:
		return dissect.ActIdentify
	case 8:
		// Sub-function 1 restarts the communications option.
		if len(pdu) >= 3 && pdu[0]&0x80 == 0 && pdu[1] == 0 && pdu[2] == 1 {
			return dissect.ActRestart
		}
		return dissect.ActIdentify
	case 43:
		if len(pdu) >= 2 && pdu[0]&0x80 == 0 && pdu[1] == mb.MEIReadDeviceID {
			return dissect.ActIdentify
		}
	}
	return dissect.ActOther
}

var extraNames = map[mb.FunctionCode]string{
	7: "read exception status", 8: "diagnostics", 11: "get comm event counter",
	12: "get comm event log", 17: "report server id", 20: "read file record",
	21: "write file record", 22: "mask write register", 23: "read/write multiple registers",
	24: "read fifo queue", 90: "schneider umas",
}

// funcNames holds every function code's name, made once: the codec's
// String and Known look a map up, which costs per PDU.
var funcNames = func() (n [256]string) {
	for fc := range n {
		n[fc] = makeFuncName(mb.FunctionCode(fc))
	}
	return n
}()

func funcName(fc mb.FunctionCode) string { return funcNames[uint8(fc)] }

func makeFuncName(fc mb.FunctionCode) string {
	if fc.Known() {
		return fc.String()
	}
	if n, ok := extraNames[fc]; ok {
		return n
	}
	return "function " + strconv.Itoa(int(fc))
}

func objectKey(id uint8) string {
	switch id {
	case mb.ObjectVendorName:
		return "vendor"
	case mb.ObjectProductCode:
		return "product_code"
	case mb.ObjectMajorMinorRevision:
		return "revision"
	case mb.ObjectVendorURL:
		return "vendor_url"
	case mb.ObjectProductName:
		return "product"
	case mb.ObjectModelName:
		return "model"
	case mb.ObjectUserApplicationName:
		return "application"
	}
	return "object_" + strconv.Itoa(int(id))
}

// exceptionNames caches exceptionName's names for all flows.
var exceptionNames dissect.Names

// exceptionName names an exception response: "Read Holding Registers
// exception: ...", built once per function and exception code.
func exceptionName(fc mb.FunctionCode, e mb.ExceptionCode) string {
	k := uint64(fc)<<8 | uint64(e)
	if s := exceptionNames.Get(k); s != "" {
		return s
	}
	return exceptionNames.Put(k, funcName(fc)+" exception: "+e.String())
}

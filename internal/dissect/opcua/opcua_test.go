package opcua

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// enc builds OPC UA binary for tests, independently of the decoder.
type enc struct{ b []byte }

func (e *enc) u8(v byte)    { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *enc) null()        { e.u32(0xffffffff) }
func (e *enc) num(ns uint16, id uint32) {
	e.u8(2)
	e.u16(ns)
	e.u32(id)
}
func (e *enc) sid(ns uint16, s string) { e.u8(3); e.u16(ns); e.str(s) }

// service starts a body with the four-byte encoding of a service id.
func (e *enc) service(id uint16) { e.u8(1); e.u8(0); e.u16(id) }

func (e *enc) reqHeader(handle uint32) {
	e.u8(0)
	e.u8(0) // auth token ns=0;i=0
	e.u64(0)
	e.u32(handle)
	e.u32(0)
	e.null()
	e.u32(1000)
	e.u8(0)
	e.u8(0)
	e.u8(0) // additional header: null node id, no body
}

func (e *enc) respHeader(handle, status uint32) {
	e.u64(0)
	e.u32(handle)
	e.u32(status)
	e.u8(0)  // diagnostics
	e.null() // string table
	e.u8(0)  // additional header
	e.u8(0)
	e.u8(0)
}

func chunk(typ string, ct byte, body []byte) []byte {
	b := append([]byte(typ), ct)
	b = binary.LittleEndian.AppendUint32(b, uint32(8+len(body)))
	return append(b, body...)
}

func hel(url string) []byte {
	var e enc
	e.u32(0)
	for i := 0; i < 4; i++ {
		e.u32(65535)
	}
	e.str(url)
	return chunk("HEL", 'F', e.b)
}

func opn(policy string, body []byte) []byte {
	var e enc
	e.u32(0)
	e.str(policy)
	e.null()
	e.null()
	e.u32(1)
	e.u32(1)
	return chunk("OPN", 'F', append(e.b, body...))
}

func msg(ct byte, reqID uint32, body []byte) []byte {
	var e enc
	e.u32(1)
	e.u32(1)
	e.u32(reqID)
	e.u32(reqID)
	return chunk("MSG", ct, append(e.b, body...))
}

// opnNone is an OpenSecureChannelRequest on a None channel.
func opnNone() []byte {
	var e enc
	e.service(446)
	e.reqHeader(1)
	e.u32(0)
	e.u32(0)
	e.u32(1)
	e.null()
	e.u32(3600000)
	return opn(policyNone, e.b)
}

const policyNone = "http://opcfoundation.org/UA/SecurityPolicy#None"

type collect struct{ pdus []dissect.PDU }

func (c *collect) emit(p *dissect.PDU) {
	q := *p
	q.Objects = append([]dissect.Object(nil), p.Objects...)
	for i := range q.Objects { // the parser reuses the values' memory
		q.Objects[i].Values = append([]float64(nil), q.Objects[i].Values...)
	}
	c.pdus = append(c.pdus, q)
}

// feed sends b in segments of n bytes.
func feed(p dissect.Parser, dir dissect.Dir, b []byte, n int, c *collect) {
	for i := 0; i < len(b); i += n {
		p.Data(dissect.Meta{Dir: dir, T: dissect.TCP}, b[i:min(i+n, len(b))], c.emit)
	}
}

func readReq() []byte {
	var e enc
	e.service(631)
	e.reqHeader(7)
	e.u64(0)
	e.u32(2)
	e.u32(2) // two ReadValueIds
	e.num(2, 42)
	e.u32(13)
	e.null()
	e.u16(0)
	e.null()
	e.sid(1, "Line1.Speed")
	e.u32(13)
	e.null()
	e.u16(0)
	e.null()
	return e.b
}

func readResp() []byte {
	var e enc
	e.service(634)
	e.respHeader(7, 0)
	e.u32(2)
	e.u8(1)  // DataValue: variant
	e.u8(11) // Double
	e.u64(math.Float64bits(12.5))
	e.u8(1)
	e.u8(6) // Int32
	e.u32(uint32(0xffffffff))
	e.null() // diagnostics
	return e.b
}

func TestSessionSplitAnywhere(t *testing.T) {
	var cli, srv []byte
	cli = append(cli, hel("opc.tcp://plc:4840")...)
	var o enc
	o.service(446)
	o.reqHeader(1)
	cli = append(cli, opn(policyNone, o.b)...)
	cli = append(cli, msg('F', 2, readReq())...)
	var w enc
	w.service(673)
	w.reqHeader(8)
	w.u32(1)
	w.num(3, 1001)
	w.u32(13)
	w.null()
	w.u8(1)
	w.u8(6)
	w.u32(55)
	cli = append(cli, msg('F', 3, w.b)...)
	srv = append(srv, msg('F', 2, readResp())...)
	var f enc
	f.service(397)
	f.respHeader(9, 0x80340000) // BadNodeIdUnknown
	srv = append(srv, msg('F', 4, f.b)...)

	for _, seg := range []int{1, 3, 7, 1000} {
		p := Dissector{}.NewParser()
		var c collect
		feed(p, dissect.ToServer, cli, seg, &c)
		feed(p, dissect.ToClient, srv, seg, &c)
		var fns []uint32
		for _, u := range c.pdus {
			if u.Counting == dissect.CountFunction {
				fns = append(fns, u.Function)
			}
			if u.Malformed != "" {
				t.Errorf("seg %d: %s malformed: %s", seg, u.Name, u.Malformed)
			}
		}
		if want := []uint32{446, 631, 673, 634, 397}; !equal(fns, want) {
			t.Fatalf("seg %d: functions %v, want %v", seg, fns, want)
		}
		hello := c.pdus[0]
		if hello.Name != "Hello" || hello.Identity["endpoint_url"] != "opc.tcp://plc:4840" || hello.Counting != dissect.CountNone {
			t.Errorf("hello %+v", hello)
		}
		rq := c.pdus[2]
		if rq.Action != dissect.ActRead || len(rq.Objects) != 2 || rq.Objects[0].Space != "ns=2" || rq.Objects[0].Start != 42 || rq.Objects[1].Space != "ns=1;s=Line1.Speed" {
			t.Errorf("read request %+v", rq)
		}
		wr := c.pdus[3]
		if wr.Action != dissect.ActWrite || len(wr.Objects) != 1 || wr.Objects[0].Start != 1001 || len(wr.Objects[0].Values) != 1 || wr.Objects[0].Values[0] != 55 {
			t.Errorf("write request %+v", wr)
		}
		rs := c.pdus[4]
		if !rs.Response || len(rs.Objects) != 2 || rs.Objects[0].Values[0] != 12.5 || rs.Objects[1].Values[0] != -1 {
			t.Errorf("read response %+v", rs)
		}
		if fault := c.pdus[5]; fault.Exception != 0x80340000 || fault.Name != "ServiceFault" {
			t.Errorf("fault %+v", fault)
		}
	}
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChunksReassembledAndCountedOnce(t *testing.T) {
	body := readReq()
	half := len(body) / 2
	var s []byte
	s = append(s, opnNone()...)
	s = append(s, msg('C', 5, body[:half])...)
	s = append(s, msg('F', 5, body[half:])...)
	s = append(s, msg('C', 6, body[:half])...)
	s = append(s, msg('A', 6, []byte{0, 0, 0x80, 0x80})...)
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, s, 5, &c)
	n := 0
	for _, u := range c.pdus {
		if u.Counting == dissect.CountFunction && u.Function != 446 {
			n++
			if u.Function != 631 || len(u.Objects) != 2 {
				t.Errorf("reassembled %+v", u)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d counted PDUs, want 1 (aborted message not counted): %+v", n, c.pdus)
	}
}

func TestEncryptedChannel(t *testing.T) {
	garbage := make([]byte, 200)
	for i := range garbage {
		garbage[i] = byte(i*73 + 11)
	}
	var s []byte
	s = append(s, hel("opc.tcp://plc:4840")...)
	s = append(s, opn("http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256", garbage)...)
	s = append(s, msg('F', 2, garbage)...)
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, s, 17, &c)
	if len(c.pdus) != 3 {
		t.Fatalf("%d PDUs: %+v", len(c.pdus), c.pdus)
	}
	for _, u := range c.pdus[1:] {
		if u.Variant != "encrypted" || u.Counting != dissect.CountNone || u.Malformed != "" {
			t.Errorf("not marked encrypted: %+v", u)
		}
	}
	if !strings.HasSuffix(c.pdus[1].Identity["security_policy"], "Basic256Sha256") {
		t.Errorf("policy %v", c.pdus[1].Identity)
	}
}

func TestGetEndpointsIdentity(t *testing.T) {
	var e enc
	e.service(431)
	e.respHeader(1, 0)
	e.u32(2)
	for _, ep := range []struct {
		mode   uint32
		policy string
	}{{1, policyNone}, {3, "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"}} {
		e.str("opc.tcp://plc:4840")
		e.str("urn:acme:plc")
		e.str("urn:acme:product")
		e.u8(2)
		e.str("ACME PLC")
		e.u32(0)
		e.null()
		e.null()
		e.null()
		e.null() // certificate
		e.u32(ep.mode)
		e.str(ep.policy)
		e.u32(1)
		e.str("anon")
		e.u32(0)
		e.null()
		e.null()
		e.null()
		e.null()
		e.u8(0)
	}
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToClient, opnNone(), 100, &c)
	feed(p, dissect.ToClient, msg('F', 1, e.b), 100, &c)
	u := c.pdus[len(c.pdus)-1]
	want := map[string]string{
		"application_uri": "urn:acme:plc", "product_uri": "urn:acme:product", "name": "ACME PLC",
		"application_type": "server", "endpoints": "opc.tcp://plc:4840",
		"security": "None/None, Basic256Sha256/SignAndEncrypt", "user_tokens": "anonymous",
	}
	for k, v := range want {
		if u.Identity[k] != v {
			t.Errorf("identity %s = %q, want %q (all %v)", k, u.Identity[k], v, u.Identity)
		}
	}
	if u.Action != dissect.ActIdentify || u.Function != 431 {
		t.Errorf("%+v", u)
	}
}

func TestGarbageAndGap(t *testing.T) {
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, opnNone(), 100, &c)
	junk := []byte("GET / HTTP/1.1\r\n\r\n")
	feed(p, dissect.ToServer, append(junk, msg('F', 2, readReq())...), 100, &c)
	var mal, reads int
	for _, u := range c.pdus {
		if u.Malformed != "" {
			mal++
		}
		if u.Function == 631 {
			reads++
		}
	}
	if mal != 1 || reads != 1 {
		t.Fatalf("malformed %d reads %d, want 1 and 1: %+v", mal, reads, c.pdus)
	}
	// A gap in the middle of a message: its tail is dropped, the next
	// message is read.
	c.pdus = nil
	m := msg('F', 3, readReq())
	feed(p, dissect.ToServer, m[:20], 100, &c)
	p.Gap(dissect.ToServer)
	feed(p, dissect.ToServer, append(m[40:], msg('F', 4, readReq())...), 100, &c)
	if len(c.pdus) != 1 || c.pdus[0].Function != 631 || c.pdus[0].Malformed != "" {
		t.Fatalf("after gap: %+v", c.pdus)
	}
}

func TestProbe(t *testing.T) {
	d := Dissector{}
	if !d.Probe(dissect.TCP, hel("opc.tcp://10.0.0.1:48010")) {
		t.Error("hello not recognised")
	}
	for _, b := range [][]byte{
		[]byte("Content-Length: 106\r\n\r\n{\"seq\": 1, \"type\": \"request\"}"),
		hel("opc.tcp://x")[:20],
		msg('F', 1, readReq()),
	} {
		if d.Probe(dissect.TCP, b) {
			t.Errorf("probe accepted %q", b)
		}
	}
	if d.Probe(dissect.UDP, hel("opc.tcp://x")) {
		t.Error("probe accepted UDP")
	}
}

func TestOversizeChunkSkipped(t *testing.T) {
	big := make([]byte, maxChunk+5000)
	copy(big, readReq())
	var s []byte
	s = append(s, opnNone()...)
	s = append(s, msg('F', 2, big)...)
	s = append(s, msg('F', 3, readReq())...)
	p := Dissector{}.NewParser().(*parser)
	var c collect
	for i := 0; i < len(s); i += 1460 {
		p.Data(dissect.Meta{Dir: dissect.ToServer}, s[i:min(i+1460, len(s))], c.emit)
		if len(p.d[0].buf) > maxChunk+1460 {
			t.Fatalf("buffered %d", len(p.d[0].buf))
		}
	}
	n := 0
	for _, u := range c.pdus {
		if u.Function == 631 {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d reads, want 2", n)
	}
}

package bench

import (
	"encoding/binary"
	"math"
	"net/netip"

	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/proto/modbus"
)

// session is one client/server conversation of the generated capture: each
// step writes one exchange (a request and its response, sometimes a
// spontaneous message or a bare ACK).
type session interface {
	step(i int) error
	close() error
}

// protoMix is the share of sessions per protocol, in steps out of 100:
// Modbus dominates real plants, the rest are there in useful numbers.
var protoMix = []struct {
	name   string
	weight int
	port   uint16
	newFn  func(c *synth.Conn) session
}{
	{"modbus", 30, 502, func(c *synth.Conn) session { return &modbusSess{c: c} }},
	{"s7comm", 10, 102, func(c *synth.Conn) session { return &s7Sess{c: c} }},
	{"enip", 15, 44818, func(c *synth.Conn) session { return &enipSess{c: c} }},
	{"dnp3", 10, 20000, func(c *synth.Conn) session { return &dnp3Sess{c: c} }},
	{"opcua", 10, 4840, func(c *synth.Conn) session { return &opcuaSess{c: c} }},
	{"bacnet", 10, 47808, nil}, // UDP: see bacnetSess
	{"iec104", 10, 2404, func(c *synth.Conn) session { return &iec104Sess{c: c} }},
	{"mqtt", 5, 1883, func(c *synth.Conn) session { return &mqttSess{c: c} }},
}

// --- Modbus/TCP, encoded with the project's codec ---

type modbusSess struct {
	c   *synth.Conn
	tid uint16
	buf []byte
}

// adu frames pdu with the session's current transaction id: a response
// echoes its request's.
func (s *modbusSess) adu(pdu []byte) []byte {
	b := modbus.AppendMBAP(s.buf[:0], s.tid, 1, len(pdu))
	s.buf = append(b, pdu...)
	return s.buf
}

var regs20 = make([]byte, 20)

func (s *modbusSess) step(i int) error {
	var req, resp []byte
	switch i % 8 {
	case 0, 1, 2, 3:
		req = modbus.AppendReadRequest(nil, 3, uint16(100+i%50), 10)
		resp = modbus.AppendReadResponse(nil, 3, regs20)
	case 4:
		req = modbus.AppendReadRequest(nil, 1, 0, 16)
		resp = modbus.AppendReadResponse(nil, 1, []byte{0xa5, 0x0f})
	case 5:
		req = modbus.AppendReadRequest(nil, 4, 0, 4)
		resp = modbus.AppendReadResponse(nil, 4, regs20[:8])
	case 6:
		req = modbus.AppendWriteSingleRegister(nil, 7, uint16(i))
		resp = modbus.AppendWriteResponse(nil, 6, 7, uint16(i))
	default:
		req = modbus.AppendWriteMultipleRegisters(nil, 10, []byte{0, 1, 0, 2})
		if i%64 == 7 {
			resp = modbus.AppendExceptionResponse(nil, 16, 2)
		} else {
			resp = modbus.AppendWriteResponse(nil, 16, 10, 2)
		}
	}
	s.tid++
	if err := s.c.Send(true, s.adu(req)); err != nil {
		return err
	}
	if err := s.c.Send(false, s.adu(resp)); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *modbusSess) close() error { return s.c.Close() }

// bareAck writes a client ACK without data every fourth exchange, as a
// delayed-ACK stack does.
func bareAck(c *synth.Conn, i int) error {
	if i%4 != 3 {
		return nil
	}
	return c.Segment(true, 0x10, c.Seq(true), c.Seq(false), nil)
}

// --- S7comm over ISO-on-TCP (TPKT + COTP) ---

type s7Sess struct {
	c   *synth.Conn
	ref uint16
}

func tpkt(cotpAndData []byte) []byte {
	b := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(cotpAndData)))
	return append(b, cotpAndData...)
}

// s7 builds TPKT + COTP DT + an S7 header of type rosctr with param and data.
func s7(rosctr byte, ref uint16, param, data []byte) []byte {
	b := []byte{0x02, 0xf0, 0x80, 0x32, rosctr, 0, 0, byte(ref >> 8), byte(ref), byte(len(param) >> 8), byte(len(param)), byte(len(data) >> 8), byte(len(data))}
	if rosctr == 3 {
		b = append(b, 0, 0) // error class and code
	}
	b = append(b, param...)
	return tpkt(append(b, data...))
}

func (s *s7Sess) step(i int) error {
	s.ref++
	if i == 0 {
		cr := tpkt([]byte{0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2})
		cc := tpkt([]byte{0x11, 0xd0, 0, 1, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2})
		if err := s.c.Send(true, cr); err != nil {
			return err
		}
		if err := s.c.Send(false, cc); err != nil {
			return err
		}
		setup := []byte{0xf0, 0, 0, 1, 0, 1, 0x03, 0xc0}
		if err := s.c.Send(true, s7(1, s.ref, setup, nil)); err != nil {
			return err
		}
		return s.c.Send(false, s7(3, s.ref, setup, nil))
	}
	db := byte(1 + i%4)
	if i%5 == 4 { // write var
		item := []byte{0x05, 0x01, 0x12, 0x0a, 0x10, 0x02, 0, 4, 0, db, 0x84, 0, 0, 0}
		if err := s.c.Send(true, s7(1, s.ref, item, []byte{0, 4, 0, 32, 1, 2, 3, 4})); err != nil {
			return err
		}
		return s.c.Send(false, s7(3, s.ref, []byte{0x05, 0x01}, []byte{0xff}))
	}
	item := []byte{0x04, 0x01, 0x12, 0x0a, 0x10, 0x02, 0, 4, 0, db, 0x84, 0, 0, 0}
	if err := s.c.Send(true, s7(1, s.ref, item, nil)); err != nil {
		return err
	}
	if err := s.c.Send(false, s7(3, s.ref, []byte{0x04, 0x01}, []byte{0xff, 0x04, 0, 32, 0, 0, byte(i), byte(i >> 8)})); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *s7Sess) close() error { return s.c.Close() }

// --- EtherNet/IP encapsulation with CIP explicit messages ---

type enipSess struct {
	c       *synth.Conn
	session uint32
}

func encap(cmd uint16, session uint32, ctx uint64, body []byte) []byte {
	b := make([]byte, 24, 24+len(body))
	le := binary.LittleEndian
	le.PutUint16(b, cmd)
	le.PutUint16(b[2:], uint16(len(body)))
	le.PutUint32(b[4:], session)
	le.PutUint64(b[12:], ctx)
	return append(b, body...)
}

// rrData is the body of SendRRData carrying one unconnected CIP message.
func rrData(cip []byte) []byte {
	b := []byte{0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0, byte(len(cip)), byte(len(cip) >> 8)}
	return append(b, cip...)
}

func (s *enipSess) step(i int) error {
	ctx := uint64(i)
	if i == 0 {
		s.session = 0x1000 + uint32(ctx)
		if err := s.c.Send(true, encap(0x65, 0, ctx, []byte{1, 0, 0, 0})); err != nil {
			return err
		}
		return s.c.Send(false, encap(0x65, 0x11223344, ctx, []byte{1, 0, 0, 0}))
	}
	var req, resp []byte
	switch i % 4 {
	case 3: // Get_Attributes_All of the Identity object
		req = []byte{0x01, 0x02, 0x20, 0x01, 0x24, 0x01}
		resp = append([]byte{0x81, 0, 0, 0, 1, 0, 0x0e, 0, 0x36, 0, 0x0b, 0x01, 0x30, 0, 0x78, 0x56, 0x34, 0x12, 6}, "otlink"...)
	case 2: // Set_Attribute_Single
		req = []byte{0x10, 0x03, 0x20, 0x04, 0x24, 0x64, 0x30, 0x03, byte(i), 0}
		resp = []byte{0x90, 0, 0, 0}
	default: // Get_Attribute_Single
		req = []byte{0x0e, 0x03, 0x20, 0x01, 0x24, 0x01, 0x30, 0x07}
		resp = []byte{0x8e, 0, 0, 0, 6, 'o', 't', 'l', 'i', 'n', 'k'}
	}
	if err := s.c.Send(true, encap(0x6f, 0x11223344, ctx, rrData(req))); err != nil {
		return err
	}
	if err := s.c.Send(false, encap(0x6f, 0x11223344, ctx, rrData(resp))); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *enipSess) close() error { return s.c.Close() }

// --- DNP3 over TCP (link frames with CRCs) ---

type dnp3Sess struct {
	c   *synth.Conn
	seq byte
}

var dnpCRC = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xa6bc
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

func appendDNPCRC(b, block []byte) []byte {
	var c uint16
	for _, x := range block {
		c = c>>8 ^ dnpCRC[byte(c)^x]
	}
	c = ^c
	return append(b, byte(c), byte(c>>8))
}

// dnp3Frame builds one link frame (unconfirmed user data) around a
// transport segment holding a whole application fragment.
func dnp3Frame(fromMaster bool, seq byte, app []byte) []byte {
	user := append([]byte{0xc0 | seq&0x3f}, app...)
	ctrl, dst, src := byte(0x44), uint16(1), uint16(10)
	if fromMaster {
		ctrl, dst, src = 0xc4, 10, 1
	}
	h := []byte{0x05, 0x64, byte(5 + len(user)), ctrl, byte(dst), byte(dst >> 8), byte(src), byte(src >> 8)}
	b := appendDNPCRC(h, h)
	for len(user) > 0 {
		n := min(16, len(user))
		b = append(b, user[:n]...)
		b = appendDNPCRC(b, user[:n])
		user = user[n:]
	}
	return b
}

func (s *dnp3Sess) step(i int) error {
	s.seq++
	ac := 0xc0 | s.seq&0x0f
	var req, resp []byte
	switch i % 6 {
	case 5: // direct operate a CROB, echoed back
		obj := []byte{0x0c, 0x01, 0x28, 0x01, 0x00, 0x03, 0x00, 0x03, 0x01, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 0}
		req = append([]byte{ac, 0x05}, obj...)
		resp = append([]byte{ac, 0x81, 0, 0}, obj...)
	default: // integrity / class poll answered with analog inputs
		req = []byte{ac, 0x01, 0x3c, 0x02, 0x06, 0x3c, 0x03, 0x06, 0x3c, 0x04, 0x06, 0x3c, 0x01, 0x06}
		resp = []byte{ac, 0x81, 0, 0, 0x1e, 0x02, 0x00, 0x00, 0x03}
		for p := range 4 {
			resp = append(resp, 0x01, byte(i+p), 0)
		}
	}
	if err := s.c.Send(true, dnp3Frame(true, s.seq, req)); err != nil {
		return err
	}
	if err := s.c.Send(false, dnp3Frame(false, s.seq, resp)); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *dnp3Sess) close() error { return s.c.Close() }

// --- OPC UA binary (security policy None) ---

type opcuaSess struct {
	c     *synth.Conn
	reqID uint32
}

func uaString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func uaMsg(typ string, body []byte) []byte {
	b := append([]byte(typ), 'F', 0, 0, 0, 0)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

// uaService is a MSG chunk: channel, token, sequence, request id, then
// the service's four-byte node id and its body.
func uaService(reqID uint32, node uint16, body []byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 7)
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, reqID+1)
	b = le.AppendUint32(b, reqID)
	b = append(b, 0x01, 0, byte(node), byte(node>>8))
	return uaMsg("MSG", append(b, body...))
}

func uaRequestHeader(handle uint32) []byte {
	b := []byte{0x00, 0x00} // authentication token: null node id
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, handle)
	b = append(b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff) // diagnostics, audit entry id
	b = binary.LittleEndian.AppendUint32(b, 10000)
	return append(b, 0, 0, 0) // additional header
}

func uaResponseHeader(handle uint32) []byte {
	b := make([]byte, 8)
	b = binary.LittleEndian.AppendUint32(b, handle)
	b = append(b, 0, 0, 0, 0, 0) // service result, diagnostic info
	b = append(b, 0xff, 0xff, 0xff, 0xff)
	return append(b, 0, 0, 0)
}

func (s *opcuaSess) step(i int) error {
	le := binary.LittleEndian
	if i == 0 {
		hel := le.AppendUint32(nil, 0)
		for range 2 {
			hel = le.AppendUint32(hel, 65536)
		}
		hel = append(hel, make([]byte, 8)...)
		hel = uaString(hel, "opc.tcp://10.0.0.1:4840")
		if err := s.c.Send(true, uaMsg("HEL", hel)); err != nil {
			return err
		}
		ack := le.AppendUint32(nil, 0)
		for range 2 {
			ack = le.AppendUint32(ack, 65536)
		}
		return s.c.Send(false, uaMsg("ACK", append(ack, make([]byte, 8)...)))
	}
	s.reqID++
	var req, resp []byte
	var rq, rs uint16
	if i%5 == 4 { // Write (673/676)
		rq, rs = 673, 676
		req = uaRequestHeader(s.reqID)
		req = le.AppendUint32(req, 1)
		req = append(req, 0x01, 2, byte(i), 0) // node id ns=2;i=
		req = le.AppendUint32(req, 13)         // Value
		req = append(req, 0xff, 0xff, 0xff, 0xff, 0x01, 11)
		req = le.AppendUint64(req, math.Float64bits(float64(i)))
		resp = uaResponseHeader(s.reqID)
		resp = le.AppendUint32(resp, 1)
		resp = append(resp, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)
	} else { // Read (631/634)
		rq, rs = 631, 634
		req = uaRequestHeader(s.reqID)
		req = append(req, make([]byte, 8)...) // max age
		req = le.AppendUint32(req, 2)         // timestamps: both
		req = le.AppendUint32(req, 1)
		req = append(req, 0x01, 2, byte(i), 0)
		req = le.AppendUint32(req, 13)
		req = append(req, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff)
		resp = uaResponseHeader(s.reqID)
		resp = le.AppendUint32(resp, 1)
		resp = append(resp, 0x01, 11)
		resp = le.AppendUint64(resp, math.Float64bits(float64(i)*0.5))
		resp = append(resp, 0xff, 0xff, 0xff, 0xff)
	}
	if err := s.c.Send(true, uaService(s.reqID, rq, req)); err != nil {
		return err
	}
	if err := s.c.Send(false, uaService(s.reqID, rs, resp)); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *opcuaSess) close() error { return s.c.Close() }

// --- IEC 60870-5-104 ---

type iec104Sess struct {
	c      *synth.Conn
	tx, rx uint16 // send sequence numbers of the client and the server
}

func apci(ctl []byte, asdu []byte) []byte {
	b := append([]byte{0x68, byte(4 + len(asdu))}, ctl...)
	return append(b, asdu...)
}

func iFrame(send, recv uint16, asdu []byte) []byte {
	return apci([]byte{byte(send << 1), byte(send >> 7), byte(recv << 1), byte(recv >> 7)}, asdu)
}

func (s *iec104Sess) step(i int) error {
	if i == 0 {
		if err := s.c.Send(true, apci([]byte{0x07, 0, 0, 0}, nil)); err != nil {
			return err
		}
		return s.c.Send(false, apci([]byte{0x0b, 0, 0, 0}, nil))
	}
	if i%8 == 1 { // general interrogation and its confirmation
		gi := []byte{100, 0x01, 0x06, 0x00, 0x01, 0x00, 0, 0, 0, 0x14}
		if err := s.c.Send(true, iFrame(s.tx, s.rx, gi)); err != nil {
			return err
		}
		s.tx++
		gi[2] = 0x07
		if err := s.c.Send(false, iFrame(s.rx, s.tx, gi)); err != nil {
			return err
		}
		s.rx++
		return nil
	}
	// spontaneous short floats from the server, acknowledged by S frames
	asdu := []byte{13, 0x02, 0x03, 0x00, 0x01, 0x00}
	for p := range 2 {
		asdu = append(asdu, byte(p+1), byte(i), 0)
		asdu = binary.LittleEndian.AppendUint32(asdu, math.Float32bits(float32(i)))
		asdu = append(asdu, 0)
	}
	if err := s.c.Send(false, iFrame(s.rx, s.tx, asdu)); err != nil {
		return err
	}
	s.rx++
	return s.c.Send(true, apci([]byte{0x01, 0, byte(s.rx << 1), byte(s.rx >> 7)}, nil))
}

func (s *iec104Sess) close() error { return s.c.Close() }

// --- MQTT 3.1.1 ---

type mqttSess struct {
	c *synth.Conn
}

func mqttPacket(hdr byte, body []byte) []byte {
	return append([]byte{hdr, byte(len(body))}, body...) // bodies < 128 bytes
}

func (s *mqttSess) step(i int) error {
	switch {
	case i == 0:
		body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 6}, "sensor"...)
		if err := s.c.Send(true, mqttPacket(0x10, body)); err != nil {
			return err
		}
		return s.c.Send(false, mqttPacket(0x20, []byte{0, 0}))
	case i == 1:
		if err := s.c.Send(true, mqttPacket(0x82, append([]byte{0, 1, 0, 5}, "cmd/#\x01"...))); err != nil {
			return err
		}
		return s.c.Send(false, mqttPacket(0x90, []byte{0, 1, 1}))
	case i%16 == 15:
		if err := s.c.Send(true, []byte{0xc0, 0}); err != nil {
			return err
		}
		return s.c.Send(false, []byte{0xd0, 0})
	}
	pub := append([]byte{0, 11}, "plant/line1"...)
	pub = append(pub, `{"t":21.5}`...)
	if err := s.c.Send(true, mqttPacket(0x30, pub)); err != nil {
		return err
	}
	return bareAck(s.c, i)
}

func (s *mqttSess) close() error { return s.c.Close() }

// --- BACnet/IP (UDP) ---

type bacnetSess struct {
	w        *synth.Writer
	cli, srv netip.AddrPort
	id       byte
}

func (s *bacnetSess) step(i int) error {
	s.id++
	if i%10 == 9 { // Who-Is broadcast answered by I-Am
		bcast := netip.AddrPortFrom(netip.MustParseAddr("10.255.255.255"), 47808)
		if err := s.w.UDP(s.cli, bcast, []byte{0x81, 0x0b, 0, 8, 1, 0, 0x10, 0x08}); err != nil {
			return err
		}
		return s.w.UDP(s.srv, bcast, []byte{0x81, 0x0b, 0, 0x14, 1, 0, 0x10, 0x00, 0xc4, 0x02, 0, 0, 0x0a, 0x22, 0x05, 0xc4, 0x91, 0x03, 0x21, 0x0f})
	}
	obj := byte(i % 8)
	req := []byte{0x81, 0x0a, 0, 0x11, 1, 4, 0x00, 0x05, s.id, 0x0c, 0x0c, 0, 0, 0, obj, 0x19, 0x55}
	ack := []byte{0x81, 0x0a, 0, 0x17, 1, 0, 0x30, s.id, 0x0c, 0x0c, 0, 0, 0, obj, 0x19, 0x55, 0x3e, 0x44, 0x42, 0xc8, 0, 0, 0x3f}
	if err := s.w.UDP(s.cli, s.srv, req); err != nil {
		return err
	}
	return s.w.UDP(s.srv, s.cli, ack)
}

func (s *bacnetSess) close() error { return nil }

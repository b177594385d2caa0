package modbus

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// action is what the test server does with one request.
type action int

const (
	answer    action = iota
	silent           // no reply: the client times out
	garbage          // a reply that is not Modbus
	wrongTID         // a reply with another transaction id
	wrongUnit        // a reply from another unit
	badCRC           // RTU: a reply with a broken CRC
	lateReply        // reply only after the next request has been answered
)

// testServer is a small Modbus server built on the codec, serving Modbus
// TCP or RTU over TCP on loopback. Units 1 and 3 answer; unit 9 gets
// exception 0B as a gateway would; others are silent.
type testServer struct {
	t      testing.TB
	rtu    bool
	jitter bool // answer each request after a short delay, out of order
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	coils  []bool
	di     []bool
	hr     []uint16
	ir     []uint16
	noID   bool                       // answer FC 43 with illegal function
	noSID  bool                       // answer FC 17 with illegal function
	hook   func(q *mb.Request) action // nil: answer
	nreq   int
	conns  []net.Conn
	closed bool
}

func newTestServer(t testing.TB, rtu bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, rtu: rtu, ln: ln,
		coils: make([]bool, 65536), di: make([]bool, 65536), hr: make([]uint16, 65536), ir: make([]uint16, 65536)}
	for i := range s.hr {
		s.hr[i] = uint16(i)
		s.ir[i] = uint16(i) ^ 0xFFFF
		s.di[i] = i%3 == 0
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) endpoint() string {
	if s.rtu {
		return "rtu+tcp://" + s.ln.Addr().String()
	}
	return "tcp://" + s.ln.Addr().String()
}

func (s *testServer) close() {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *testServer) setHook(h func(q *mb.Request) action) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if s.rtu {
				s.serveRTU(c)
			} else {
				s.serveTCP(c)
			}
		}()
	}
}

func (s *testServer) serveTCP(c net.Conn) {
	br := bufio.NewReader(c)
	var wmu sync.Mutex
	var late []byte
	var buf [mb.MaxADU]byte
	data, rpdu, frame := make([]byte, 0, 256), make([]byte, 0, 256), make([]byte, 0, 512)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if _, err := io.ReadFull(br, buf[:7]); err != nil {
			return
		}
		_, n, err := mb.ParseADU(buf[:7])
		if err != nil {
			return
		}
		if _, err := io.ReadFull(br, buf[7:n]); err != nil {
			return
		}
		a, _, _ := mb.ParseADU(buf[:n])
		act, pdu := s.handle(a.Unit, a.PDU, data, rpdu)
		var out []byte
		if s.jitter {
			out = mb.AppendMBAP(nil, a.Transaction, a.Unit, len(pdu))
		} else {
			out = mb.AppendMBAP(frame[:0], a.Transaction, a.Unit, len(pdu))
		}
		out = append(out, pdu...)
		switch act {
		case silent:
			continue
		case garbage:
			out = []byte("HTTP/1.0 400 Bad Request\r\n\r\n")
		case wrongTID:
			out[0] ^= 0x55
		case wrongUnit:
			out[6]++
		case lateReply:
			late = append([]byte(nil), out...)
			continue
		}
		if pdu == nil {
			continue
		}
		if s.jitter {
			wg.Add(1)
			go func(out []byte, d time.Duration) {
				defer wg.Done()
				time.Sleep(d)
				wmu.Lock()
				_, _ = c.Write(out)
				wmu.Unlock()
			}(out, time.Duration(a.Transaction%5)*200*time.Microsecond)
			continue
		}
		wmu.Lock()
		_, _ = c.Write(out)
		if late != nil {
			_, _ = c.Write(late)
			late = nil
		}
		wmu.Unlock()
	}
}

func (s *testServer) serveRTU(c net.Conn) {
	br := bufio.NewReader(c)
	var buf [mb.MaxRTUFrame]byte
	for {
		n := 0
		want := 0
		for range 300 {
			var err error
			want, err = mb.RTURequestLen(buf[:n])
			if err != nil || want > len(buf) {
				return
			}
			if want <= n {
				break
			}
			m, err := io.ReadFull(br, buf[n:want])
			n += m
			if err != nil {
				return
			}
		}
		addr, pdu, err := mb.DecodeRTU(buf[:want])
		if err != nil {
			return
		}
		act, rpdu := s.handle(addr, pdu)
		if rpdu == nil || act == silent {
			continue
		}
		out := mb.AppendRTU(nil, addr, rpdu)
		switch act {
		case garbage:
			out = []byte{addr, 0x63, 0x01, 0x02}
		case wrongUnit:
			out = mb.AppendRTU(nil, addr+1, rpdu)
		case badCRC:
			out[len(out)-1] ^= 0xFF
		}
		_, _ = c.Write(out)
	}
}

// handle serves one request PDU; a nil reply means none is sent.
// scratch, when given, holds the reply so that the read path does not
// allocate (the allocation test counts the server's too).
func (s *testServer) handle(unit uint8, pdu []byte, scratch ...[]byte) (action, []byte) {
	var q mb.Request
	err := q.Decode(pdu)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nreq++
	act := answer
	if s.hook != nil && err == nil {
		hq := q // only this copy escapes, so the hook-less path does not allocate
		act = s.hook(&hq)
	}
	switch unit {
	case 1, 3:
	case 9:
		return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExGatewayTargetNoResponse)
	default:
		return act, nil
	}
	if err != nil {
		return act, mb.AppendExceptionResponse(nil, mb.FunctionCode(pdu[0]), mb.ExceptionFor(err))
	}
	end := int(q.Address) + int(q.Quantity)
	switch q.Function {
	case mb.FuncReadCoils, mb.FuncReadDiscreteInputs:
		src := s.coils
		if q.Function == mb.FuncReadDiscreteInputs {
			src = s.di
		}
		data := make([]byte, mb.BitBytes(int(q.Quantity)))
		for i := int(q.Address); i < end; i++ {
			if src[i] {
				j := i - int(q.Address)
				data[j/8] |= 1 << (j % 8)
			}
		}
		return act, mb.AppendReadResponse(nil, q.Function, data)
	case mb.FuncReadHoldingRegisters, mb.FuncReadInputRegisters:
		src := s.hr
		if q.Function == mb.FuncReadInputRegisters {
			src = s.ir
		}
		if end > 60000 {
			// Part of the map is missing, as on real devices.
			return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExIllegalDataAddress)
		}
		var data []byte
		if len(scratch) > 0 {
			data = scratch[0][:0]
		}
		for i := int(q.Address); i < end; i++ {
			data = append(data, byte(src[i]>>8), byte(src[i]))
		}
		if len(scratch) > 1 {
			return act, mb.AppendReadResponse(scratch[1][:0], q.Function, data)
		}
		return act, mb.AppendReadResponse(nil, q.Function, data)
	case mb.FuncWriteSingleCoil:
		s.coils[q.Address] = q.Value == 0xFF00
		return act, mb.AppendWriteResponse(nil, q.Function, q.Address, q.Value)
	case mb.FuncWriteSingleRegister:
		s.hr[q.Address] = q.Value
		return act, mb.AppendWriteResponse(nil, q.Function, q.Address, q.Value)
	case mb.FuncWriteMultipleCoils:
		for i := 0; i < int(q.Quantity); i++ {
			s.coils[int(q.Address)+i] = q.Data[i/8]>>(i%8)&1 == 1
		}
		return act, mb.AppendWriteResponse(nil, q.Function, q.Address, q.Quantity)
	case mb.FuncWriteMultipleRegisters:
		for i := 0; i < int(q.Quantity); i++ {
			s.hr[int(q.Address)+i] = uint16(q.Data[2*i])<<8 | uint16(q.Data[2*i+1])
		}
		return act, mb.AppendWriteResponse(nil, q.Function, q.Address, q.Quantity)
	case mb.FuncReportServerID:
		if s.noSID {
			return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExIllegalFunction)
		}
		return act, mb.AppendReportServerIDResponse(nil, 0x2A, true, []byte("OTL test meter v7\x00"))
	case mb.FuncEncapsulatedInterface:
		if s.noID {
			return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExIllegalFunction)
		}
		all := []mb.DeviceObject{
			{ID: 0, Value: []byte("otlink")}, {ID: 1, Value: []byte("OTL-TEST")}, {ID: 2, Value: []byte("1.2")},
			{ID: 3, Value: []byte("https://example.com")}, {ID: 4, Value: []byte("Test Server")},
			{ID: 5, Value: []byte("T-1")}, {ID: 6, Value: []byte("line 1")},
		}
		last := 2
		if q.DeviceIDCode >= mb.DeviceIDRegular {
			last = 6
		}
		if int(q.ObjectID) > last {
			return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExIllegalDataAddress)
		}
		// Two objects per reply, to exercise "more follows".
		from := int(q.ObjectID)
		to := min(from+2, last+1)
		more := to <= last
		return act, mb.AppendReadDeviceIDResponse(nil, q.DeviceIDCode, 0x82, more, uint8(to%256), all[from:to])
	}
	return act, mb.AppendExceptionResponse(nil, q.Function, mb.ExIllegalFunction)
}

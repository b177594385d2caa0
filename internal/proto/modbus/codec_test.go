package modbus

import (
	"bytes"
	"errors"
	"testing"
)

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRequestDecodeTable(t *testing.T) {
	cases := []struct {
		name string
		pdu  []byte
		want Request
		err  error
	}{
		{"read coils", cat(
			[]byte{0x01},       // function 1
			[]byte{0x00, 0x13}, // address 19
			[]byte{0x00, 0x13}, // quantity 19
		), Request{Function: 1, Address: 19, Quantity: 19}, nil},
		{"read holding max", cat(
			[]byte{0x03},       // function 3
			[]byte{0x00, 0x6B}, // address 107
			[]byte{0x00, 0x7D}, // quantity 125
		), Request{Function: 3, Address: 107, Quantity: 125}, nil},
		{"read holding 126", []byte{0x03, 0x00, 0x00, 0x00, 0x7E}, Request{Function: 3, Quantity: 126}, ErrBadQuantity},
		{"read inputs 0", []byte{0x04, 0x00, 0x00, 0x00, 0x00}, Request{Function: 4}, ErrBadQuantity},
		{"read di 2000", []byte{0x02, 0x00, 0x00, 0x07, 0xD0}, Request{Function: 2, Quantity: 2000}, nil},
		{"read di 2001", []byte{0x02, 0x00, 0x00, 0x07, 0xD1}, Request{Function: 2, Quantity: 2001}, ErrBadQuantity},
		{"read past 65535", []byte{0x03, 0xFF, 0xFF, 0x00, 0x02}, Request{Function: 3, Address: 0xFFFF, Quantity: 2}, ErrBadQuantity},
		{"write coil on", cat(
			[]byte{0x05},       // function 5
			[]byte{0x00, 0xAC}, // address 172
			[]byte{0xFF, 0x00}, // on
		), Request{Function: 5, Address: 172, Quantity: 1, Value: 0xFF00}, nil},
		{"write coil bad value", []byte{0x05, 0x00, 0xAC, 0x12, 0x34}, Request{Function: 5, Address: 172, Quantity: 1, Value: 0x1234}, ErrBadQuantity},
		{"write register", cat(
			[]byte{0x06},       // function 6
			[]byte{0x00, 0x01}, // address 1
			[]byte{0x00, 0x03}, // value 3
		), Request{Function: 6, Address: 1, Quantity: 1, Value: 3}, nil},
		{"write coils", cat(
			[]byte{0x0F},       // function 15
			[]byte{0x00, 0x13}, // address 19
			[]byte{0x00, 0x0A}, // quantity 10
			[]byte{0x02},       // byte count 2
			[]byte{0xCD, 0x01}, // bits 20..29
		), Request{Function: 15, Address: 19, Quantity: 10, Data: []byte{0xCD, 0x01}}, nil},
		{"write coils short count", []byte{0x0F, 0x00, 0x13, 0x00, 0x0A, 0x01, 0xCD}, Request{Function: 15, Address: 19, Quantity: 10}, ErrBadLength},
		{"write registers", cat(
			[]byte{0x10},                   // function 16
			[]byte{0x00, 0x01},             // address 1
			[]byte{0x00, 0x02},             // quantity 2
			[]byte{0x04},                   // byte count 4
			[]byte{0x00, 0x0A, 0x01, 0x02}, // 0x000A, 0x0102
		), Request{Function: 16, Address: 1, Quantity: 2, Data: []byte{0x00, 0x0A, 0x01, 0x02}}, nil},
		{"write registers truncated", []byte{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A}, Request{Function: 16, Address: 1, Quantity: 2}, ErrTruncated},
		{"write registers 124", []byte{0x10, 0x00, 0x00, 0x00, 0x7C, 0xF8}, Request{Function: 16, Quantity: 124}, ErrBadQuantity},
		{"device id basic", cat(
			[]byte{0x2B}, // function 43
			[]byte{0x0E}, // MEI 14
			[]byte{0x01}, // basic
			[]byte{0x00}, // from object 0
		), Request{Function: 43, MEIType: 14, DeviceIDCode: 1}, nil},
		{"device id bad code", []byte{0x2B, 0x0E, 0x05, 0x00}, Request{Function: 43, MEIType: 14, DeviceIDCode: 5}, ErrBadQuantity},
		{"other MEI", []byte{0x2B, 0x0D, 0x00}, Request{Function: 43, MEIType: 13}, ErrUnknownFunction},
		{"unknown function", []byte{0x08, 0x00, 0x00, 0x12, 0x34}, Request{Function: 8}, ErrUnknownFunction},
		{"empty", nil, Request{}, ErrTruncated},
		{"truncated read", []byte{0x03, 0x00}, Request{Function: 3}, ErrTruncated},
		{"long read", []byte{0x03, 0x00, 0x00, 0x00, 0x01, 0x00}, Request{Function: 3}, ErrBadLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q Request
			err := q.Decode(c.pdu)
			if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if q.Function != c.want.Function || q.Address != c.want.Address || q.Quantity != c.want.Quantity ||
				q.Value != c.want.Value || !bytes.Equal(q.Data, c.want.Data) || q.MEIType != c.want.MEIType ||
				q.DeviceIDCode != c.want.DeviceIDCode || q.ObjectID != c.want.ObjectID {
				t.Fatalf("got %+v, want %+v", q, c.want)
			}
			if err == nil {
				if got := q.Append(nil); !bytes.Equal(got, c.pdu) {
					t.Fatalf("re-encoded % X, want % X", got, c.pdu)
				}
			}
		})
	}
}

func TestEncoders(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"read input", AppendReadRequest(nil, FuncReadInputRegisters, 8, 1), []byte{
			0x04,       // function
			0x00, 0x08, // address
			0x00, 0x01, // quantity
		}},
		{"coil off", AppendWriteSingleCoil(nil, 3, false), []byte{0x05, 0x00, 0x03, 0x00, 0x00}},
		{"register", AppendWriteSingleRegister(nil, 0x1234, 0xBEEF), []byte{0x06, 0x12, 0x34, 0xBE, 0xEF}},
		{"coils", AppendWriteMultipleCoils(nil, 19, 10, []byte{0xCD, 0x01, 0xFF}), []byte{
			0x0F, 0x00, 0x13, // function, address
			0x00, 0x0A, // quantity 10
			0x02,       // byte count: only what 10 bits need
			0xCD, 0x01, // bits
		}},
		{"registers", AppendWriteMultipleRegisters(nil, 1, []byte{0, 10, 1, 2}), []byte{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0, 10, 1, 2}},
		{"device id", AppendReadDeviceIDRequest(nil, DeviceIDRegular, 3), []byte{0x2B, 0x0E, 0x02, 0x03}},
		{"read reply", AppendReadResponse(nil, FuncReadHoldingRegisters, []byte{0x02, 0x2B, 0x00, 0x00}), []byte{
			0x03,       // function
			0x04,       // byte count
			0x02, 0x2B, // 555
			0x00, 0x00, // 0
		}},
		{"write reply", AppendWriteResponse(nil, FuncWriteMultipleRegisters, 1, 2), []byte{0x10, 0x00, 0x01, 0x00, 0x02}},
		{"exception", AppendExceptionResponse(nil, FuncReadHoldingRegisters, ExIllegalDataAddress), []byte{0x83, 0x02}},
		{"device id reply", AppendReadDeviceIDResponse(nil, 1, 0x81, true, 2, []DeviceObject{{0, []byte("ACME")}, {1, []byte("P1")}}), []byte{
			0x2B, 0x0E, // function, MEI
			0x01,                           // basic
			0x81,                           // conformity
			0xFF,                           // more follows
			0x02,                           // next object
			0x02,                           // two objects
			0x00, 0x04, 'A', 'C', 'M', 'E', // vendor
			0x01, 0x02, 'P', '1', // product code
		}},
	}
	for _, c := range cases {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: got % X, want % X", c.name, c.got, c.want)
		}
	}
}

func TestResponseDecode(t *testing.T) {
	t.Run("registers", func(t *testing.T) {
		var r Response
		pdu := []byte{0x03, 0x04, 0x02, 0x2B, 0x00, 0x01}
		q := Request{Function: 3, Quantity: 2}
		if err := r.DecodeFor(&q, pdu); err != nil {
			t.Fatal(err)
		}
		if r.Register(0) != 555 || r.Register(1) != 1 {
			t.Fatalf("registers %d %d", r.Register(0), r.Register(1))
		}
		q.Quantity = 3
		if err := r.DecodeFor(&q, pdu); !errors.Is(err, ErrMismatch) {
			t.Fatalf("quantity 3: %v", err)
		}
		q.Function = 4
		if err := r.DecodeFor(&q, pdu); !errors.Is(err, ErrMismatch) {
			t.Fatalf("fc 4: %v", err)
		}
	})
	t.Run("bits", func(t *testing.T) {
		var r Response
		// function 1, 3 bytes: coils 20..38 as in the spec's example
		if err := r.Decode([]byte{0x01, 0x03, 0xCD, 0x6B, 0x05}); err != nil {
			t.Fatal(err)
		}
		want := "1011001111010110101" // 0xCD LSB first, then 0x6B, then 0x05
		for i, c := range want {
			if r.Bit(i) != (c == '1') {
				t.Fatalf("bit %d = %v", i, r.Bit(i))
			}
		}
		if r.Bit(24) || r.Bit(-1) {
			t.Fatal("bit past data set")
		}
	})
	t.Run("odd register bytes", func(t *testing.T) {
		var r Response
		if err := r.Decode([]byte{0x03, 0x03, 0, 0, 0}); !errors.Is(err, ErrBadLength) {
			t.Fatal(err)
		}
	})
	t.Run("exception", func(t *testing.T) {
		var r Response
		if err := r.DecodeFor(&Request{Function: 3, Quantity: 1}, []byte{0x83, 0x02}); err != nil {
			t.Fatal(err)
		}
		var ex *Exception
		if !r.IsException() || !errors.As(r.Err(), &ex) || ex.Code != ExIllegalDataAddress || ex.Function != 3 {
			t.Fatalf("%+v %v", r, r.Err())
		}
		if got := r.Err().Error(); got != "modbus exception 02 (illegal data address) to read holding registers" {
			t.Fatal(got)
		}
		if err := r.Decode([]byte{0x83, 0x02, 0x00}); !errors.Is(err, ErrBadLength) {
			t.Fatal(err)
		}
	})
	t.Run("write echo", func(t *testing.T) {
		var r Response
		q := Request{Function: 6, Address: 1, Quantity: 1, Value: 3}
		if err := r.DecodeFor(&q, []byte{0x06, 0x00, 0x01, 0x00, 0x03}); err != nil {
			t.Fatal(err)
		}
		if err := r.DecodeFor(&q, []byte{0x06, 0x00, 0x01, 0x00, 0x04}); !errors.Is(err, ErrMismatch) {
			t.Fatal(err)
		}
	})
	t.Run("device id", func(t *testing.T) {
		pdu := AppendReadDeviceIDResponse(nil, 2, 0x82, false, 0, []DeviceObject{
			{0, []byte("ACME")}, {1, []byte("P1")}, {2, []byte("V1.2")}, {4, []byte("")},
		})
		var r Response
		if err := r.DecodeFor(&Request{Function: 43, MEIType: 14, DeviceIDCode: 2}, pdu); err != nil {
			t.Fatal(err)
		}
		var got []string
		for id, v := range r.Objects() {
			got = append(got, string(rune('0'+id))+"="+string(v))
		}
		if want := "0=ACME 1=P1 2=V1.2 4="; joinSpace(got) != want {
			t.Fatalf("objects %q", got)
		}
		if r.MoreFollows || r.Conformity != 0x82 || r.NumObjects != 4 {
			t.Fatalf("%+v", r)
		}
		if err := r.Decode(pdu[:len(pdu)-1]); err == nil {
			t.Fatal("truncated object list accepted")
		}
		if err := r.Decode(append(pdu, 0)); !errors.Is(err, ErrBadLength) {
			t.Fatalf("trailing byte: %v", err)
		}
	})
}

func joinSpace(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

func TestMBAP(t *testing.T) {
	frame := cat(
		[]byte{0x00, 0x01}, // transaction 1
		[]byte{0x00, 0x00}, // protocol 0
		[]byte{0x00, 0x06}, // length: unit + 5 bytes of PDU
		[]byte{0x11},       // unit 17
		[]byte{0x03, 0x00, 0x6B, 0x00, 0x03},
	)
	built := AppendMBAP(nil, 1, 17, 5)
	built = AppendReadRequest(built, 3, 0x6B, 3)
	if !bytes.Equal(built, frame) {
		t.Fatalf("built % X", built)
	}
	late := AppendMBAP(nil, 1, 17, 0)
	late = AppendReadRequest(late, 3, 0x6B, 3)
	FinishMBAP(late)
	if !bytes.Equal(late, frame) {
		t.Fatalf("finished % X", late)
	}
	for i := 0; i < len(frame); i++ {
		_, n, err := ParseADU(frame[:i])
		if err != nil || n <= i {
			t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
		}
	}
	stream := append(append([]byte(nil), frame...), frame[:3]...)
	a, n, err := ParseADU(stream)
	if err != nil || n != len(frame) || a.Transaction != 1 || a.Unit != 17 || !bytes.Equal(a.PDU, frame[7:]) {
		t.Fatalf("%+v %d %v", a, n, err)
	}
	bad := append([]byte(nil), frame...)
	bad[3] = 1 // protocol 1
	if _, _, err := ParseADU(bad); !errors.Is(err, ErrBadHeader) {
		t.Fatal(err)
	}
	bad = append([]byte(nil), frame...)
	bad[4], bad[5] = 0x01, 0x00 // length 256
	if _, _, err := ParseADU(bad); !errors.Is(err, ErrBadHeader) {
		t.Fatal(err)
	}
}

func TestRTU(t *testing.T) {
	// Read holding 0x6B x3 from address 0x11: the spec example, CRC 0x8776
	// sent low byte first.
	want := []byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87}
	got := AppendRTU(nil, 0x11, AppendReadRequest(nil, 3, 0x6B, 3))
	if !bytes.Equal(got, want) {
		t.Fatalf("frame % X", got)
	}
	// Check value of the standard: CRC-16/MODBUS("123456789") = 0x4B37.
	if c := CRC16([]byte("123456789")); c != 0x4B37 {
		t.Fatalf("crc %04X", c)
	}
	addr, pdu, err := DecodeRTU(want)
	if err != nil || addr != 0x11 || !bytes.Equal(pdu, want[1:6]) {
		t.Fatal(addr, pdu, err)
	}
	bad := append([]byte(nil), want...)
	bad[7] ^= 1
	if _, _, err := DecodeRTU(bad); !errors.Is(err, ErrBadCRC) {
		t.Fatal(err)
	}

	reqs := [][]byte{
		want,
		AppendRTU(nil, 1, AppendWriteMultipleRegisters(nil, 0, []byte{1, 2, 3, 4, 5, 6})),
		AppendRTU(nil, 1, AppendWriteMultipleCoils(nil, 0, 9, []byte{1, 1})),
		AppendRTU(nil, 1, AppendReadDeviceIDRequest(nil, 1, 0)),
		AppendRTU(nil, 1, AppendWriteSingleCoil(nil, 0, true)),
	}
	for _, f := range reqs {
		checkSplit(t, f, RTURequestLen)
	}
	resps := [][]byte{
		AppendRTU(nil, 1, AppendReadResponse(nil, 3, []byte{1, 2, 3, 4})),
		AppendRTU(nil, 1, AppendReadResponse(nil, 1, []byte{0xFF})),
		AppendRTU(nil, 1, AppendExceptionResponse(nil, 3, ExServerDeviceBusy)),
		AppendRTU(nil, 1, AppendWriteResponse(nil, 16, 0, 3)),
		AppendRTU(nil, 1, AppendReadDeviceIDResponse(nil, 1, 1, false, 0, []DeviceObject{{0, []byte("A")}, {1, []byte("BC")}, {2, nil}})),
	}
	for _, f := range resps {
		checkSplit(t, f, RTUResponseLen)
	}
	if _, err := RTUResponseLen([]byte{1, 0x08}); !errors.Is(err, ErrUnknownFunction) {
		t.Fatal(err)
	}
}

// checkSplit feeds a frame byte by byte, as a serial line delivers it, and
// checks the inferred length grows to exactly the frame's.
func checkSplit(t *testing.T, frame []byte, lenFn func([]byte) (int, error)) {
	t.Helper()
	have := 0
	for {
		n, err := lenFn(frame[:have])
		if err != nil {
			t.Fatalf("% X at %d: %v", frame, have, err)
		}
		if n <= have {
			if n != len(frame) {
				t.Fatalf("% X: inferred %d", frame, n)
			}
			break
		}
		if n > len(frame) {
			t.Fatalf("% X: asks for %d bytes", frame, n)
		}
		have = n
	}
	if _, _, err := DecodeRTU(frame); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeAllocs(t *testing.T) {
	reqPDU := AppendWriteMultipleRegisters(nil, 0, make([]byte, 246))
	respPDU := AppendReadResponse(nil, 3, make([]byte, 250))
	frame := AppendMBAP(nil, 7, 1, len(respPDU))
	frame = append(frame, respPDU...)
	garbage := []byte{0x63}
	req3 := &Request{Function: 3, Quantity: 125}
	var q Request
	var r Response
	allocs := testing.AllocsPerRun(100, func() {
		_ = q.Decode(reqPDU)
		_ = r.DecodeFor(req3, respPDU)
		_, _, _ = ParseADU(frame)
		_ = q.Decode(garbage) // garbage: error without allocation
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decode", allocs)
	}
}

func TestExceptionNamesAndFor(t *testing.T) {
	names := map[ExceptionCode]string{
		1: "illegal function", 2: "illegal data address", 3: "illegal data value",
		4: "server device failure", 5: "acknowledge", 6: "server device busy",
		0x0A: "gateway path unavailable", 0x0B: "gateway target device failed to respond",
		0x42: "exception 66",
	}
	for c, n := range names {
		if c.String() != n {
			t.Errorf("%d: %q", c, c.String())
		}
	}
	var q Request
	if ExceptionFor(q.Decode([]byte{0x07})) != ExIllegalFunction {
		t.Error("unknown function")
	}
	if ExceptionFor(q.Decode([]byte{3, 0, 0, 0, 200})) != ExIllegalDataValue {
		t.Error("bad quantity")
	}
}

func BenchmarkDecodeResponse125(b *testing.B) {
	pdu := AppendReadResponse(nil, 3, make([]byte, 250))
	q := Request{Function: 3, Quantity: 125}
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		if err := r.DecodeFor(&q, pdu); err != nil {
			b.Fatal(err)
		}
	}
}

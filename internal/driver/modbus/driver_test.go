package modbus

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func TestRegistered(t *testing.T) {
	if d, ok := driver.Lookup("modbus"); !ok || d == nil {
		t.Fatal("modbus driver not registered")
	}
}

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in          string
		unit        int
		table, idx  uint32
		bit         int
		errContains string
	}{
		{in: "coil:0", unit: -1, table: tableCoil, idx: 0, bit: -1},
		{in: "di:17", unit: -1, table: tableDI, idx: 17, bit: -1},
		{in: "hr:65535", unit: -1, table: tableHR, idx: 65535, bit: -1},
		{in: "ir:7.15", unit: -1, table: tableIR, idx: 7, bit: 15},
		{in: "HR:3", unit: -1, table: tableHR, idx: 3, bit: -1},
		{in: "u3/hr:100", unit: 3, table: tableHR, idx: 100, bit: -1},
		{in: "u0/coil:1", unit: 0, table: tableCoil, idx: 1, bit: -1},
		{in: "40001", unit: -1, table: tableHR, idx: 0, bit: -1},
		{in: "400001", unit: -1, table: tableHR, idx: 0, bit: -1},
		{in: "465536", unit: -1, table: tableHR, idx: 65535, bit: -1},
		{in: "30010", unit: -1, table: tableIR, idx: 9, bit: -1},
		{in: "00001", unit: -1, table: tableCoil, idx: 0, bit: -1},
		{in: "100020", unit: -1, table: tableDI, idx: 19, bit: -1},
		{in: "40001.3", unit: -1, table: tableHR, idx: 0, bit: 3},
		{in: "u2/40010", unit: 2, table: tableHR, idx: 9, bit: -1},
		{in: "hr:65536", errContains: "0..65535"},
		{in: "hr:-1", errContains: "decimal"},
		{in: "hr:1.16", errContains: "bit"},
		{in: "coil:1.1", errContains: "registers only"},
		{in: "xx:1", errContains: "unknown table"},
		{in: "40000", errContains: "1..65536"},
		{in: "4001", errContains: "5 or 6 digits"},
		{in: "20001", errContains: "start with"},
		{in: "u256/hr:1", errContains: "unit"},
		{in: "hr:", errContains: "missing"},
		{in: "", errContains: "missing"},
	}
	for _, c := range cases {
		a, err := parseAddress(c.in)
		if c.errContains != "" {
			if err == nil || !strings.Contains(err.Error(), c.errContains) || errcode.Of(err) != errcode.ModbusBadAddress {
				t.Errorf("%q: err %v, want %q", c.in, err, c.errContains)
			}
			continue
		}
		if err != nil || a.unit != c.unit || a.table != c.table || a.index != c.idx || a.bit != c.bit {
			t.Errorf("%q: %+v %v", c.in, a, err)
		}
	}
}

func TestResolve(t *testing.T) {
	dev := driver.DeviceSpec{Name: "press", Unit: 5}
	cases := []struct {
		addr   string
		typ    model.Type
		length int
		space  uint32
		start  uint32
		count  uint32
		code   errcode.Code
	}{
		{"coil:3", model.Bool, 0, 5<<8 | 1, 3, 1, 0},
		{"di:3", model.Bool, 0, 5<<8 | 2, 3, 1, 0},
		{"hr:10", model.Float64, 0, 5<<8 | 3, 10, 4, 0},
		{"ir:10", model.Int32, 0, 5<<8 | 4, 10, 2, 0},
		{"hr:10.4", model.Bool, 0, 5<<8 | 3, 10, 1, 0},
		{"u7/hr:1", model.Uint8, 0, 7<<8 | 3, 1, 1, 0},
		{"hr:0", model.String, 5, 5<<8 | 3, 0, 3, 0},
		{"coil:3", model.Float32, 0, 0, 0, 0, errcode.ModbusTypeMismatch},
		{"hr:3.1", model.Int32, 0, 0, 0, 0, errcode.ModbusTypeMismatch},
		{"hr:65535", model.Float32, 0, 0, 0, 0, errcode.ModbusTypeMismatch},
		{"hr:1", model.String, 0, 0, 0, 0, errcode.ModbusTypeMismatch},
		{"hr:1", model.TypeInvalid, 0, 0, 0, 0, errcode.ModbusTypeMismatch},
		{"hr:1:", model.Int16, 0, 0, 0, 0, errcode.ModbusBadAddress},
	}
	for _, c := range cases {
		p, err := Driver{}.Resolve(dev, driver.TagSpec{Name: "x", Address: c.addr, Type: c.typ, Length: c.length})
		if c.code != 0 {
			if errcode.Of(err) != c.code {
				t.Errorf("%s %s: err %v, want %s", c.addr, c.typ, err, c.code)
			}
			continue
		}
		if err != nil || p.Space != c.space || p.Start != c.start || p.Count != c.count || p.Type != c.typ || p.Codec == nil {
			t.Errorf("%s %s: %+v %v", c.addr, c.typ, p, err)
		}
	}
	_, err := Driver{}.Resolve(driver.DeviceSpec{WordOrder: "middle"}, driver.TagSpec{Address: "hr:1", Type: model.Int32})
	if errcode.Of(err) != errcode.ModbusBadOption {
		t.Errorf("bad word order: %v", err)
	}
	p, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:1", Type: model.Int16})
	if p.Space != 1<<8|3 {
		t.Errorf("default unit: space %#x", p.Space)
	}
}

func TestSpaces(t *testing.T) {
	d := Driver{}
	if got := d.SpaceName(Space(1, tableHR)); got != "holding registers, unit 1" {
		t.Error(got)
	}
	if got := d.SpaceName(Space(247, tableDI)); got != "discrete inputs, unit 247" {
		t.Error(got)
	}
	if d.MaxCount(Space(1, tableCoil)) != 2000 || d.MaxCount(Space(1, tableDI)) != 2000 ||
		d.MaxCount(Space(1, tableHR)) != 125 || d.MaxCount(Space(1, tableIR)) != 125 || d.MaxCount(9) != 0 {
		t.Error("max counts")
	}
}

// TestCodecs decodes the same value from every byte and word order and
// encodes it back to the same bytes.
func TestCodecs(t *testing.T) {
	type tc struct {
		typ        model.Type
		bo, wo     string
		length     int
		regs       []byte // wire bytes of the tag's registers
		want       model.Value
		reEncodeOK bool
	}
	cases := []tc{
		{model.Int16, "", "", 0, []byte{0xFF, 0xFE}, model.IntValue(model.Int16, -2), true},
		{model.Int16, "little", "", 0, []byte{0xFE, 0xFF}, model.IntValue(model.Int16, -2), true},
		{model.Uint16, "", "", 0, []byte{0x12, 0x34}, model.UintValue(model.Uint16, 0x1234), true},
		{model.Uint8, "", "", 0, []byte{0x00, 0xC8}, model.UintValue(model.Uint8, 200), true},
		{model.Int8, "", "", 0, []byte{0x00, 0x80}, model.IntValue(model.Int8, -128), true},
		{model.Int8, "little", "", 0, []byte{0x80, 0x00}, model.IntValue(model.Int8, -128), true},
		// int32 0x12345678 as ABCD, CDAB (word little), BADC (byte little), DCBA
		{model.Int32, "big", "big", 0, []byte{0x12, 0x34, 0x56, 0x78}, model.IntValue(model.Int32, 0x12345678), true},
		{model.Int32, "big", "little", 0, []byte{0x56, 0x78, 0x12, 0x34}, model.IntValue(model.Int32, 0x12345678), true},
		{model.Int32, "little", "big", 0, []byte{0x34, 0x12, 0x78, 0x56}, model.IntValue(model.Int32, 0x12345678), true},
		{model.Int32, "little", "little", 0, []byte{0x78, 0x56, 0x34, 0x12}, model.IntValue(model.Int32, 0x12345678), true},
		{model.Uint32, "", "", 0, []byte{0xFF, 0xFF, 0xFF, 0xFE}, model.UintValue(model.Uint32, 0xFFFFFFFE), true},
		{model.Float32, "", "", 0, []byte{0xBF, 0xC0, 0x00, 0x00}, model.FloatValue(model.Float32, -1.5), true},
		{model.Float32, "", "little", 0, []byte{0x00, 0x00, 0xBF, 0xC0}, model.FloatValue(model.Float32, -1.5), true},
		{model.Int64, "", "", 0, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFD}, model.IntValue(model.Int64, -3), true},
		{model.Uint64, "", "little", 0, []byte{7, 8, 5, 6, 3, 4, 1, 2}, model.UintValue(model.Uint64, 0x0102030405060708), true},
		{model.Uint64, "little", "little", 0, []byte{8, 7, 6, 5, 4, 3, 2, 1}, model.UintValue(model.Uint64, 0x0102030405060708), true},
		{model.Float64, "", "", 0, []byte{0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18}, model.FloatValue(model.Float64, math.Pi), true},
		{model.String, "", "", 5, []byte{'H', 'e', 'l', 'l', 'o', 0}, model.StringValue("Hello"), true},
		{model.String, "little", "", 4, []byte{'e', 'H', 'l', 'l'}, model.StringValue("Hell"), true},
		{model.String, "", "", 6, []byte{'a', 'b', ' ', ' ', 0, 0}, model.StringValue("ab"), false},
		{model.Bool, "", "", 0, []byte{0x00, 0x02}, model.BoolValue(true), false},
	}
	for _, c := range cases {
		p, err := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:10", Type: c.typ, Length: c.length, ByteOrder: c.bo, WordOrder: c.wo})
		if err != nil {
			t.Fatal(err)
		}
		// The tag sits at unit 10 of a block that starts at 8.
		block := append([]byte{0xAA, 0xAA, 0xBB, 0xBB}, c.regs...)
		block = append(block, 0xCC, 0xCC)
		v, err := p.Codec.Decode(block, p.Start-8)
		if err != nil || v != c.want {
			t.Errorf("%s %s/%s: decoded %v (%v), want %v", c.typ, c.bo, c.wo, v, err, c.want)
			continue
		}
		if !c.reEncodeOK {
			continue
		}
		enc, err := p.Codec.Encode(c.want)
		if err != nil || !bytes.Equal(enc, c.regs) {
			t.Errorf("%s %s/%s: encoded % X (%v), want % X", c.typ, c.bo, c.wo, enc, err, c.regs)
		}
	}
}

func TestCodecBitsAndErrors(t *testing.T) {
	p, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "coil:19", Type: model.Bool})
	// Block from coil 10: bits 10..25 packed LSB first; coil 19 is bit 9 = byte 1 bit 1.
	for _, c := range []struct {
		block []byte
		want  bool
	}{{[]byte{0x00, 0x02}, true}, {[]byte{0xFF, 0xFD}, false}} {
		v, err := p.Codec.Decode(c.block, p.Start-10)
		if err != nil || v.Bool() != c.want {
			t.Errorf("coil from % X: %v %v", c.block, v, err)
		}
	}
	if _, err := p.Codec.Decode([]byte{0xFF}, p.Start-10); errcode.Of(err) != errcode.ModbusMalformed {
		t.Errorf("short bit block: %v", err)
	}
	if _, err := p.Codec.Decode([]byte{0xFF, 0xFF}, 16); errcode.Of(err) != errcode.ModbusMalformed {
		t.Errorf("offset past the block: %v", err)
	}
	b, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:0.9", Type: model.Bool})
	if v, _ := b.Codec.Decode([]byte{0x02, 0x00}, 0); !v.Bool() {
		t.Error("bit 9 of 0x0200")
	}
	if v, _ := b.Codec.Decode([]byte{0xFD, 0xFF}, 0); v.Bool() {
		t.Error("bit 9 of 0xFDFF")
	}
	i16, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:0", Type: model.Int16})
	if _, err := i16.Codec.Encode(model.IntValue(model.Int32, 40000)); errcode.Of(err) != errcode.ModbusValueOutOfRange {
		t.Errorf("int16 40000: %v", err)
	}
	u16, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:0", Type: model.Uint16})
	if _, err := u16.Codec.Encode(model.IntValue(model.Int16, -1)); errcode.Of(err) != errcode.ModbusValueOutOfRange {
		t.Errorf("uint16 -1: %v", err)
	}
	if enc, err := u16.Codec.Encode(model.FloatValue(model.Float64, 65535)); err != nil || !bytes.Equal(enc, []byte{0xFF, 0xFF}) {
		t.Errorf("uint16 from float: % X %v", enc, err)
	}
	if _, err := i16.Codec.Decode([]byte{0x01}, 0); errcode.Of(err) != errcode.ModbusMalformed {
		t.Errorf("short register block: %v", err)
	}
	s, _ := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: "hr:0", Type: model.String, Length: 3})
	if _, err := s.Codec.Encode(model.StringValue("toolong")); errcode.Of(err) != errcode.ModbusValueOutOfRange {
		t.Errorf("long string: %v", err)
	}
}

func TestClassify(t *testing.T) {
	d := Driver{}
	cases := map[errcode.Code]driver.Fault{
		errcode.ModbusIllegalAddress:  driver.FaultRejected,
		errcode.ModbusIllegalValue:    driver.FaultRejected,
		errcode.ModbusIllegalFunction: driver.FaultDevice,
		errcode.ModbusDeviceFailure:   driver.FaultDevice,
		errcode.ModbusBusy:            driver.FaultDevice,
		errcode.ModbusGatewayTarget:   driver.FaultDevice,
		errcode.ModbusTimeout:         driver.FaultTimeout,
		errcode.ModbusMalformed:       driver.FaultMalformed,
		errcode.ModbusConnection:      driver.FaultTransport,
		errcode.ModbusNotConnected:    driver.FaultTransport,
	}
	for c, want := range cases {
		if got := d.Classify(errcode.New(c, "x")); got != want {
			t.Errorf("%s: %v, want %v", c, got, want)
		}
	}
}

func TestOpenEndpoints(t *testing.T) {
	good := []string{"tcp://127.0.0.1:502", "rtu+tcp://[::1]:4001", "rtu:///dev/ttyUSB0?baud=9600&parity=N&stop=2&data=8", "rtu:///dev/ttyS0"}
	for _, e := range good {
		if _, err := (Driver{}).Open(driver.DeviceSpec{}, e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	bad := []string{"udp://1.2.3.4:502", "tcp://host", "rtu:///dev/ttyS0?baud=12345", "rtu:///dev/ttyS0?parity=X", "rtu:///dev/ttyS0?flow=rts", "rtu://"}
	for _, e := range bad {
		if _, err := (Driver{}).Open(driver.DeviceSpec{}, e); errcode.Of(err) != errcode.ModbusBadEndpoint {
			t.Errorf("%s: %v", e, err)
		}
	}
	s, _ := parseSerial(mustURL(t, "rtu:///dev/x?baud=9600"))
	// 11 bits per character (start, 8 data, even parity, stop) at 9600 baud: 3.5 chars = 4.01 ms.
	if d := s.silence(); d < 4000000 || d > 4020000 {
		t.Errorf("silence at 9600 8E1: %v", d)
	}
}

// Codecs hold no position, so Resolve shares one per encoding: the engine
// keeps 300,000 points without 300,000 codecs.
func TestCodecsAreShared(t *testing.T) {
	res := func(addr string, typ model.Type, bo string) driver.Point {
		t.Helper()
		p, err := Driver{}.Resolve(driver.DeviceSpec{Unit: 1}, driver.TagSpec{Address: addr, Type: typ, ByteOrder: bo})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := res("hr:10", model.Uint32, ""), res("u7/hr:500", model.Uint32, "big")
	if a.Codec != b.Codec {
		t.Error("two uint32 registers with the same orders got different codecs")
	}
	for _, other := range []driver.Point{res("hr:10", model.Int32, ""), res("hr:10", model.Uint32, "little"), res("ir:10", model.Uint32, "")} {
		if other.Codec == a.Codec {
			t.Errorf("%v at %d shares the codec of a different encoding", other.Type, other.Start)
		}
	}
	// One shared codec decodes each point at its own offset.
	block := []byte{0, 0, 0, 1, 0, 0, 0, 2}
	for _, c := range []struct {
		off  uint32
		want uint64
	}{{0, 1}, {1, 1 << 16}, {2, 2}} {
		v, err := a.Codec.Decode(block, c.off)
		if err != nil || v != model.UintValue(model.Uint32, c.want) {
			t.Errorf("offset %d: %v (%v), want %d", c.off, v, err, c.want)
		}
	}
	if _, err := a.Codec.Decode(block, 3); errcode.Of(err) != errcode.ModbusMalformed {
		t.Errorf("uint32 at register 3 of a 4-register block: %v", err)
	}
}

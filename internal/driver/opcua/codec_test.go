package opcua

import (
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// A block of two slots, byte by byte, as docs/opcua.md describes it.
var exampleBlock = []byte{
	// slot 0: Good, float 2.5
	0x00, 0x00, 0x00, 0x00, // status
	0x04, 0, 0, 0, // kind float
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x40, // float64 bits of 2.5, little-endian
	// slot 1: Good, string "ab" at offset 32, length 2
	0x00, 0x00, 0x00, 0x00,
	0x05, 0, 0, 0,
	0x20, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
	// string heap
	'a', 'b',
}

func TestBlockExample(t *testing.T) {
	v, err := codecFor(model.Float32).Decode(exampleBlock, 0)
	if err != nil || v != model.FloatValue(model.Float32, 2.5) {
		t.Fatalf("slot 0 = %v %v", v, err)
	}
	v, err = codecFor(model.String).Decode(exampleBlock, 1)
	if err != nil || v.String() != "ab" {
		t.Fatalf("slot 1 = %v %v", v, err)
	}
	var heap []byte
	b := appendSlot(nil, ua.StatusOK, scalar{kind: kindFloat, bits: math.Float64bits(2.5)}, &heap, 2*slotSize)
	b = appendSlot(b, ua.StatusOK, scalar{kind: kindString, s: "ab"}, &heap, 2*slotSize)
	if got := string(append(b, heap...)); got != string(exampleBlock) {
		t.Fatalf("encoded % x\nwant    % x", got, exampleBlock)
	}
}

func TestConvert(t *testing.T) {
	cases := []struct {
		in   *ua.Variant
		typ  model.Type
		want model.Value
		code errcode.Code
	}{
		{ua.MustVariant(int32(-5)), model.Int16, model.IntValue(model.Int16, -5), 0},
		{ua.MustVariant(int32(40000)), model.Int16, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(int64(-1)), model.Uint32, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(uint64(math.MaxUint64)), model.Int64, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(uint16(7)), model.Float32, model.FloatValue(model.Float32, 7), 0},
		{ua.MustVariant(3.0), model.Uint8, model.UintValue(model.Uint8, 3), 0},
		{ua.MustVariant(3.5), model.Int32, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(true), model.Int8, model.IntValue(model.Int8, 1), 0},
		{ua.MustVariant(0.0), model.Bool, model.BoolValue(false), 0},
		{ua.MustVariant("42.5"), model.Float64, model.FloatValue(model.Float64, 42.5), 0},
		{ua.MustVariant("x"), model.Float64, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(1.25), model.String, model.StringValue("1.25"), 0},
		{ua.MustVariant([]float64{1, 2}), model.Float64, model.Value{}, errcode.UATypeMismatch},
		{ua.MustVariant(time.Unix(0, 5)), model.Int64, model.IntValue(model.Int64, 5), 0},
		{nil, model.Float64, model.Value{}, errcode.UATypeMismatch},
	}
	for i, c := range cases {
		got, err := convert(fromVariant(c.in), c.typ)
		if errcode.Of(err) != c.code || (c.code == 0 && got != c.want) {
			t.Errorf("case %d: %v %v, want %v code %d", i, got, err, c.want, c.code)
		}
	}
}

func TestDecodeBadStatusAndTruncation(t *testing.T) {
	var heap []byte
	b := appendSlot(nil, ua.StatusBadNodeIDUnknown, scalar{}, &heap, slotSize)
	if _, err := codecFor(model.Int32).Decode(b, 0); errcode.Of(err) != errcode.UABadStatus {
		t.Fatalf("bad status: %v", err)
	}
	if _, err := codecFor(model.Int32).Decode(b, 1); errcode.Of(err) != errcode.UAMalformed {
		t.Fatalf("missing slot: %v", err)
	}
	b = appendSlot(nil, ua.StatusOK, scalar{kind: kindString, s: "long"}, &heap, slotSize)
	if _, err := codecFor(model.String).Decode(b, 0); errcode.Of(err) != errcode.UAMalformed {
		t.Fatalf("string past the end: %v", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, v := range []model.Value{model.BoolValue(true), model.IntValue(model.Int64, math.MinInt64), model.UintValue(model.Uint16, 65535),
		model.FloatValue(model.Float64, -0.5), model.StringValue("héllo")} {
		c := codecFor(v.T)
		b, err := c.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b, 0)
		if err != nil || !got.Equal(v) {
			t.Errorf("%v: round trip gave %v %v", v, got, err)
		}
	}
}

func TestResolve(t *testing.T) {
	d := New()
	dev := driver.DeviceSpec{Name: "a"}
	p1, err := d.Resolve(dev, driver.TagSpec{Address: "ns=2;s=Machine.Speed", Type: model.Float64})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := d.Resolve(dev, driver.TagSpec{Address: "i=2258", Type: model.Int64})
	p3, _ := d.Resolve(dev, driver.TagSpec{Address: "ns=2;s=Machine.Speed", Type: model.Float32})
	if p1.Start != 0 || p2.Start != 1 || p3.Start != 0 || p1.Space != p2.Space {
		t.Fatalf("points %+v %+v %+v", p1, p2, p3)
	}
	other, _ := d.Resolve(driver.DeviceSpec{Name: "b"}, driver.TagSpec{Address: "i=2258", Type: model.Int64})
	if other.Start != 0 {
		t.Fatalf("devices share numbering: %+v", other)
	}
	for _, bad := range []string{"", "ns=2;x=1", "s", "ns=abc;i=1", "i=notanumber"} {
		if _, err := d.Resolve(dev, driver.TagSpec{Address: bad, Type: model.Int32}); errcode.Of(err) != errcode.UABadNodeID {
			t.Errorf("address %q: %v, want %s", bad, err, errcode.UABadNodeID)
		}
	}
}

func TestOptions(t *testing.T) {
	ok := []map[string]string{
		nil,
		{"security_policy": "None"},
		{"security_policy": "Aes256_Sha256_RsaPss", "security_mode": "Sign"},
		{"auth": "username", "username": "u", "password_env": "P"},
		{"mode": "poll", "max_nodes_per_read": "100", "queue_size": "1", "reconnect_timeout": "5s"},
	}
	for _, o := range ok {
		if _, err := parseSettings("opc.tcp://h:4840/x", o, 0); err != nil {
			t.Errorf("%v: %v", o, err)
		}
	}
	bad := []map[string]string{
		{"security_policy": "Basic128Rsa15"},
		{"security_policy": "None", "security_mode": "Sign"},
		{"security_mode": "None"},
		{"auth": "username", "username": "u"},
		{"auth": "username", "username": "u", "password_env": "P", "password_file": "f"},
		{"auth": "kerberos"},
		{"mode": "sometimes"},
		{"queue_size": "0"},
		{"colour": "blue"},
	}
	for _, o := range bad {
		if _, err := parseSettings("opc.tcp://h:4840/x", o, 0); errcode.Of(err) != errcode.UABadOption {
			t.Errorf("%v: %v, want %s", o, err, errcode.UABadOption)
		}
	}
	for _, ep := range []string{"tcp://h:1", "opc.tcp://", "::"} {
		if _, err := parseSettings(ep, nil, 0); errcode.Of(err) != errcode.UABadEndpoint {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	s, _ := parseSettings("opc.tcp://h/x", nil, 0)
	if s.endpoint != "opc.tcp://h:4840/x" || s.mode != ua.MessageSecurityModeSignAndEncrypt {
		t.Errorf("defaults: %+v", s)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(exampleBlock, uint32(0), uint8(model.Float64))
	f.Add(exampleBlock, uint32(1), uint8(model.String))
	f.Add(exampleBlock[:20], uint32(1), uint8(model.Int8))
	f.Fuzz(func(t *testing.T, b []byte, off uint32, typ uint8) {
		ty := model.Type(typ % uint8(model.String+1))
		v, err := codecFor(ty).Decode(b, off)
		if err != nil {
			if errcode.Of(err) == 0 {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if v.T != ty {
			t.Fatalf("decoded %v for type %v", v.T, ty)
		}
	})
}

func FuzzParseNodeID(f *testing.F) {
	for _, s := range []string{"ns=2;s=Machine.Speed", "i=2258", "ns=3;i=1001", "ns=1;g=5CE9DBCE-5D79-434C-9AC3-1CFBA9A6E92C", "ns=1;b=YWJj", "s=", "ns=65536;i=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseNodeID(s)
		if err != nil {
			if errcode.Of(err) != errcode.UABadNodeID {
				t.Fatalf("%q: error without its code: %v", s, err)
			}
			return
		}
		// The canonical form must parse to the same node.
		again, err := ParseNodeID(id.String())
		if err != nil || again.String() != id.String() {
			t.Fatalf("%q -> %q -> %v %v", s, id.String(), again, err)
		}
	})
}

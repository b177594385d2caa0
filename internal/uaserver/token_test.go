package uaserver

import (
	"encoding/binary"
	"testing"

	"github.com/otlink/otlink/internal/model"
)

func secret(pw string, nonce []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(pw)+len(nonce)))
	return append(append(b, pw...), nonce...)
}

func TestParsePassword(t *testing.T) {
	nonce := []byte("0123456789abcdef0123456789abcdef")
	if pw, err := parsePassword(secret("hunter2", nonce), nonce); err != nil || pw != "hunter2" {
		t.Fatalf("got %q, %v", pw, err)
	}
	for name, b := range map[string][]byte{
		"short":       {1, 0},
		"other nonce": secret("hunter2", []byte("ffffffffffffffffffffffffffffffff")),
		"too long":    append(binary.LittleEndian.AppendUint32(nil, 1000), nonce...),
		"no password": binary.LittleEndian.AppendUint32(nil, 0),
	} {
		if _, err := parsePassword(b, nonce); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParsePassword(f *testing.F) {
	nonce := []byte("0123456789abcdef0123456789abcdef")
	f.Add(secret("pw", nonce))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pw, err := parsePassword(b, nonce)
		if err == nil && string(secret(pw, nonce)) != string(b[:4+len(pw)+len(nonce)]) {
			t.Fatalf("accepted %x as %q", b, pw)
		}
	})
}

func TestFromVariant(t *testing.T) {
	for _, c := range []struct {
		in   any
		t    model.Type
		want model.Value
		ok   bool
	}{
		{float64(150), model.Uint16, model.UintValue(model.Uint16, 150), true},
		{int32(-3), model.Int16, model.IntValue(model.Int16, -3), true},
		{int32(-3), model.Uint16, model.Value{}, false},
		{1.5, model.Int32, model.Value{}, false},
		{1.5, model.Float32, model.FloatValue(model.Float32, 1.5), true},
		{true, model.Bool, model.BoolValue(true), true},
		{true, model.Uint16, model.Value{}, false},
		{"x", model.String, model.StringValue("x"), true},
		{uint64(1 << 63), model.Int64, model.Value{}, false},
	} {
		got, ok := fromVariant(toVariantAny(c.in), c.t)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%T %v as %s: %v %v, want %v %v", c.in, c.in, c.t, got, ok, c.want, c.ok)
		}
	}
}

func toVariantAny(x any) *uaVariant { return mustVariant(x) }

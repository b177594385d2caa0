package uavalue

import (
	"testing"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/model"
)

func TestVariantTypes(t *testing.T) {
	cases := []struct {
		v    model.Value
		want ua.TypeID
		x    any
	}{
		{model.BoolValue(true), ua.TypeIDBoolean, true},
		{model.IntValue(model.Int8, -5), ua.TypeIDSByte, int8(-5)},
		{model.UintValue(model.Uint8, 200), ua.TypeIDByte, uint8(200)},
		{model.IntValue(model.Int16, -300), ua.TypeIDInt16, int16(-300)},
		{model.UintValue(model.Uint16, 60000), ua.TypeIDUint16, uint16(60000)},
		{model.IntValue(model.Int32, -70000), ua.TypeIDInt32, int32(-70000)},
		{model.UintValue(model.Uint32, 4e9), ua.TypeIDUint32, uint32(4e9)},
		{model.IntValue(model.Int64, -1<<40), ua.TypeIDInt64, int64(-1 << 40)},
		{model.UintValue(model.Uint64, 1<<63), ua.TypeIDUint64, uint64(1 << 63)},
		{model.FloatValue(model.Float32, 1.5), ua.TypeIDFloat, float32(1.5)},
		{model.FloatValue(model.Float64, 2.25), ua.TypeIDDouble, 2.25},
		{model.StringValue("run"), ua.TypeIDString, "run"},
	}
	for _, c := range cases {
		got := Variant(c.v)
		if got == nil || got.Type() != c.want || got.Value() != c.x {
			t.Errorf("Variant(%v) = %v, want %v %v", c.v, got, c.want, c.x)
		}
	}
	if Variant(model.Value{}) != nil {
		t.Errorf("a value of no type gave a variant")
	}
}

package model

import (
	"encoding/json"
	"math"
	"testing"
)

func TestValueConversions(t *testing.T) {
	cases := []struct {
		v    Value
		str  string
		f    float64
		json string
	}{
		{BoolValue(true), "true", 1, "true"},
		{BoolValue(false), "false", 0, "false"},
		{IntValue(Int16, -12), "-12", -12, "-12"},
		{IntValue(Int64, math.MinInt64), "-9223372036854775808", math.MinInt64, "-9223372036854775808"},
		{UintValue(Uint64, math.MaxUint64), "18446744073709551615", math.MaxUint64, "18446744073709551615"},
		{FloatValue(Float32, float64(float32(1.1))), "1.1", float64(float32(1.1)), "1.1"},
		{FloatValue(Float64, 2.5), "2.5", 2.5, "2.5"},
		{FloatValue(Float64, math.NaN()), "NaN", math.NaN(), `"NaN"`},
		{FloatValue(Float64, math.Inf(-1)), "-Inf", math.Inf(-1), `"-Inf"`},
		{StringValue(`a "quoted" <tag>`), `a "quoted" <tag>`, 0, `"a \"quoted\" \u003ctag\u003e"`},
		{Value{}, "<none>", 0, "null"},
	}
	for _, c := range cases {
		if got := c.v.String(); got != c.str {
			t.Errorf("%v String = %q, want %q", c.v.T, got, c.str)
		}
		if f := c.v.Float(); f != c.f && !(math.IsNaN(f) && math.IsNaN(c.f)) {
			t.Errorf("%v Float = %v, want %v", c.v.T, f, c.f)
		}
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.json {
			t.Errorf("%v JSON = %s %v, want %s", c.v.T, b, err, c.json)
		}
	}
	if !FloatValue(Float64, math.NaN()).Equal(FloatValue(Float64, math.NaN())) {
		t.Error("an unchanged NaN must compare equal, or it is reported as a change every cycle")
	}
	if IntValue(Int32, 1).Equal(UintValue(Uint32, 1)) {
		t.Error("values of different types must differ")
	}
}

func TestTypes(t *testing.T) {
	for _, n := range TypeNames() {
		ty, ok := ParseType(n)
		if !ok || ty.String() != n {
			t.Errorf("ParseType(%q) = %v %v", n, ty, ok)
		}
	}
	if _, ok := ParseType("invalid"); ok {
		t.Error("invalid is not a type name")
	}
	if Float32.Bits() != 32 || String.Bits() != 0 || !Int8.IsSigned() || Uint8.IsSigned() || !Float64.IsFloat() {
		t.Error("type predicates")
	}
}

func TestQuality(t *testing.T) {
	for _, c := range []struct {
		q        Quality
		severity string
		name     string
	}{
		{Good, "good", "Good"},
		{UncertainEngineeringUnitsExceeded, "uncertain", "UncertainEngineeringUnitsExceeded"},
		{BadTimeout, "bad", "BadTimeout"},
		{BadTimeout | 0x0400, "bad", "BadTimeout"}, // info bits do not change the name
		{Quality(0x80AB0000), "bad", "0x80AB0000"},
	} {
		if c.q.Severity() != c.severity || c.q.String() != c.name {
			t.Errorf("%08X: %s %s, want %s %s", uint32(c.q), c.q.Severity(), c.q, c.severity, c.name)
		}
	}
}

func TestSubject(t *testing.T) {
	got := Subject("acme/taichung/line.1/cnc 01/spindle*speed>")
	want := "acme.taichung.line_1.cnc_01.spindle_speed_"
	if got != want {
		t.Fatalf("Subject = %q, want %q", got, want)
	}
}

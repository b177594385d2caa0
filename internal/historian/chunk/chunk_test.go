package chunk

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

const tagPath = "acme/taichung/machining/line1/cnc01/spindle_speed"

func encode(t testing.TB, typ model.Type, ss []model.Sample) []byte {
	t.Helper()
	e := NewEncoder(tagPath, typ)
	for _, s := range ss {
		if err := e.Append(s); err != nil {
			t.Fatalf("append %+v: %v", s, err)
		}
	}
	return e.Finish()
}

func decodeAll(t testing.TB, b []byte) []model.Sample {
	t.Helper()
	r, err := Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := r.Samples(nil)
	if err != nil {
		t.Fatalf("iterate: %v", err)
	}
	return out
}

func checkSame(t testing.TB, want, got []model.Sample) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.Tag = tagPath
		if got[i] != w {
			t.Fatalf("sample %d: got %+v, want %+v", i, got[i], w)
		}
	}
}

// series builds n samples with the given value function, a regular 1 s
// interval and a constant server offset.
func series(n int, typ model.Type, val func(i int) model.Value) []model.Sample {
	t0 := int64(1_700_000_000_000_000_000)
	ss := make([]model.Sample, n)
	for i := range ss {
		ts := t0 + int64(i)*1e9
		ss[i] = model.Sample{Tag: tagPath, Value: val(i), Source: ts, Server: ts + 2_345_000}
	}
	return ss
}

func TestRoundTripTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		typ  model.Type
		val  func(i int) model.Value
	}{
		{"float64 walk", model.Float64, func(i int) model.Value { return model.FloatValue(model.Float64, 20+r.NormFloat64()) }},
		{"float64 decimal", model.Float64, func(i int) model.Value { return model.FloatValue(model.Float64, float64(r.IntN(100000))/100) }},
		{"float64 nan inf negzero", model.Float64, func(i int) model.Value {
			return model.FloatValue(model.Float64, []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e308, 5e-324}[i%6])
		}},
		{"float32", model.Float32, func(i int) model.Value { return model.FloatValue(model.Float32, float64(float32(r.Float64()*1000))) }},
		{"float32 not representable", model.Float32, func(i int) model.Value { return model.FloatValue(model.Float32, r.Float64()) }},
		{"int16", model.Int16, func(i int) model.Value { return model.IntValue(model.Int16, int64(r.IntN(1000)-500)) }},
		{"int64 extremes", model.Int64, func(i int) model.Value {
			return model.IntValue(model.Int64, []int64{math.MinInt64, math.MaxInt64, 0, -1}[i%4])
		}},
		{"uint32 counter", model.Uint32, func(i int) model.Value { return model.UintValue(model.Uint32, uint64(1000+i/3)) }},
		{"uint64 max", model.Uint64, func(i int) model.Value { return model.UintValue(model.Uint64, math.MaxUint64-uint64(i%2)) }},
		{"bool", model.Bool, func(i int) model.Value { return model.BoolValue(i/7%2 == 0) }},
		{"string", model.String, func(i int) model.Value { return model.StringValue([]string{"O1000", "O2000", "", "DIE-007"}[i/5%4]) }},
	}
	for _, c := range cases {
		for _, n := range []int{0, 1, 2, 3, 1000, MaxSamples} {
			ss := series(n, c.typ, c.val)
			// Some bad samples, some with no value at all.
			for i := range ss {
				if n == MaxSamples {
					break // a long run of one quality: the smallest chunk
				}
				switch i % 97 {
				case 13:
					ss[i].Quality, ss[i].Code = model.BadTimeout, 2102
					ss[i].Value = model.Value{}
				case 14:
					ss[i].Quality = model.UncertainLastUsableValue
				}
			}
			got := decodeAll(t, encode(t, c.typ, ss))
			checkSame(t, ss, got)
		}
	}
}

func TestIrregularTimestamps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := int64(-5e18)
	var ss []model.Sample
	for i := range 2000 {
		switch i % 5 {
		case 0:
			ts += int64(r.Uint64N(1 << 62)) // huge jumps
		case 1:
			// duplicate timestamp
		default:
			ts += int64(r.IntN(1e6))
		}
		srv := ts + int64(r.Uint64())
		ss = append(ss, model.Sample{Value: model.FloatValue(model.Float64, float64(i)), Source: ts, Server: srv})
		if ts > 4e18 {
			ts = -4e18 + int64(i)
			break
		}
	}
	checkSame(t, ss, decodeAll(t, encode(t, model.Float64, ss)))
}

func TestAppendErrors(t *testing.T) {
	e := NewEncoder(tagPath, model.Float64)
	if err := e.Append(model.Sample{Value: model.IntValue(model.Int32, 1), Source: 1}); errcode.Of(err) != errcode.HistChunkType {
		t.Errorf("type change: got %v, want HistChunkType", err)
	}
	if err := e.Append(model.Sample{Tag: "other", Value: model.FloatValue(model.Float64, 1), Source: 1}); errcode.Of(err) != errcode.HistChunkOrder {
		t.Errorf("other tag: got %v", err)
	}
	if err := e.Append(model.Sample{Value: model.FloatValue(model.Float64, 1), Source: 10}); err != nil {
		t.Fatal(err)
	}
	if err := e.Append(model.Sample{Value: model.FloatValue(model.Float64, 1), Source: 9}); errcode.Of(err) != errcode.HistChunkOrder {
		t.Errorf("older sample: got %v", err)
	}
	if err := e.Append(model.Sample{Quality: model.BadTimeout, Source: 10}); err != nil {
		t.Errorf("a sample without value must fit any chunk: %v", err)
	}
	if e.Len() != 2 || e.MinT() != 10 || e.MaxT() != 10 {
		t.Errorf("len %d min %d max %d", e.Len(), e.MinT(), e.MaxT())
	}
}

func TestHeader(t *testing.T) {
	ss := series(10, model.Int32, func(i int) model.Value { return model.IntValue(model.Int32, int64(i)) })
	r, err := Decode(encode(t, model.Int32, ss))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tag() != tagPath || r.Type() != model.Int32 || r.Len() != 10 || r.MinT() != ss[0].Source || r.MaxT() != ss[9].Source {
		t.Errorf("header: %s %s %d %d %d", r.Tag(), r.Type(), r.Len(), r.MinT(), r.MaxT())
	}
}

// Every single bit flip and every truncation must be caught with a code.
func TestCorruptionDetected(t *testing.T) {
	ss := series(300, model.Float64, func(i int) model.Value { return model.FloatValue(model.Float64, math.Sin(float64(i)/10)) })
	ss[5].Quality, ss[5].Code = model.BadNotConnected, 2101
	b := encode(t, model.Float64, ss)
	for i := range len(b) * 8 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		_, err := Decode(c)
		if err == nil {
			t.Fatalf("flip of bit %d not detected", i)
		}
		if code := errcode.Of(err); code < errcode.HistChunkCorrupt || code > errcode.HistChunkVersion {
			t.Fatalf("flip of bit %d: error without a chunk code: %v", i, err)
		}
	}
	for n := range len(b) {
		if _, err := Decode(b[:n]); err == nil || errcode.Of(err) == 0 {
			t.Fatalf("truncation to %d bytes: %v", n, err)
		}
	}
}

func TestVersionError(t *testing.T) {
	b := encode(t, model.Bool, series(3, model.Bool, func(int) model.Value { return model.BoolValue(true) }))
	b[4] = 9
	if _, err := Decode(b); !errors.Is(err, errcode.HistChunkVersion) {
		t.Errorf("got %v", err)
	}
}

func TestIterZeroAlloc(t *testing.T) {
	for _, typ := range []model.Type{model.Float64, model.Float32, model.Int32, model.Bool, model.String} {
		ss := series(1000, typ, func(i int) model.Value {
			switch typ {
			case model.Bool:
				return model.BoolValue(i%3 == 0)
			case model.String:
				return model.StringValue([]string{"a", "b"}[i/10%2])
			case model.Int32:
				return model.IntValue(typ, int64(i*i))
			}
			return model.FloatValue(typ, float64(float32(math.Sin(float64(i)))))
		})
		r, err := Decode(encode(t, typ, ss))
		if err != nil {
			t.Fatal(err)
		}
		it := r.Iter()
		var sum int64
		allocs := testing.AllocsPerRun(10, func() {
			it.Reset(r)
			for it.Next() {
				sum += it.At().Source
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per iteration", typ, allocs)
		}
	}
}

func TestRegularTimestampsCost(t *testing.T) {
	for _, step := range []int64{1e9, 100e6, 250e6} {
		ts := make([]int64, 4096)
		for i := range ts {
			ts[i] = 1_700_000_000_123_456_789 + int64(i)*step
		}
		col := appendIntCol(nil, ts)
		if bits := float64(8*len(col)) / 4096; bits > 1.2 {
			t.Errorf("step %d: %.2f bits per timestamp", step, bits)
		}
	}
}

package agg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/model"
)

func TestMinMaxKeepsEnvelope(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for run := range 200 {
		var ss []model.Sample
		for i := range r.IntN(500) {
			s := model.Sample{Source: int64(i) * 1e9, Value: model.FloatValue(model.Float64, r.NormFloat64())}
			if r.IntN(10) == 0 {
				s.Quality = model.BadTimeout
			}
			ss = append(ss, s)
		}
		buckets := 1 + r.IntN(50)
		out, err := MinMax(Slice(ss), 0, 500e9, buckets, nil)
		if err != nil {
			t.Fatal(err)
		}
		// In time order, at most 2 per bucket + first and last, and every
		// bucket's extremes present.
		if len(out) > 2*buckets+2 {
			t.Fatalf("run %d: %d points for %d buckets", run, len(out), buckets)
		}
		for i := 1; i < len(out); i++ {
			if out[i].Source < out[i-1].Source {
				t.Fatalf("run %d: out of order", run)
			}
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range ss {
			if !s.Quality.IsBad() {
				lo, hi = min(lo, s.Value.Float()), max(hi, s.Value.Float())
			}
		}
		olo, ohi := math.Inf(1), math.Inf(-1)
		for _, s := range out {
			if s.Quality.IsBad() {
				t.Fatalf("run %d: bad sample in plot", run)
			}
			olo, ohi = min(olo, s.Value.Float()), max(ohi, s.Value.Float())
		}
		if olo != lo || ohi != hi {
			t.Fatalf("run %d: envelope %v..%v, want %v..%v", run, olo, ohi, lo, hi)
		}
	}
}

func TestLTTB(t *testing.T) {
	ss := daySeries()[:10000]
	out := LTTB(ss, 500)
	if len(out) != 500 || out[0] != ss[0] || out[499] != ss[9999] {
		t.Fatalf("LTTB: %d points, first %v last %v", len(out), out[0], out[len(out)-1])
	}
	for i := 1; i < len(out); i++ {
		if out[i].Source <= out[i-1].Source {
			t.Fatal("LTTB output not in time order")
		}
	}
	// A single spike must survive decimation.
	flat := make([]model.Sample, 1000)
	for i := range flat {
		flat[i] = model.Sample{Source: int64(i), Value: model.FloatValue(model.Float64, 0)}
	}
	flat[537].Value = model.FloatValue(model.Float64, 100)
	found := false
	for _, s := range LTTB(flat, 50) {
		found = found || s.Source == 537
	}
	if !found {
		t.Error("LTTB dropped the only spike")
	}
	if got := LTTB(ss[:10], 100); len(got) != 10 {
		t.Errorf("fewer points than the threshold: %d", len(got))
	}
}

// The chunk iterator feeds Aggregate directly, without a slice.
func TestAggregateFromChunk(t *testing.T) {
	ss := daySeries()[:4096]
	e := chunk.NewEncoder("t", model.Float64)
	for _, s := range ss {
		if err := e.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	r, err := chunk.Decode(e.Finish())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Aggregate(r.Iter(), 0, 4096e9, 60e9, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Aggregate(Slice(ss), 0, 4096e9, 60e9, Options{}, nil)
	for i := range want {
		want[i].First.Tag, want[i].Last.Tag = "t", "t"
		if err := compare(got[i], want[i]); err != nil {
			t.Fatalf("interval %d: %v", i, err)
		}
	}
}

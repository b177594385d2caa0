package query

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// memRollups adds rollup rows computed from all samples the way the
// store computes them: agg over 1-minute and 1-hour intervals, one row
// per interval that holds a sample.
type memRollups struct {
	memAfter
	rows map[string]map[string][]RollupRow // tag -> level -> rows
}

func rollupsOf(t *testing.T, m *mem) map[string]map[string][]RollupRow {
	out := map[string]map[string][]RollupRow{}
	for tag, ss := range m.series {
		out[tag] = map[string][]RollupRow{}
		for _, l := range levels {
			lo := ss[0].Source / l.iv * l.iv
			hi := (ss[len(ss)-1].Source/l.iv + 1) * l.iv
			res, err := agg.Aggregate(agg.Slice(ss), lo, hi, l.iv, agg.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := map[int64]int{}
			for _, s := range ss {
				n[s.Source/l.iv*l.iv]++
			}
			for _, r := range res {
				if n[r.Start] == 0 {
					continue
				}
				row := RollupRow{Start: r.Start, End: r.End, Status: r.Status, Samples: n[r.Start], Count: r.Count,
					Min: r.Minimum, Max: r.Maximum, MinTime: r.MinimumTime, MaxTime: r.MaximumTime,
					First: math.NaN(), Last: math.NaN(), Sum: math.NaN(), Total: r.Total, StdDevPopulation: r.StdDevPopulation,
					PercentGood: r.PercentGood, DurationGood: r.DurationGood, Transitions: r.Transitions}
				if r.Count > 0 {
					row.First, row.FirstTime = r.First.Value.Float(), r.First.Source
					row.Last, row.LastTime = r.Last.Value.Float(), r.Last.Source
					row.Sum = r.Average * float64(r.Count)
				}
				out[tag][l.name] = append(out[tag][l.name], row)
			}
		}
	}
	return out
}

func (m memRollups) Rollups(ctx context.Context, tag, level string, from, to int64) ([]RollupRow, error) {
	var out []RollupRow
	for _, r := range m.rows[tag][level] {
		if r.Start >= from && r.Start < to {
			out = append(out, r)
		}
	}
	return out, nil
}

// randomHistory writes ten days of a float and an int tag: irregular
// samples, silent stretches of minutes to hours (as lossy compression
// leaves), outages of bad samples; the newest sample is good. A silent
// stretch never follows a bad sample, nor an outage a silent stretch, by
// less than 3 minutes: in a minute that mixes good and bad samples, rows
// cannot tell which came first or last, and the query needs the raw
// samples for the stretch.
func randomHistory(rng *rand.Rand, start int64) *mem {
	m := newMem()
	end := start + 10*24*int64(time.Hour)
	for _, tag := range []string{"a/f", "a/i"} {
		v := 50.0
		t := start
		lastBad, lastGap, outage := int64(0), int64(0), 0
		for i := 0; t < end && i < 200_000; i++ {
			quiet := t-lastBad > 3*int64(time.Minute)
			switch r := rng.Float64(); {
			case r < 0.002 && quiet:
				t += int64(rng.IntN(5*3600)) * int64(time.Second)
				lastGap = t
			case r < 0.02 && quiet:
				t += int64(rng.IntN(600)) * int64(time.Second)
				lastGap = t
			default:
				t += int64(1+rng.IntN(40)) * int64(time.Second)
			}
			v += rng.NormFloat64()
			s := model.Sample{Tag: tag, Source: t, Quality: model.Good}
			if tag == "a/f" {
				s.Value = model.FloatValue(model.Float64, v)
			} else {
				s.Value = model.IntValue(model.Int32, int64(math.Round(v)))
			}
			if outage == 0 && t-lastGap > 3*int64(time.Minute) && rng.Float64() < 0.003 {
				outage = 1 + rng.IntN(40)
			}
			if outage > 0 && t < end-int64(time.Hour) {
				outage--
				s.Quality, s.Value, lastBad = model.Bad, model.Value{}, t
			}
			m.series[tag] = append(m.series[tag], s) // in order: add would sort each time
		}
	}
	return m
}

func closeEnough(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) == math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-6*max(1, math.Abs(a), math.Abs(b))
}

func compareAgg(t *testing.T, what string, want, got *AggResponse) (diffs int) {
	t.Helper()
	if len(want.Series) != len(got.Series) {
		t.Fatalf("%s: %d series, want %d", what, len(got.Series), len(want.Series))
	}
	for i := range want.Series {
		ws, gs := want.Series[i], got.Series[i]
		if len(ws.Buckets) != len(gs.Buckets) {
			t.Fatalf("%s %s: %d buckets, want %d", what, ws.Tag, len(gs.Buckets), len(ws.Buckets))
		}
		for j := range ws.Buckets {
			wb, gb := ws.Buckets[j], gs.Buckets[j]
			if wb.Status != gb.Status {
				t.Errorf("%s %s bucket %v: status %v, want %v", what, ws.Tag, wb.Start, gb.Status, wb.Status)
				diffs++
			}
			for k := range wb.Values {
				w, g := wb.Values[k], gb.Values[k]
				wv, gv := w.Value.Float(), g.Value.Float()
				if !w.Value.IsValid() {
					wv = math.NaN()
				}
				if !g.Value.IsValid() {
					gv = math.NaN()
				}
				sameTime := (w.Time == nil) == (g.Time == nil) && (w.Time == nil || w.Time.Equal(*g.Time))
				if !closeEnough(wv, gv) || !sameTime {
					if diffs < 10 {
						t.Errorf("%s %s bucket %v %s: %v at %v, want %v at %v", what, ws.Tag, wb.Start, want.Aggregates[k], gv, g.Time, wv, w.Time)
					}
					diffs++
				}
			}
		}
	}
	return diffs
}

var rollupAggNames = []string{"count", "min", "max", "avg", "twa", "total", "range", "first", "last", "stddev", "stddev_pop", "pct_good", "pct_bad", "dur_good", "dur_bad", "transitions"}

// TestAggregateFromRollups: on random data with gaps and bad samples,
// aggregates combined from 1m and 1h rollups equal those from the raw
// samples, and still do after the raw samples were purged.
func TestAggregateFromRollups(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := time.Unix(0, start).Add(11 * 24 * time.Hour)
	checked, fellBack := 0, 0
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		m := randomHistory(rng, start)
		rows := rollupsOf(t, m)
		clock := func() time.Time { return now }
		raw := New(memAfter{m}, Config{Now: clock})
		rolled := New(memRollups{memAfter{m}, rows}, Config{Now: clock})
		for _, c := range []struct{ from, to, iv string }{
			{"2024-03-02T00:00:00Z", "2024-03-10T00:00:00Z", "1h"},
			{"2024-03-01T00:00:00Z", "2024-03-09T00:00:00Z", "6h"},
			{"2024-03-02T00:00:00Z", "2024-03-10T00:00:00Z", "1d"},
			{"2024-03-02T00:07:00Z", "2024-03-09T12:07:00Z", "15m"},
			{"2024-03-01T00:00:00Z", "2024-03-12T00:00:00Z", "1d"},
		} {
			req := AggRequest{Tags: []string{"a/*"}, From: c.from, To: c.to, Interval: c.iv, Aggregates: rollupAggNames}
			want, err := raw.Aggregate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rolled.Aggregate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			used := 0
			for _, s := range got.Series {
				if s.Rollup != "" {
					used++
				}
			}
			if used == 0 {
				t.Errorf("seed %d %v: no series read from rollups", seed, c)
			}
			compareAgg(t, c.iv, want, got)

			// Purge the raw samples before the range's last two days: the
			// rollup answer does not change for the buckets before it.
			cut := got.To.Add(-48 * time.Hour).UnixNano()
			purged := newMem()
			for tag, ss := range m.series {
				for _, s := range ss {
					if s.Source >= cut {
						purged.series[tag] = append(purged.series[tag], s)
					}
				}
			}
			after := New(memRollups{memAfter{purged}, rows}, Config{Now: clock, RawKept: func(string) time.Duration { return time.Hour }})
			got2, err := after.Aggregate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// A series whose rows cannot settle a silent stretch (next to
			// a minute mixing good and bad samples) falls back to the raw
			// samples, which are gone: compare only the others.
			w2, g2 := *want, *got2
			w2.Series, g2.Series = nil, nil
			for i := range got2.Series {
				checked++
				if got2.Series[i].Rollup == "" {
					fellBack++
					continue
				}
				w2.Series = append(w2.Series, want.Series[i])
				g2.Series = append(g2.Series, got2.Series[i])
			}
			compareAgg(t, c.iv+" after purge", &w2, &g2)
		}
	}
	t.Logf("after purge: %d of %d series fell back to raw samples", fellBack, checked)
	if fellBack*4 > checked {
		t.Errorf("after purge: %d of %d series fell back to raw samples", fellBack, checked)
	}
}

// TestRollupPlan: unaligned intervals, other options and aggregates rows
// cannot give fall back to raw samples.
func TestRollupPlan(t *testing.T) {
	now := time.Date(2024, 3, 20, 0, 0, 0, 0, time.UTC)
	e := New(memRollups{memAfter{newMem()}, nil}, Config{Now: func() time.Time { return now }})
	defs := func(names ...string) []*aggDef {
		var out []*aggDef
		for _, n := range names {
			d, _ := lookupAgg(n)
			out = append(out, d)
		}
		return out
	}
	day := int64(24 * time.Hour)
	from := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		from, to, iv int64
		defs         []*aggDef
		o            AggOptions
		level        string
	}{
		{from, from + 10*day, int64(time.Hour), defs("avg"), AggOptions{}, "1h"},
		{from, from + 10*day, int64(15 * time.Minute), defs("avg"), AggOptions{}, "1m"},
		{from + int64(time.Second), from + 10*day, int64(time.Hour), defs("avg"), AggOptions{}, ""},
		{from, from + 10*day, int64(90 * time.Second), defs("avg"), AggOptions{}, ""},
		{from, from + day, int64(time.Hour), defs("avg"), AggOptions{}, ""}, // short and raw kept
		{from, from + 10*day, int64(time.Hour), defs("interpolative"), AggOptions{}, ""},
		{from, from + 10*day, int64(time.Hour), defs("avg"), AggOptions{Stepped: true}, ""},
		{from, from + 10*day, int64(time.Hour), defs("avg"), AggOptions{PercentGood: 80}, ""},
	} {
		level, _, _, ok := e.rollupPlan("x", c.from, c.to, c.iv, c.defs, c.o)
		if ok != (c.level != "") || level != c.level {
			t.Errorf("%+v: level %q %v, want %q", c, level, ok, c.level)
		}
	}
	// Buckets within RollupLag of now come from raw samples.
	_, _, cut, ok := e.rollupPlan("x", now.UnixNano()-10*day, now.UnixNano(), int64(time.Hour), defs("avg"), AggOptions{})
	if !ok || cut != now.UnixNano()-int64(time.Hour) {
		t.Errorf("cut %v %v, want an hour before now", time.Unix(0, cut).UTC(), ok)
	}
}

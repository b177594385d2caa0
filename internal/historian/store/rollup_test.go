package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// refRows is the reference: agg.Aggregate over all samples (sorted by
// source time) in one call, keeping the intervals that hold a sample.
func refRows(t testing.TB, ss []model.Sample, a, b, iv int64, opt *agg.Options) []RollupRow {
	t.Helper()
	ss = slices.Clone(ss)
	slices.SortStableFunc(ss, func(x, y model.Sample) int { return cmpInt(x.Source, y.Source) })
	o := agg.Options{}
	if opt != nil {
		o = *opt
	}
	rs, err := agg.Aggregate(agg.Slice(ss), a, b, iv, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(rs))
	for _, s := range ss {
		if s.Source >= a && s.Source < b {
			counts[(s.Source-a)/iv]++
		}
	}
	var out []RollupRow
	for i := range rs {
		if counts[i] > 0 {
			out = append(out, rowOf(&rs[i], counts[i]))
		}
	}
	return out
}

func close9(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

func compareRows(t *testing.T, what string, got, want []RollupRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		fl := func(x, y float64) bool { return close9(x, y) }
		if g.Start != w.Start || g.End != w.End || g.Status != w.Status || g.Samples != w.Samples || g.Count != w.Count ||
			g.MinTime != w.MinTime || g.MaxTime != w.MaxTime || g.FirstTime != w.FirstTime || g.LastTime != w.LastTime ||
			g.DurationGood != w.DurationGood || g.Transitions != w.Transitions ||
			!fl(g.Min, w.Min) || !fl(g.Max, w.Max) || !fl(g.First, w.First) || !fl(g.Last, w.Last) || !fl(g.Sum, w.Sum) ||
			!fl(g.Average, w.Average) || !fl(g.TimeAverage, w.TimeAverage) || !fl(g.Total, w.Total) ||
			!fl(g.StdDevPopulation, w.StdDevPopulation) || !fl(g.PercentGood, w.PercentGood) {
			t.Fatalf("%s: row %d\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// randomSeries: irregular times (0.2..25 s apart, so some minutes are
// empty), random values, some bad, uncertain and NaN samples.
func randomSeries(rng *rand.Rand, tag string, base int64, span time.Duration) []model.Sample {
	var out []model.Sample
	for t := base; t < base+int64(span); t += int64(200+rng.IntN(25_000)) * int64(time.Millisecond) {
		s := fsample(tag, t, math.Round(rng.NormFloat64()*1000)/10)
		switch r := rng.IntN(100); {
		case r < 8:
			s.Quality = model.Quality(0x80000000) // Bad
		case r < 13:
			s.Quality = model.Quality(0x40000000) // Uncertain
		case r < 15:
			s.Value = model.FloatValue(model.Float64, math.NaN())
		}
		out = append(out, s)
	}
	return out
}

func passAll(t testing.TB, s *Store, now int64) RollupReport {
	t.Helper()
	var sum RollupReport
	for range 10_000 {
		r, err := s.RollupPass(ctx, time.Unix(0, now))
		if err != nil {
			t.Fatal(err)
		}
		sum.Marks += r.Marks
		sum.Computed += r.Computed
		sum.Rows += r.Rows
		if !r.More {
			return sum
		}
	}
	t.Fatal("rollup passes do not finish")
	return sum
}

func checkRollups(t *testing.T, s *Store, what, tag string, ss []model.Sample, a, b int64, opt *agg.Options) {
	t.Helper()
	for l, name := range levelNames {
		iv := levelIntervals[l]
		got, err := s.Rollups(ctx, tag, name, a, b)
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, fmt.Sprintf("%s %s %s", what, tag, name), got, refRows(t, ss, a, b, iv, opt))
	}
}

// TestRollupsEqualAggregate checks rollups against agg.Aggregate over the
// raw data, also after late data landed in rolled-up intervals, for a
// linear and a stepped tag; a string tag gets no rollups.
func TestRollupsEqualAggregate(t *testing.T) {
	stepped := agg.Options{Stepped: true, TreatUncertainAsBad: true, PercentDataGood: 80}
	s := open(t, t.TempDir(), Options{MaxSamples: 200, Logger: quiet, Rollup: RollupOptions{Enable: true, MaxMarks: 100,
		AggOptions: func(tag string) agg.Options {
			if tag == "r/step" {
				return stepped
			}
			return agg.Options{}
		}}})
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	base := int64(1_700_000_000) * sec
	base -= base % int64(time.Hour)
	span := 5 * time.Hour
	lin := randomSeries(rng, "r/lin", base, span)
	step := randomSeries(rng, "r/step", base, span)
	writeAll(t, s, lin, 777)
	writeAll(t, s, step, 777)
	writeAll(t, s, []model.Sample{{Tag: "r/str", Value: model.StringValue("on"), Source: base}}, 1)
	// Within the lateness window nothing of the last minute is computed.
	end := base + int64(span)
	passAll(t, s, end)
	if rows, _ := s.Rollups(ctx, "r/lin", "1m", end-int64(time.Minute), end); len(rows) != 0 {
		t.Fatalf("the last minute was rolled up inside the lateness window: %+v", rows)
	}
	later := end + int64(3*time.Hour)
	passAll(t, s, later)
	a, b := base, end
	checkRollups(t, s, "in order", "r/lin", lin, a, b, nil)
	checkRollups(t, s, "in order", "r/step", step, a, b, &stepped)
	if rows, err := s.Rollups(ctx, "r/str", "1m", math.MinInt64, math.MaxInt64); err != nil || len(rows) != 0 {
		t.Fatalf("string tag rollups %v %v", rows, err)
	}

	// Late data into rolled-up intervals: amending segments.
	have := map[int64]bool{}
	for _, x := range lin {
		have[x.Source] = true
	}
	var late []model.Sample
	for len(late) < 60 {
		tm := base + rng.Int64N(int64(span))/1e6*1e6
		if have[tm] {
			continue
		}
		have[tm] = true
		late = append(late, fsample("r/lin", tm, rng.Float64()*1e4))
	}
	writeAll(t, s, late, 7)
	if s.Stats().Late == 0 {
		t.Fatal("no late samples")
	}
	rep := passAll(t, s, later)
	if rep.Computed == 0 {
		t.Fatal("late data recomputed nothing")
	}
	checkRollups(t, s, "after late data", "r/lin", append(slices.Clone(lin), late...), a, b, nil)
	checkRollups(t, s, "after late data", "r/step", step, a, b, &stepped)
}

// TestRollupRestart checks that dirty marks survive a restart: data
// sealed and marked but not rolled up before Close is rolled up after
// Open, and the lateness window still holds.
func TestRollupRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxSamples: 50, Logger: quiet, Rollup: RollupOptions{Enable: true}}
	s := open(t, dir, o)
	base := int64(1_700_000_000) * sec
	base -= base % int64(time.Hour)
	ss := randomSeries(rand.New(rand.NewPCG(3, 4)), "x", base, 2*time.Hour)
	writeAll(t, s, ss, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, o)
	defer s.Close()
	if rows, _ := s.Rollups(ctx, "x", "1m", math.MinInt64, math.MaxInt64); len(rows) != 0 {
		t.Fatalf("%d rows before any pass", len(rows))
	}
	passAll(t, s, base+2*int64(time.Hour)+30*sec) // the last minute is not ready
	got, _ := s.Rollups(ctx, "x", "1m", math.MinInt64, math.MaxInt64)
	want := refRows(t, ss, base, base+2*int64(time.Hour), int64(time.Minute), nil)
	if len(want) < 100 || len(got) != len(want)-1 {
		t.Fatalf("%d rows, want %d", len(got), len(want)-1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, o)
	passAll(t, s, base+3*int64(time.Hour))
	checkRollups(t, s, "after restart", "x", ss, base, base+2*int64(time.Hour), nil)
}

// TestRollupPassBounded checks that one pass looks at no more than
// MaxMarks marks, that marks not ready yet do not starve the others, and
// that the loops stop with their context.
func TestRollupPassBounded(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxSamples: 100, Logger: quiet, Rollup: RollupOptions{Enable: true, MaxMarks: 10}})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	base -= base % int64(time.Hour)
	// "a" sorts first and is never ready; "b" behind it must get done.
	writeAll(t, s, series1Hz("a", base+100*int64(time.Hour), 1200), 1000)
	writeAll(t, s, series1Hz("b", base, 1200), 1000)
	now := base + int64(time.Hour)
	passes := 0
	for passes < 100 {
		r, err := s.RollupPass(ctx, time.Unix(0, now))
		if err != nil {
			t.Fatal(err)
		}
		if r.Marks > 10 {
			t.Fatalf("pass looked at %d marks, max 10", r.Marks)
		}
		passes++
		if rows, _ := s.Rollups(ctx, "b", "1m", base, base+20*int64(time.Minute)); len(rows) == 20 {
			break
		}
	}
	if passes < 3 || passes == 100 {
		t.Fatalf("%d passes to roll up b", passes)
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- s.RunRollups(c, time.Millisecond) }()
	go func() { done <- s.RunRetention(c, time.Millisecond, "test") }()
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

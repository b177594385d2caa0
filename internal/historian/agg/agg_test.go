package agg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// ---- The reference: each interval computed on its own, by looking at
// every sample, as the definitions in doc.go read. ----

func refGood(s model.Sample, o Options) bool {
	if !s.Value.IsValid() || s.Quality.IsBad() {
		return false
	}
	if s.Quality.IsUncertain() && o.TreatUncertainAsBad {
		return false
	}
	return s.Value.T == model.String || !math.IsNaN(s.Value.Float())
}

// refSignal is the value at x of the piece that starts at sample i.
func refSignal(ss []model.Sample, i int, x int64, o Options) float64 {
	v := ss[i].Value.Float()
	if o.Stepped || !ss[i].Value.T.IsFloat() || i+1 >= len(ss) {
		return v
	}
	n := ss[i+1]
	if !refGood(n, o) || !n.Value.T.IsFloat() || n.Source == ss[i].Source {
		return v
	}
	w := n.Value.Float()
	return v + (w-v)*float64(x-ss[i].Source)/float64(n.Source-ss[i].Source)
}

func refAggregate(ss []model.Sample, start, end, iv int64, o Options) []Result {
	pg, pb := o.PercentDataGood, o.PercentDataBad
	if pg == 0 {
		pg = 100
	}
	if pb == 0 {
		pb = 100
	}
	var out []Result
	for S := start; S < end; S += iv {
		E := min(S+iv, end)
		r := Result{Start: S, End: E}
		var vals []float64
		unc := false
		for i, s := range ss {
			if s.Source < S || s.Source >= E || !refGood(s, o) {
				continue
			}
			v := s.Value.Float()
			vals = append(vals, v)
			if s.Quality.IsUncertain() {
				unc = true
			}
			if len(vals) == 1 {
				r.First = s
				r.Minimum, r.Maximum, r.MinimumTime, r.MaximumTime = v, v, s.Source, s.Source
				r.MinimumStatus, r.MaximumStatus = Calculated, Calculated
			} else {
				if v < r.Minimum {
					r.Minimum, r.MinimumTime, r.MinimumStatus = v, s.Source, Calculated
				} else if v == r.Minimum {
					r.MinimumStatus |= MultiValue
				}
				if v > r.Maximum {
					r.Maximum, r.MaximumTime, r.MaximumStatus = v, s.Source, Calculated
				} else if v == r.Maximum {
					r.MaximumStatus |= MultiValue
				}
			}
			r.Last = s
			for j := i - 1; j >= 0; j-- {
				if refGood(ss[j], o) {
					if ss[j].Value != s.Value {
						r.Transitions++
					}
					break
				}
			}
		}
		r.Count = len(vals)
		r.Minimum, r.Maximum = nanIf(r.Count == 0, r.Minimum), nanIf(r.Count == 0, r.Maximum)
		r.Average, r.Range, r.StdDevPopulation, r.StdDevSample = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if r.Count > 0 {
			sum := 0.0
			for _, v := range vals {
				sum += v
			}
			r.Average = sum / float64(len(vals))
			ss2 := 0.0
			for _, v := range vals {
				ss2 += (v - r.Average) * (v - r.Average)
			}
			r.StdDevPopulation = math.Sqrt(ss2 / float64(len(vals)))
			if len(vals) > 1 {
				r.StdDevSample = math.Sqrt(ss2 / float64(len(vals)-1))
			}
			r.Range = r.Maximum - r.Minimum
		}
		// Pieces: sample i holds over [t_i, t_{i+1}).
		integral := 0.0
		for i, s := range ss {
			a := s.Source
			b := int64(math.MaxInt64)
			if i+1 < len(ss) {
				b = ss[i+1].Source
			}
			x, y := max(a, S), min(b, E)
			if x >= y || !refGood(s, o) {
				continue
			}
			r.DurationGood += y - x
			integral += (refSignal(ss, i, x, o) + refSignal(ss, i, y, o)) / 2 * float64(y-x) / 1e9
			if s.Value.Float() == 0 {
				r.DurationInStateZero += y - x
			} else {
				r.DurationInStateNonZero += y - x
			}
			if s.Quality.IsUncertain() {
				unc = true
			}
		}
		r.Total = integral
		r.TimeAverage = math.NaN()
		if r.DurationGood > 0 {
			r.TimeAverage = integral / (float64(r.DurationGood) / 1e9)
		}
		r.DurationBad = E - S - r.DurationGood
		r.PercentGood = 100 * float64(r.DurationGood) / float64(E-S)
		r.PercentBad = 100 - r.PercentGood
		// Interpolative: the piece that contains S.
		r.Interpolative, r.InterpolativeStatus = math.NaN(), BadNoData
		last := -1
		for i, s := range ss {
			if s.Source <= S {
				last = i
			}
		}
		if last >= 0 && refGood(ss[last], o) {
			r.Interpolative = refSignal(ss, last, S, o)
			r.InterpolativeStatus = model.Good
			if ss[last].Quality.IsUncertain() {
				r.InterpolativeStatus = UncertainDataSubNormal
			}
			if ss[last].Source != S {
				r.InterpolativeStatus |= Interpolated
			}
		}
		switch {
		case r.DurationGood == 0 && r.Count == 0:
			r.Status = BadNoData
		case r.PercentBad >= pb:
			r.Status = model.Bad
		case r.PercentGood >= pg && !unc:
			r.Status = model.Good
		default:
			r.Status = UncertainDataSubNormal
		}
		r.Status |= Calculated
		if E-S < iv {
			r.Status |= Partial
		}
		out = append(out, r)
	}
	return out
}

func nanIf(c bool, v float64) float64 {
	if c {
		return math.NaN()
	}
	return v
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func compare(got, want Result) error {
	type f struct {
		name string
		g, w float64
	}
	for _, x := range []f{{"Minimum", got.Minimum, want.Minimum}, {"Maximum", got.Maximum, want.Maximum},
		{"Average", got.Average, want.Average}, {"TimeAverage", got.TimeAverage, want.TimeAverage},
		{"Total", got.Total, want.Total}, {"Range", got.Range, want.Range},
		{"StdDevSample", got.StdDevSample, want.StdDevSample}, {"StdDevPopulation", got.StdDevPopulation, want.StdDevPopulation},
		{"Interpolative", got.Interpolative, want.Interpolative}, {"PercentGood", got.PercentGood, want.PercentGood},
		{"PercentBad", got.PercentBad, want.PercentBad}} {
		if !close(x.g, x.w) {
			return fmt.Errorf("%s = %v, want %v", x.name, x.g, x.w)
		}
	}
	type i struct {
		name string
		g, w any
	}
	for _, x := range []i{{"Start", got.Start, want.Start}, {"End", got.End, want.End}, {"Status", got.Status, want.Status},
		{"Count", got.Count, want.Count}, {"MinimumTime", got.MinimumTime, want.MinimumTime}, {"MaximumTime", got.MaximumTime, want.MaximumTime},
		{"MinimumStatus", got.MinimumStatus, want.MinimumStatus}, {"MaximumStatus", got.MaximumStatus, want.MaximumStatus},
		{"First", got.First, want.First}, {"Last", got.Last, want.Last}, {"InterpolativeStatus", got.InterpolativeStatus, want.InterpolativeStatus},
		{"DurationGood", got.DurationGood, want.DurationGood}, {"DurationBad", got.DurationBad, want.DurationBad},
		{"DurationInStateZero", got.DurationInStateZero, want.DurationInStateZero},
		{"DurationInStateNonZero", got.DurationInStateNonZero, want.DurationInStateNonZero}, {"Transitions", got.Transitions, want.Transitions}} {
		if x.g != x.w {
			return fmt.Errorf("%s = %v, want %v", x.name, x.g, x.w)
		}
	}
	return nil
}

// randomSeries makes series with the edge cases of Part 13: samples on
// bucket boundaries (times on a 250 ms grid, buckets of whole seconds),
// duplicates, bad, uncertain, NaN, no value, empty and single samples.
func randomSeries(r *rand.Rand) []model.Sample {
	n := []int{0, 1, 2, 5, 30, 200}[r.IntN(6)]
	typ := []model.Type{model.Float64, model.Float64, model.Int32, model.Bool}[r.IntN(4)]
	t := int64(r.IntN(20)) * 250e6
	var ss []model.Sample
	for range n {
		if r.IntN(6) != 0 {
			t += int64(1+r.IntN(8)) * 250e6
			if r.IntN(10) == 0 {
				t += int64(r.IntN(1e6)) // off the grid
			}
		}
		s := model.Sample{Source: t, Server: t}
		x := float64(r.IntN(7) - 3)
		if r.IntN(3) == 0 {
			x = r.NormFloat64() * 100
		}
		switch typ {
		case model.Float64:
			s.Value = model.FloatValue(typ, x)
		case model.Int32:
			s.Value = model.IntValue(typ, int64(x))
		case model.Bool:
			s.Value = model.BoolValue(x > 0)
		}
		switch r.IntN(20) {
		case 0, 1:
			s.Quality = model.BadTimeout
		case 2:
			s.Quality, s.Value = model.BadNotConnected, model.Value{}
		case 3, 4:
			s.Quality = model.UncertainLastUsableValue
		case 5:
			if typ == model.Float64 {
				s.Value = model.FloatValue(typ, math.NaN())
			}
		}
		ss = append(ss, s)
	}
	return ss
}

func TestAggregateMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	runs := 3000
	if testing.Short() {
		runs = 500
	}
	var buf []Result
	for run := range runs {
		ss := randomSeries(r)
		opt := Options{Stepped: r.IntN(2) == 0, TreatUncertainAsBad: r.IntN(2) == 0}
		if r.IntN(3) == 0 {
			opt.PercentDataGood, opt.PercentDataBad = 80, 50
		}
		start := int64(r.IntN(12)) * 500e6
		iv := int64(1+r.IntN(4)) * 1e9
		if r.IntN(5) == 0 {
			iv = int64(1 + r.IntN(3e9)) // odd interval
		}
		end := start + int64(1+r.IntN(40))*500e6
		want := refAggregate(ss, start, end, iv, opt)
		var err error
		buf, err = Aggregate(Slice(ss), start, end, iv, opt, buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(buf) != len(want) {
			t.Fatalf("run %d: %d intervals, want %d", run, len(buf), len(want))
		}
		for k := range want {
			if err := compare(buf[k], want[k]); err != nil {
				t.Fatalf("run %d (opt %+v, [%d, %d) by %d) interval %d: %v\nsamples: %v", run, opt, start, end, iv, k, err, ss)
			}
		}
	}
}

func TestAggregateKnownValues(t *testing.T) {
	f := func(ts int64, v float64) model.Sample {
		return model.Sample{Source: ts * 1e9, Value: model.FloatValue(model.Float64, v)}
	}
	// A ramp 0 → 10 over [0, 10) s, then 10 held.
	ss := []model.Sample{f(0, 0), f(10, 10), f(20, 10)}
	rs, err := Aggregate(Slice(ss), 0, 20e9, 10e9, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].TimeAverage != 5 || rs[0].Total != 50 || rs[1].TimeAverage != 10 {
		t.Errorf("linear: %+v", rs[:2])
	}
	rs, _ = Aggregate(Slice(ss), 0, 20e9, 10e9, Options{Stepped: true}, rs)
	if rs[0].TimeAverage != 0 || rs[0].Status != model.Good|Calculated {
		t.Errorf("stepped: %v status %v", rs[0].TimeAverage, rs[0].Status)
	}
	// Half the interval bad: uncertain by default, bad at PercentDataBad 50.
	ss[1].Quality = model.BadTimeout
	rs, _ = Aggregate(Slice(ss), 10e9, 30e9, 20e9, Options{}, rs)
	if rs[0].PercentBad != 50 || rs[0].Status != UncertainDataSubNormal|Calculated {
		t.Errorf("half bad: %+v", rs[0])
	}
	rs, _ = Aggregate(Slice(ss), 10e9, 30e9, 20e9, Options{PercentDataBad: 50}, rs)
	if rs[0].Status != model.Bad|Calculated {
		t.Errorf("half bad, PercentDataBad 50: %v", rs[0].Status)
	}
	rs, _ = Aggregate(Slice(nil), 0, 10, 3, Options{}, rs)
	if len(rs) != 4 || rs[0].Status != BadNoData|Calculated || rs[3].Status != BadNoData|Calculated|Partial {
		t.Errorf("no data: %+v", rs)
	}
}

func TestAggregateErrors(t *testing.T) {
	if _, err := Aggregate(Slice(nil), 10, 10, 1, Options{}, nil); errcode.Of(err) != errcode.HistAggArgs {
		t.Errorf("empty range: %v", err)
	}
	if _, err := Aggregate(Slice(nil), 0, 1e12, 1, Options{}, nil); errcode.Of(err) != errcode.HistAggArgs {
		t.Errorf("too many buckets: %v", err)
	}
	ss := []model.Sample{{Source: 5}, {Source: 4}}
	if _, err := Aggregate(Slice(ss), 0, 10, 1, Options{}, nil); errcode.Of(err) != errcode.HistAggOrder {
		t.Errorf("unsorted: %v", err)
	}
}

func TestValueAt(t *testing.T) {
	ss := []model.Sample{
		{Source: 10, Value: model.FloatValue(model.Float64, 1)},
		{Source: 20, Value: model.FloatValue(model.Float64, 3)},
		{Source: 30, Value: model.FloatValue(model.Float64, 5), Quality: model.BadTimeout},
		{Source: 40, Value: model.IntValue(model.Int32, 7)},
	}
	cases := []struct {
		t       int64
		stepped bool
		v       float64
		st      model.Quality
	}{
		{5, false, math.NaN(), BadNoData},
		{10, false, 1, model.Good},
		{15, false, 2, model.Good | Interpolated},
		{15, true, 1, model.Good | Interpolated},
		{25, false, 3, model.Good | Interpolated}, // next is bad: held
		{35, false, math.NaN(), BadNoData},
		{45, false, 7, model.Good | Interpolated},
	}
	for _, c := range cases {
		v, st := ValueAt(ss, c.t, c.stepped)
		if !close(v, c.v) || st != c.st {
			t.Errorf("ValueAt(%d, %v) = %v %v, want %v %v", c.t, c.stepped, v, st, c.v, c.st)
		}
	}
}

func daySeries() []model.Sample {
	r := rand.New(rand.NewPCG(1, 1))
	ss := make([]model.Sample, 86400)
	x := 50.0
	for i := range ss {
		x += r.NormFloat64()
		ss[i] = model.Sample{Source: int64(i) * 1e9, Value: model.FloatValue(model.Float64, x)}
	}
	return ss
}

func TestAggregateAllocations(t *testing.T) {
	ss := daySeries()
	buf := make([]Result, 0, 1000)
	allocs := testing.AllocsPerRun(3, func() {
		buf, _ = Aggregate(Slice(ss), 0, 86400e9, 86400e9/1000, Options{}, buf)
	})
	if allocs > 2 {
		t.Errorf("%v allocations for a day into 1000 buckets; memory must not grow with samples", allocs)
	}
}

func BenchmarkAggregateDay(b *testing.B) {
	ss := daySeries()
	buf := make([]Result, 0, 1000)
	for b.Loop() {
		buf, _ = Aggregate(Slice(ss), 0, 86400e9, 86400e9/1000, Options{}, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
	b.ReportMetric(float64(len(ss)*b.N)/b.Elapsed().Seconds(), "samples/s")
}

package query

import (
	"context"
	"math"
	"time"

	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// RollupRow is one precomputed interval [Start, End) of a tag, as an
// embedded store keeps them at 1 min and 1 h (agg's results with the
// default options). Float fields are NaN where agg's are.
type RollupRow struct {
	Start, End       int64
	Status           model.Quality
	Samples          int // samples in the interval, good or not
	Count            int // good samples
	Min, Max         float64
	MinTime, MaxTime int64
	First, Last      float64 // first and last good values
	FirstTime        int64
	LastTime         int64
	Sum              float64 // of good values
	Total            float64 // time integral over the good time, value × seconds
	StdDevPopulation float64
	PercentGood      float64
	DurationGood     int64
	Transitions      int
}

// Rollups is an optional Reader ability: the rollup rows of tag at level
// "1m" or "1h" with from <= Start < to, oldest first. An interval without
// samples has no row.
type Rollups interface {
	Rollups(ctx context.Context, tag, level string, from, to int64) ([]RollupRow, error)
}

// Defaults of the rollup path.
const (
	DefaultRollupSpan = 7 * 24 * time.Hour
	DefaultRollupLag  = 5 * time.Minute
)

// rollupAggs are the aggregates rows can be combined into exactly.
var rollupAggs = map[string]bool{"count": true, "min": true, "max": true, "avg": true, "twa": true, "total": true,
	"range": true, "first": true, "last": true, "stddev": true, "stddev_pop": true, "pct_good": true, "pct_bad": true,
	"dur_good": true, "dur_bad": true, "transitions": true}

var levels = []struct {
	name string
	iv   int64
}{{"1h", int64(time.Hour)}, {"1m", int64(time.Minute)}}

// rollupPlan says whether and how a tag's aggregate is read from rollups:
// the level, and cut, the end of the buckets the rows answer (later
// buckets, too recent for rows, come from raw samples).
func (e *Engine) rollupPlan(tag string, from, to, iv int64, defs []*aggDef, o AggOptions) (level string, liv, cut int64, ok bool) {
	if _, has := e.r.(Rollups); !has || o.Stepped || o.TreatUncertainAsBad ||
		(o.PercentGood != 0 && o.PercentGood != 100) || (o.PercentBad != 0 && o.PercentBad != 100) {
		return "", 0, 0, false
	}
	for _, d := range defs {
		if !rollupAggs[d.name] {
			return "", 0, 0, false
		}
	}
	now := e.c.Now().UnixNano()
	old := false
	if e.c.RawKept != nil {
		if k := e.c.RawKept(tag); k > 0 && from < now-int64(k) {
			old = true
		}
	}
	if !old && to-from <= int64(e.c.RollupSpan) {
		return "", 0, 0, false
	}
	for _, l := range levels {
		if iv%l.iv != 0 || from%l.iv != 0 || to%l.iv != 0 {
			continue // the last bucket, cut short by to, must be whole rows too
		}
		limit := min(to, now-int64(e.c.RollupLag))
		if limit >= to {
			return l.name, l.iv, to, true
		}
		if cut = from + max(limit-from, 0)/iv*iv; cut == from {
			return "", 0, 0, false
		}
		return l.name, l.iv, cut, true
	}
	return "", 0, 0, false
}

// bucketAcc accumulates rows and gaps into one bucket.
type bucketAcc struct {
	r        agg.Result
	mean, m2 float64
	unc      bool
	integral float64
}

func (b *bucketAcc) row(x *RollupRow) {
	b.r.DurationGood += x.DurationGood
	b.integral += x.Total
	b.r.Transitions += x.Transitions
	if x.DurationGood == x.End-x.Start && x.Status.IsUncertain() {
		b.unc = true // uncertain with 100 % good time: an uncertain sample
	}
	if x.Count == 0 {
		return
	}
	n0, n1 := float64(b.r.Count), float64(x.Count)
	xm := x.Sum / n1
	xm2 := x.StdDevPopulation * x.StdDevPopulation * n1
	if b.r.Count == 0 {
		b.r.Minimum, b.r.MinimumTime, b.r.MinimumStatus = x.Min, x.MinTime, agg.Calculated
		b.r.Maximum, b.r.MaximumTime, b.r.MaximumStatus = x.Max, x.MaxTime, agg.Calculated
		b.r.First = model.Sample{Source: x.FirstTime, Value: model.FloatValue(model.Float64, x.First)}
		b.mean, b.m2 = xm, xm2
	} else {
		switch {
		case x.Min < b.r.Minimum:
			b.r.Minimum, b.r.MinimumTime, b.r.MinimumStatus = x.Min, x.MinTime, agg.Calculated
		case x.Min == b.r.Minimum:
			b.r.MinimumStatus |= agg.MultiValue
		}
		switch {
		case x.Max > b.r.Maximum:
			b.r.Maximum, b.r.MaximumTime, b.r.MaximumStatus = x.Max, x.MaxTime, agg.Calculated
		case x.Max == b.r.Maximum:
			b.r.MaximumStatus |= agg.MultiValue
		}
		// Chan et al.: merge the means and squared deviations.
		d := xm - b.mean
		n := n0 + n1
		b.m2 += xm2 + d*d*n0*n1/n
		b.mean += d * n1 / n
	}
	b.r.Count += x.Count
	b.r.Last = model.Sample{Source: x.LastTime, Value: model.FloatValue(model.Float64, x.Last)}
}

func (b *bucketAcc) finish(iv int64) agg.Result {
	r := b.r
	n := float64(r.Count)
	if r.Count > 0 {
		r.Average = b.mean
		r.Range = r.Maximum - r.Minimum
		r.StdDevPopulation = math.Sqrt(b.m2 / n)
		if r.Count > 1 {
			r.StdDevSample = math.Sqrt(b.m2 / (n - 1))
		}
	}
	length := r.End - r.Start
	r.DurationBad = length - r.DurationGood
	r.PercentGood = 100 * float64(r.DurationGood) / float64(length)
	r.PercentBad = 100 - r.PercentGood
	r.Total = b.integral
	if r.DurationGood > 0 {
		r.TimeAverage = b.integral / (float64(r.DurationGood) / 1e9)
	}
	switch {
	case r.DurationGood == 0 && r.Count == 0:
		r.Status = agg.BadNoData
	case r.PercentBad >= 100:
		r.Status = model.Bad
	case r.PercentGood >= 100 && !b.unc:
		r.Status = model.Good
	default:
		r.Status = agg.UncertainDataSubNormal
	}
	r.Status |= agg.Calculated
	if length < iv {
		r.Status |= agg.Partial
	}
	return r
}

// tail is what holds after a row's last sample: a good value, nothing
// (the last sample was bad), or unknown (the row mixes good and bad
// samples, so its last sample's quality is not known).
type tail struct {
	known, good bool
	v           float64
	t           int64
}

func tailOf(x *RollupRow) tail {
	switch {
	case x.Count == 0:
		return tail{known: true}
	case x.Samples == x.Count && !(x.Status.IsUncertain() && x.DurationGood == x.End-x.Start):
		return tail{known: true, good: true, v: x.Last, t: x.LastTime}
	}
	return tail{}
}

// settleTail finds the tail of a row that mixes good and bad samples:
// from its last 1-minute row, else from its last raw sample, while they
// are still kept.
func (e *Engine) settleTail(ctx context.Context, tag, level string, x *RollupRow) (tail, error) {
	if level != "1m" {
		if rr, err := e.r.(Rollups).Rollups(ctx, tag, "1m", x.Start, x.End); err != nil {
			return tail{}, err
		} else if n := len(rr); n > 0 {
			if t := tailOf(&rr[n-1]); t.known {
				return t, nil
			}
		}
	}
	s, ok, err := e.r.Before(ctx, tag, x.End)
	if err != nil || !ok || s.Source < x.Start {
		return tail{}, err
	}
	v := s.Value.Float()
	if !s.Value.IsValid() || s.Quality.IsBad() || math.IsNaN(v) {
		return tail{known: true}, nil
	}
	if s.Quality.IsUncertain() {
		return tail{}, nil // agg marks the bucket uncertain: leave it to raw
	}
	return tail{known: true, good: true, v: v, t: s.Source}, nil
}

// settleHead finds the first sample of a row that mixes good and bad
// samples, as settleTail does the last.
func (e *Engine) settleHead(ctx context.Context, tag, level string, x *RollupRow) (v float64, t int64, good, known bool, err error) {
	if level != "1m" {
		rr, err := e.r.(Rollups).Rollups(ctx, tag, "1m", x.Start, x.End)
		if err != nil {
			return 0, 0, false, false, err
		}
		if len(rr) > 0 {
			if v, t, good, known = headOf(&rr[0]); known {
				return v, t, good, known, nil
			}
		}
	}
	s, ok, err := e.after(ctx, tag, x.Start)
	if err != nil || !ok || s.Source >= x.End {
		return 0, 0, false, false, err
	}
	v = s.Value.Float()
	return v, s.Source, s.Value.IsValid() && !s.Quality.IsBad() && !math.IsNaN(v), true, nil
}

// headOf is the first sample of a row when it is known to be good.
func headOf(x *RollupRow) (v float64, t int64, good, known bool) {
	switch {
	case x.Count == 0:
		return 0, 0, false, true
	case x.Samples == x.Count:
		return x.First, x.FirstTime, true, true
	}
	return 0, 0, false, false
}

// fromRollups computes the buckets [from, cut) of tag from rows of level
// (interval liv). ok is false when the rows cannot answer exactly (a gap
// after a row whose last sample's quality is unknown, a tag that is not
// numeric): the caller reads raw samples instead.
func (e *Engine) fromRollups(ctx context.Context, tag, level string, liv, from, cut, to, iv int64, dst []agg.Result) ([]agg.Result, bool, error) {
	rr := e.r.(Rollups)
	lat, err := e.r.Latest(ctx, []string{tag})
	if err != nil || len(lat) != 1 {
		return dst, false, err
	}
	typ := lat[0].Value.T
	if !typ.IsNumeric() {
		return dst, false, nil
	}
	linear := typ.IsFloat()
	rows, err := rr.Rollups(ctx, tag, level, from, cut)
	if err != nil {
		return dst, false, err
	}
	// The row before from gives the value held into the first gap.
	var cur tail
	havePrev := false
	for _, lb := range []struct {
		level string
		back  int64
	}{{level, 1440 * liv}, {"1h", 366 * 24 * int64(time.Hour)}} {
		prev, err := rr.Rollups(ctx, tag, lb.level, from-lb.back, from)
		if err != nil {
			return dst, false, err
		}
		if n := len(prev); n > 0 && prev[n-1].End <= from {
			cur, havePrev = tailOf(&prev[n-1]), true
			break
		}
		if len(prev) > 0 {
			return dst, false, nil // an hour row straddling from
		}
	}
	if !havePrev {
		cur = tail{known: true}
	}
	// The first sample at or after cut ends the last gap.
	var next struct {
		v          float64
		t          int64
		have, good bool
		known      bool
	}
	if cut < to {
		s, ok, err := e.after(ctx, tag, cut)
		if err != nil {
			return dst, false, err
		}
		next.known, next.have = true, ok
		if ok {
			next.t, next.v = s.Source, s.Value.Float()
			next.good = s.Value.IsValid() && !s.Quality.IsBad() && !math.IsNaN(next.v)
		}
	} else {
		more, err := rr.Rollups(ctx, tag, level, cut, cut+1440*liv)
		if err != nil {
			return dst, false, err
		}
		if len(more) > 0 {
			next.have = true
			next.v, next.t, next.good, next.known = headOf(&more[0])
		} else if linear {
			return dst, false, nil // the next sample may be further on
		} else {
			next.known = true
		}
	}
	nb := (cut - from + iv - 1) / iv
	dst = dst[:0]
	nan := math.NaN()
	accs := make([]bucketAcc, nb)
	for k := range accs {
		s := from + int64(k)*iv
		accs[k].r = agg.Result{Start: s, End: min(s+iv, to), Minimum: nan, Maximum: nan, Average: nan, TimeAverage: nan,
			Range: nan, StdDevSample: nan, StdDevPopulation: nan, Interpolative: nan, InterpolativeStatus: agg.BadNoData}
	}
	ri := 0
	for g := from; g < cut; g += liv {
		b := &accs[(g-from)/iv]
		if ri < len(rows) && rows[ri].Start == g {
			b.row(&rows[ri])
			cur = tailOf(&rows[ri])
			ri++
			continue
		}
		if ri < len(rows) && rows[ri].Start < g {
			return dst, false, nil // rows not on the level's grid
		}
		// A slot without samples: the value after the last sample holds.
		if !cur.known && ri > 0 {
			if cur, err = e.settleTail(ctx, tag, level, &rows[ri-1]); err != nil {
				return dst, false, err
			}
		}
		if !cur.known {
			return dst, false, nil
		}
		if !cur.good {
			continue
		}
		nv, nt, ngood, nknown := next.v, next.t, next.good, next.known
		nhave := next.have
		if ri < len(rows) {
			nv, nt, ngood, nknown = headOf(&rows[ri])
			nhave = true
			if !nknown && linear {
				if nv, nt, ngood, nknown, err = e.settleHead(ctx, tag, level, &rows[ri]); err != nil {
					return dst, false, err
				}
			}
		}
		val := func(t int64) float64 { return cur.v }
		if linear && nhave {
			if !nknown {
				return dst, false, nil
			}
			if ngood && nt > cur.t {
				val = func(t int64) float64 { return cur.v + (nv-cur.v)*float64(t-cur.t)/float64(nt-cur.t) }
			}
		}
		b.r.DurationGood += liv
		b.integral += (val(g) + val(g+liv)) / 2 * float64(liv) / 1e9
	}
	for k := range accs {
		r := accs[k].finish(iv)
		if r.Count > 0 {
			r.First.Value = convert(typ, r.First.Value.Float())
			r.Last.Value = convert(typ, r.Last.Value.Float())
		}
		dst = append(dst, r)
	}
	return dst, true, nil
}

// convert gives a rolled-up first or last value its tag's type back.
func convert(t model.Type, f float64) model.Value {
	switch {
	case t.IsFloat():
		return model.FloatValue(t, f)
	case t.IsUnsigned():
		return model.UintValue(t, uint64(f))
	}
	return model.IntValue(t, int64(f))
}

package agg

import (
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Status bits and codes of aggregate results (OPC UA Part 4 7.39, Part 11
// and Part 13): the historian bits are valid with InfoType DataValue.
const (
	InfoDataValue model.Quality = 0x0400
	Calculated    model.Quality = InfoDataValue | 0x01
	Interpolated  model.Quality = InfoDataValue | 0x02
	Partial       model.Quality = InfoDataValue | 0x04
	MultiValue    model.Quality = InfoDataValue | 0x10

	BadNoData              model.Quality = 0x809B0000
	UncertainDataSubNormal model.Quality = 0x40A40000
)

// MaxBuckets bounds the intervals of one query so that a request cannot
// make the server allocate without limit.
const MaxBuckets = 100_000

// Iterator yields samples of one tag in source time order. *chunk.Iter
// satisfies it.
type Iterator interface {
	Next() bool
	At() model.Sample
}

// SliceIter iterates over a slice.
type SliceIter struct {
	s []model.Sample
	i int
}

// Slice returns an Iterator over ss.
func Slice(ss []model.Sample) *SliceIter { return &SliceIter{s: ss, i: -1} }

// Next advances.
func (it *SliceIter) Next() bool { it.i++; return it.i < len(it.s) }

// At returns the current sample.
func (it *SliceIter) At() model.Sample { return it.s[it.i] }

// FuncIter adapts a function to an Iterator.
type FuncIter struct {
	F   func() (model.Sample, bool)
	cur model.Sample
}

// Next advances.
func (f *FuncIter) Next() bool {
	s, ok := f.F()
	f.cur = s
	return ok
}

// At returns the current sample.
func (f *FuncIter) At() model.Sample { return f.cur }

// Options are the Part 13 aggregate configuration of a tag.
type Options struct {
	// Stepped interpolates float tags stepwise; bool, integer and string
	// tags are always stepped.
	Stepped bool
	// TreatUncertainAsBad excludes uncertain samples like bad ones;
	// otherwise they are used and make the result Uncertain.
	TreatUncertainAsBad bool
	// PercentDataGood is the share of the interval (by time, 0..100) that
	// must be good for a Good result; 0 means 100.
	PercentDataGood float64
	// PercentDataBad is the share that makes a result Bad; 0 means 100.
	PercentDataBad float64
}

// Result holds every aggregate of one processing interval [Start, End).
// Numeric fields are NaN where the aggregate has no value (no good
// samples, or fewer than two for the sample standard deviation).
type Result struct {
	Start, End int64
	Status     model.Quality // Good, UncertainDataSubNormal, Bad or BadNoData, with Calculated and Partial bits

	Count                  int     // good samples in the interval
	Minimum, Maximum       float64 // over good samples
	MinimumTime            int64   // source time of the first sample holding the minimum (MinimumActualTime)
	MaximumTime            int64   // likewise for the maximum (MaximumActualTime)
	MinimumStatus          model.Quality
	MaximumStatus          model.Quality // MultiValue set when the extreme occurs more than once
	Average                float64       // arithmetic mean of good samples
	TimeAverage            float64       // time-weighted mean over the good part of the interval
	Total                  float64       // time integral over the good part, value × seconds
	Range                  float64       // Maximum − Minimum
	StdDevSample           float64
	StdDevPopulation       float64
	First, Last            model.Sample // first and last good samples (Start and End aggregates)
	Interpolative          float64      // value at Start
	InterpolativeStatus    model.Quality
	PercentGood            float64 // share of the interval's time with good data, 0..100
	PercentBad             float64 // 100 − PercentGood (no data counts as bad)
	DurationGood           int64   // ns
	DurationBad            int64   // ns
	DurationInStateZero    int64   // ns of good data whose value is zero (false)
	DurationInStateNonZero int64   // ns of good data whose value is non-zero (true)
	Transitions            int     // changes of value between consecutive good samples, counted at the later one

	integral float64
	// Shifted sums for the mean and variance: k0 is the first good value,
	// s1 and s2 the sums of (v − k0) and (v − k0)². As k0 is one of the
	// values, the relative error of the variance stays below n·ε, and no
	// division per sample is needed (Welford's update has one).
	k0, s1, s2 float64
	unc        bool
}

type point struct {
	t       int64
	s       model.Sample
	v       float64
	good    bool
	unc     bool
	linear  bool // may be interpolated linearly (a float)
	present bool
}

func (o *Options) classify(s model.Sample) point {
	p := point{s: s}
	o.classifyInto(&p)
	return p
}

// classifyInto fills the rest of p from p.s in place: the aggregation
// loop keeps its points in a small ring rather than copying them per
// sample.
func (o *Options) classifyInto(p *point) {
	s := &p.s
	p.t, p.v, p.present = s.Source, 0, true
	p.good, p.unc, p.linear = false, false, false
	v := &p.s.Value
	if !v.IsValid() || s.Quality.IsBad() || (s.Quality.IsUncertain() && o.TreatUncertainAsBad) {
		return
	}
	p.v = v.Float()
	if math.IsNaN(p.v) && v.T != model.String {
		return
	}
	p.good, p.unc = true, s.Quality.IsUncertain()
	p.linear = v.T.IsFloat() && !o.Stepped
}

// Aggregate computes every aggregate over the intervals [start+k·interval,
// start+(k+1)·interval) ∩ [start, end) from the samples of it, which must
// be in source time order. The iterator may begin before start (the last
// sample before start bounds the first interval, earlier good samples
// count for NumberOfTransitions) and may go on past end: it is read up to
// the first sample at or after end, which bounds the last interval. dst is
// reused; the work is O(samples + buckets) and memory O(buckets).
func Aggregate(it Iterator, start, end, interval int64, opt Options, dst []Result) ([]Result, error) {
	if end <= start || interval <= 0 {
		return dst, errcode.New(errcode.HistAggArgs, "aggregate over [%d, %d) by %d", start, end, interval)
	}
	nb := (end - start + interval - 1) / interval
	if nb > MaxBuckets || nb < 0 {
		return dst, errcode.New(errcode.HistAggArgs, "aggregate over [%d, %d) by %d gives %d intervals, at most %d", start, end, interval, nb, MaxBuckets)
	}
	if opt.PercentDataGood <= 0 {
		opt.PercentDataGood = 100
	}
	if opt.PercentDataBad <= 0 {
		opt.PercentDataBad = 100
	}
	dst = dst[:0]
	if cap(dst) < int(nb) {
		dst = make([]Result, 0, nb) // not append's doublings: a Result is large
	}
	nan := math.NaN()
	for k := range nb {
		s := start + k*interval
		dst = append(dst, Result{Start: s, End: min(s+interval, end),
			Minimum: nan, Maximum: nan, Average: nan, TimeAverage: nan, Range: nan,
			StdDevSample: nan, StdDevPopulation: nan, Interpolative: nan, InterpolativeStatus: BadNoData})
	}
	a := aggregator{rs: dst, start: start, end: end, iv: interval, addK: -1}
	// prev and lastGood point into a ring of three points (the third
	// takes the next sample), so that no point is copied per sample.
	var ring [3]point
	var none point
	prev, lastGood := &ring[0], &ring[1]
	for it.Next() {
		q := &ring[0]
		if q == prev || q == lastGood {
			q = &ring[1]
			if q == prev || q == lastGood {
				q = &ring[2]
			}
		}
		q.s = it.At()
		if prev.present && q.s.Source < prev.t {
			return dst, errcode.New(errcode.HistAggOrder, "sample at %d after one at %d", q.s.Source, prev.t)
		}
		opt.classifyInto(q)
		a.region(prev, q.t, q)
		if q.t >= end {
			prev = &none
			break
		}
		if q.t >= start && q.good {
			a.add(q, lastGood)
		}
		if q.good {
			lastGood = q
		}
		prev = q
	}
	a.region(prev, end, nil)
	if a.addK >= 0 {
		// Every good sample in [start, end) was added, so the last good
		// one is the last added.
		dst[a.addK].Last = lastGood.s
	}
	for i := range dst {
		dst[i].finish(&opt, interval)
	}
	return dst, nil
}

type aggregator struct {
	rs             []Result
	start, end, iv int64
	k              int // region's bucket: times before rs[k].Start are done
	addK           int // the bucket of the last add, -1 before the first
}

// bucket returns the index of the bucket holding t (start <= t < end),
// moving the cursor *k forwards: times arrive in order, so this replaces
// a division per sample by a comparison.
func (a *aggregator) bucket(k *int, t int64) int {
	for *k < len(a.rs)-1 && a.rs[*k].End <= t {
		*k++
	}
	return *k
}

// value returns the signal at t in p's region, p's value held or
// interpolated towards q.
func value(p, q *point, t int64) float64 {
	if q == nil || !p.linear || !q.good || !q.linear || q.t <= p.t || t == p.t {
		return p.v
	}
	return p.v + (q.v-p.v)*float64(t-p.t)/float64(q.t-p.t)
}

// region accounts for the time from p to t2 (where q is, or the end of
// the query when q is nil) during which p's value and quality hold.
func (a *aggregator) region(p *point, t2 int64, q *point) {
	if !p.present {
		return
	}
	lo, hi := max(p.t, a.start), min(t2, a.end)
	if lo >= hi {
		return
	}
	for k := a.bucket(&a.k, lo); k < len(a.rs); k++ {
		r := &a.rs[k]
		x, y := max(lo, r.Start), min(hi, r.End)
		if x >= y {
			break
		}
		if x == r.Start {
			r.Interpolative = math.NaN()
			r.InterpolativeStatus = BadNoData
			if p.good {
				r.Interpolative = value(p, q, x)
				r.InterpolativeStatus = model.Good
				if p.unc {
					r.InterpolativeStatus = UncertainDataSubNormal
				}
				if x != p.t {
					r.InterpolativeStatus |= Interpolated
				}
			}
		}
		if !p.good {
			continue
		}
		d := y - x
		r.DurationGood += d
		// In value × ns; finish scales to seconds. A region inside one
		// bucket (the usual case) needs no interpolation.
		vx, vy := p.v, p.v
		if x != p.t {
			vx = value(p, q, x)
		}
		if q != nil && y == q.t && p.linear && q.good && q.linear {
			vy = q.v
		} else {
			vy = value(p, q, y)
		}
		r.integral += (vx + vy) * 0.5 * float64(d)
		if p.v == 0 {
			r.DurationInStateZero += d
		} else {
			r.DurationInStateNonZero += d
		}
		r.unc = r.unc || p.unc
	}
}

func (a *aggregator) add(q, lastGood *point) {
	k := a.addK
	if k < 0 {
		k = 0
	}
	k = a.bucket(&k, q.t)
	if k != a.addK && a.addK >= 0 {
		// Last is set when a bucket is left: the previous add was the
		// last good sample before q.
		a.rs[a.addK].Last = lastGood.s
	}
	a.addK = k
	r := &a.rs[k]
	r.Count++
	if r.Count == 1 {
		r.Minimum, r.Maximum, r.MinimumTime, r.MaximumTime = q.v, q.v, q.t, q.t
		r.MinimumStatus, r.MaximumStatus = Calculated, Calculated
	} else {
		switch {
		case q.v < r.Minimum:
			r.Minimum, r.MinimumTime, r.MinimumStatus = q.v, q.t, Calculated
		case q.v == r.Minimum:
			r.MinimumStatus |= MultiValue
		}
		switch {
		case q.v > r.Maximum:
			r.Maximum, r.MaximumTime, r.MaximumStatus = q.v, q.t, Calculated
		case q.v == r.Maximum:
			r.MaximumStatus |= MultiValue
		}
	}
	if r.Count == 1 {
		r.k0 = q.v
		r.First = q.s
	}
	d := q.v - r.k0
	r.s1 += d
	r.s2 += d * d
	if lastGood.present && lastGood.s.Value != q.s.Value {
		r.Transitions++
	}
	r.unc = r.unc || q.unc
}

func (r *Result) finish(o *Options, interval int64) {
	n := float64(r.Count)
	if r.Count > 0 {
		r.Average = r.k0 + r.s1/n
		if r.Count == 1 {
			r.Average = r.k0 // exact, also for infinities
		}
		r.Range = r.Maximum - r.Minimum
		m2 := max(r.s2-r.s1*r.s1/n, 0)
		r.StdDevPopulation = math.Sqrt(m2 / n)
		if r.Count > 1 {
			r.StdDevSample = math.Sqrt(m2 / (n - 1))
		}
	}
	length := r.End - r.Start
	r.DurationBad = length - r.DurationGood
	r.PercentGood = 100 * float64(r.DurationGood) / float64(length)
	r.PercentBad = 100 - r.PercentGood
	r.Total = r.integral / 1e9
	if r.DurationGood > 0 {
		r.TimeAverage = r.integral / float64(r.DurationGood)
	}
	switch {
	case r.DurationGood == 0 && r.Count == 0:
		r.Status = BadNoData
	case r.PercentBad >= o.PercentDataBad:
		r.Status = model.Bad
	case r.PercentGood >= o.PercentDataGood && !r.unc:
		r.Status = model.Good
	default:
		r.Status = UncertainDataSubNormal
	}
	r.Status |= Calculated
	if length < interval {
		r.Status |= Partial
	}
}

// ValueAt returns the value of a tag at t from its samples in time order:
// the last sample at or before t holds (stepped) or is interpolated towards
// the next sample (linear, when both are good floats). The status is
// BadNoData when no sample precedes t or the one that does is bad, and
// has the Interpolated bit when no sample lies exactly at t.
func ValueAt(samples []model.Sample, t int64, stepped bool) (float64, model.Quality) {
	lo, hi := 0, len(samples)
	for lo < hi { // first index with Source > t
		m := int(uint(lo+hi) >> 1)
		if samples[m].Source <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return math.NaN(), BadNoData
	}
	o := Options{Stepped: stepped}
	p := o.classify(samples[lo-1])
	if !p.good {
		return math.NaN(), BadNoData
	}
	var q *point
	if lo < len(samples) {
		qq := o.classify(samples[lo])
		q = &qq
	}
	st := model.Good
	if p.unc {
		st = UncertainDataSubNormal
	}
	if p.t != t {
		st |= Interpolated
	}
	return value(&p, q, t), st
}

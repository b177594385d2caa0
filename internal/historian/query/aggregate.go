package query

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// aggDef is one aggregate a request can name.
type aggDef struct {
	name, part13, about string
	get                 func(r *agg.Result, a *arena) AggValue
}

func num(f float64) model.Value {
	if math.IsNaN(f) {
		return model.Value{}
	}
	return model.FloatValue(model.Float64, f)
}

func count(n int) model.Value { return model.IntValue(model.Int64, int64(n)) }

func seconds(ns int64) model.Value { return model.FloatValue(model.Float64, float64(ns)/1e9) }

// arena hands out the times and statuses that AggValues point to from
// shared blocks: one allocation per block rather than one per value.
type arena struct {
	ts []time.Time
	qs []Status
}

const arenaBlock = 512

func (a *arena) at(ns int64) *time.Time {
	if len(a.ts) == cap(a.ts) {
		a.ts = make([]time.Time, 0, arenaBlock)
	}
	a.ts = append(a.ts, time.Unix(0, ns).UTC())
	return &a.ts[len(a.ts)-1]
}

func (a *arena) st(q model.Quality) *Status {
	if len(a.qs) == cap(a.qs) {
		a.qs = make([]Status, 0, arenaBlock)
	}
	a.qs = append(a.qs, Status(q))
	return &a.qs[len(a.qs)-1]
}

func extreme(a *arena, r *agg.Result, v float64, t int64, q model.Quality) AggValue {
	if r.Count == 0 {
		return AggValue{}
	}
	return AggValue{Value: num(v), Time: a.at(t), Status: a.st(q)}
}

func edge(a *arena, r *agg.Result, s model.Sample) AggValue {
	if r.Count == 0 {
		return AggValue{}
	}
	return AggValue{Value: s.Value, Time: a.at(s.Source)}
}

var aggDefs = []aggDef{
	{"count", "Count", "good samples in the interval", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: count(r.Count)} }},
	{"min", "Minimum / MinimumActualTime", "smallest good value, with its time", func(r *agg.Result, a *arena) AggValue {
		return extreme(a, r, r.Minimum, r.MinimumTime, r.MinimumStatus)
	}},
	{"max", "Maximum / MaximumActualTime", "largest good value, with its time", func(r *agg.Result, a *arena) AggValue {
		return extreme(a, r, r.Maximum, r.MaximumTime, r.MaximumStatus)
	}},
	{"avg", "Average", "arithmetic mean of good samples", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.Average)} }},
	{"twa", "TimeAverage", "time-weighted average over the good time", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.TimeAverage)} }},
	{"total", "Total", "time integral over the good time, value × seconds", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.Total)} }},
	{"range", "Range", "max − min", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.Range)} }},
	{"first", "Start", "first good sample", func(r *agg.Result, a *arena) AggValue { return edge(a, r, r.First) }},
	{"last", "End", "last good sample", func(r *agg.Result, a *arena) AggValue { return edge(a, r, r.Last) }},
	{"stddev", "StandardDeviationSample", "sample standard deviation (n−1)", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.StdDevSample)} }},
	{"stddev_pop", "StandardDeviationPopulation", "population standard deviation (n)", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.StdDevPopulation)} }},
	{"pct_good", "PercentGood", "share of the interval's time with good data, 0..100", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.PercentGood)} }},
	{"pct_bad", "PercentBad", "share without good data, 0..100", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: num(r.PercentBad)} }},
	{"dur_good", "DurationGood", "seconds with good data", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: seconds(r.DurationGood)} }},
	{"dur_bad", "DurationBad", "seconds without good data", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: seconds(r.DurationBad)} }},
	{"dur_state_zero", "DurationInStateZero", "seconds of good data equal to zero (false)", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: seconds(r.DurationInStateZero)} }},
	{"dur_state_nonzero", "DurationInStateNonZero", "seconds of good data not zero (true)", func(r *agg.Result, a *arena) AggValue {
		return AggValue{Value: seconds(r.DurationInStateNonZero)}
	}},
	{"transitions", "NumberOfTransitions", "changes of value between consecutive good samples", func(r *agg.Result, a *arena) AggValue { return AggValue{Value: count(r.Transitions)} }},
	{"interpolative", "Interpolative", "value at the interval's start", func(r *agg.Result, a *arena) AggValue {
		return AggValue{Value: num(r.Interpolative), Status: a.st(r.InterpolativeStatus)}
	}},
}

// aliases maps other spellings, Part 13's names among them, to our names.
var aliases = map[string]string{
	"average": "avg", "mean": "avg", "timeaverage": "twa", "time_average": "twa", "minimum": "min", "maximum": "max",
	"start": "first", "end": "last", "stdev": "stddev", "standarddeviationsample": "stddev",
	"standarddeviationpopulation": "stddev_pop", "percentgood": "pct_good", "percentbad": "pct_bad",
	"durationgood": "dur_good", "durationbad": "dur_bad", "durationinstatezero": "dur_state_zero",
	"durationinstatenonzero": "dur_state_nonzero", "numberoftransitions": "transitions",
	"minimumactualtime": "min", "maximumactualtime": "max",
}

// AggregateInfo describes an aggregate for help texts and the docs.
type AggregateInfo struct {
	Name   string `json:"name"`
	Part13 string `json:"part13"`
	About  string `json:"about"`
}

// Aggregates lists the aggregates a request can name.
func Aggregates() []AggregateInfo {
	out := make([]AggregateInfo, len(aggDefs))
	for i, d := range aggDefs {
		out[i] = AggregateInfo{d.name, d.part13, d.about}
	}
	return out
}

func lookupAgg(name string) (*aggDef, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for i := range aggDefs {
		if aggDefs[i].name == n {
			return &aggDefs[i], true
		}
	}
	return nil, false
}

// Aggregate computes aggregates of each tag over fixed intervals.
func (e *Engine) Aggregate(ctx context.Context, req AggRequest) (*AggResponse, error) {
	if len(req.Aggregates) == 0 {
		return nil, errcode.New(errcode.QueryAggregate, "no aggregates named")
	}
	defs := make([]*aggDef, 0, len(req.Aggregates))
	names := make([]string, 0, len(req.Aggregates))
	for _, n := range req.Aggregates {
		d, ok := lookupAgg(n)
		if !ok {
			return nil, errcode.New(errcode.QueryAggregate, "unknown aggregate %q", n)
		}
		defs = append(defs, d)
		names = append(names, d.name)
	}
	o := req.AggOptions
	if o.PercentGood < 0 || o.PercentGood > 100 || o.PercentBad < 0 || o.PercentBad > 100 {
		return nil, errcode.New(errcode.QueryArg, "percent_good %v, percent_bad %v: want 0..100", o.PercentGood, o.PercentBad)
	}
	from, to, err := e.timeRange(req.From, req.To)
	if err != nil {
		return nil, err
	}
	span := to - from
	var iv int64
	switch {
	case req.Interval != "" && req.Buckets != 0:
		return nil, errcode.New(errcode.QueryArg, "interval %q and buckets %d: give one", req.Interval, req.Buckets)
	case req.Interval != "":
		d, err := ParseDuration(req.Interval)
		if err != nil {
			return nil, err
		}
		if d <= 0 {
			return nil, errcode.New(errcode.QueryArg, "interval %q: want a positive duration", req.Interval)
		}
		iv = int64(d)
	case req.Buckets < 0 || req.Buckets > MaxBuckets:
		return nil, errcode.New(errcode.QueryBuckets, "buckets %d: want 1..%d", req.Buckets, MaxBuckets)
	case req.Buckets > 0:
		iv = (span + int64(req.Buckets) - 1) / int64(req.Buckets)
	default:
		iv = span
	}
	if nb := (span-1)/iv + 1; nb > MaxBuckets {
		return nil, errcode.New(errcode.QueryBuckets, "interval %v over %v gives %d intervals, at most %d", time.Duration(iv), time.Duration(span), nb, MaxBuckets)
	}
	tags, err := e.Tags(ctx, req.Tags)
	if err != nil {
		return nil, err
	}
	opt := agg.Options{Stepped: o.Stepped, TreatUncertainAsBad: o.TreatUncertainAsBad, PercentDataGood: o.PercentGood, PercentDataBad: o.PercentBad}
	resp := &AggResponse{From: time.Unix(0, from).UTC(), To: time.Unix(0, to).UTC(), Interval: time.Duration(iv).String(),
		Aggregates: names, Series: make([]AggSeries, 0, len(tags))}
	var rs, tail []agg.Result
	var ar arena
	for _, tag := range tags {
		rawFrom, rolled := from, ""
		if level, liv, cut, ok := e.rollupPlan(tag, from, to, iv, defs, o); ok {
			var used bool
			rs, used, err = e.fromRollups(ctx, tag, level, liv, from, cut, to, iv, rs)
			if err != nil {
				return nil, readErr(err, "aggregate", tag)
			}
			if used {
				rawFrom, rolled = cut, level
			}
		}
		if rolled == "" {
			rs = rs[:0]
		}
		if rawFrom < to {
			c, err := e.chain(ctx, tag, rawFrom, to, &opt, true)
			if err != nil {
				return nil, err
			}
			tail, err = agg.Aggregate(c, rawFrom, to, iv, opt, tail)
			if cerr := c.close(); cerr != nil {
				return nil, cerr
			}
			if err != nil {
				return nil, readErr(err, "aggregate", tag)
			}
			rs = append(rs, tail...)
		}
		ser := AggSeries{Tag: tag, Compression: e.compression(tag), Rollup: rolled, Buckets: make([]Bucket, len(rs))}
		vals := make([]AggValue, len(rs)*len(defs)) // one allocation for all buckets
		for i := range rs {
			r := &rs[i]
			b := &ser.Buckets[i]
			b.Start, b.End, b.Status = time.Unix(0, r.Start).UTC(), time.Unix(0, r.End).UTC(), Status(r.Status)
			b.Values = vals[i*len(defs) : (i+1)*len(defs) : (i+1)*len(defs)]
			for j, d := range defs {
				b.Values[j] = d.get(r, &ar)
			}
		}
		resp.Series = append(resp.Series, ser)
	}
	return resp, nil
}

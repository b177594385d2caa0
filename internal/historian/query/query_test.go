package query

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/historian/lossy"
	"github.com/otlink/otlink/internal/model"
)

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func ns(sec float64) int64 { return t0.UnixNano() + int64(sec*1e9) }

func rfc(sec float64) string { return time.Unix(0, ns(sec)).UTC().Format(time.RFC3339Nano) }

func TestParseTime(t *testing.T) {
	now := t0
	cases := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"NOW-1h", now.Add(-time.Hour)},
		{"now+15m", now.Add(15 * time.Minute)},
		{"-15m", now.Add(-15 * time.Minute)},
		{"-2d", now.Add(-48 * time.Hour)},
		{"-1w12h", now.Add(-180 * time.Hour)},
		{"2024-05-01T10:00:00+02:00", t0},
		{"2024-05-01T08:00:00.123456789Z", t0.Add(123456789)},
		{"1714550400", t0},
		{"1714550400.25", t0.Add(250 * time.Millisecond)},
		{"1714550400123", t0.Add(123 * time.Millisecond)},
		{"0", time.Unix(0, 0)},
	}
	for _, c := range cases {
		got, err := ParseTime(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseTime(%q) = %v %v, want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "now-", "now-1x", "2024-05-01", "-", "1e9", "NaN", "123456789012345678"} {
		if _, err := ParseTime(bad, now); errcode.Of(err) != errcode.QueryTime {
			t.Errorf("ParseTime(%q): %v, want %v", bad, err, errcode.QueryTime)
		}
	}
}

func TestStatusText(t *testing.T) {
	for _, q := range []model.Quality{model.Good, model.BadTimeout, agg.BadNoData | agg.Calculated,
		agg.UncertainDataSubNormal | agg.Calculated | agg.Partial, model.Good | agg.Interpolated,
		agg.Calculated | agg.MultiValue, 0x80AB0000} {
		b, _ := Status(q).MarshalText()
		var s Status
		if err := s.UnmarshalText(b); err != nil || model.Quality(s) != q {
			t.Errorf("%08X → %s → %08X %v", uint32(q), b, uint32(s), err)
		}
	}
	if got := Status(agg.UncertainDataSubNormal | agg.Calculated | agg.Partial).String(); got != "UncertainDataSubNormal+Calculated+Partial" {
		t.Errorf("String = %q", got)
	}
}

// randomTag makes a series with the edge cases: duplicates in time, bad,
// uncertain, NaN, ints and bools.
func randomTag(r *rand.Rand, tag string) []model.Sample {
	typ := []model.Type{model.Float64, model.Float64, model.Int32, model.Bool}[r.IntN(4)]
	var ss []model.Sample
	t := -20.0 + float64(r.IntN(20))
	for range r.IntN(150) {
		if r.IntN(8) != 0 {
			t += float64(1+r.IntN(8)) * 0.25
		}
		s := model.Sample{Tag: tag, Source: ns(t), Server: ns(t)}
		x := float64(r.IntN(7)-3) + r.NormFloat64()*float64(r.IntN(2))
		switch typ {
		case model.Float64:
			s.Value = model.FloatValue(typ, x)
		case model.Int32:
			s.Value = model.IntValue(typ, int64(x))
		case model.Bool:
			s.Value = model.BoolValue(x > 0)
		}
		switch r.IntN(15) {
		case 0:
			s.Quality, s.Code = model.BadTimeout, 2102
		case 1:
			s.Quality, s.Value = model.BadNotConnected, model.Value{}
		case 2:
			s.Quality = model.UncertainLastUsableValue
		case 3:
			if typ == model.Float64 {
				s.Value = model.FloatValue(typ, math.NaN())
			}
		}
		ss = append(ss, s)
	}
	return ss
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b
}

func valFloat(v model.Value) float64 {
	if !v.IsValid() {
		return math.NaN()
	}
	return v.Float()
}

// TestAggregateMatchesAgg checks the glue: the engine, reading through
// Raw, Before and After (or Raw past the end), gives what agg computes
// over the whole series.
func TestAggregateMatchesAgg(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	ctx := context.Background()
	names := []string{"count", "min", "max", "avg", "twa", "total", "range", "first", "last", "stddev",
		"stddev_pop", "pct_good", "pct_bad", "dur_good", "dur_bad", "dur_state_zero", "dur_state_nonzero", "transitions", "interpolative"}
	for run := range 400 {
		m := newMem()
		m.add(randomTag(r, "a/x")...)
		m.add(randomTag(r, "a/y")...)
		var rd historian.Reader = m
		if run%2 == 0 {
			rd = memAfter{m}
		}
		e := New(rd, Config{})
		from := float64(r.IntN(20)) - 10
		to := from + float64(1+r.IntN(60))*0.5
		req := AggRequest{Tags: []string{"a/x", "a/y"}, From: rfc(from), To: rfc(to), Aggregates: names}
		req.Stepped, req.TreatUncertainAsBad = r.IntN(2) == 0, r.IntN(2) == 0
		if r.IntN(3) == 0 {
			req.PercentGood, req.PercentBad = 80, 50
		}
		if r.IntN(2) == 0 {
			req.Buckets = 1 + r.IntN(12)
		} else {
			req.Interval = []string{"1s", "750ms", "3s", "1m"}[r.IntN(4)]
		}
		resp, err := e.Aggregate(ctx, req)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if len(resp.Series) != 2 {
			t.Fatalf("run %d: %d series", run, len(resp.Series))
		}
		iv := int64(0)
		if d, err := time.ParseDuration(resp.Interval); err == nil {
			iv = int64(d)
		}
		opt := agg.Options{Stepped: req.Stepped, TreatUncertainAsBad: req.TreatUncertainAsBad, PercentDataGood: req.PercentGood, PercentDataBad: req.PercentBad}
		for _, ser := range resp.Series {
			want, err := agg.Aggregate(agg.Slice(m.series[ser.Tag]), ns(from), ns(to), iv, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(ser.Buckets) {
				t.Fatalf("run %d %s: %d buckets, want %d", run, ser.Tag, len(ser.Buckets), len(want))
			}
			for k, w := range want {
				b := ser.Buckets[k]
				if b.Start.UnixNano() != w.Start || b.End.UnixNano() != w.End || model.Quality(b.Status) != w.Status {
					t.Fatalf("run %d %s bucket %d: %v..%v %v, want %d..%d %v", run, ser.Tag, k, b.Start, b.End, b.Status, w.Start, w.End, Status(w.Status))
				}
				exp := []float64{float64(w.Count), w.Minimum, w.Maximum, w.Average, w.TimeAverage, w.Total, w.Range,
					nanUnless(w.Count > 0, w.First.Value), nanUnless(w.Count > 0, w.Last.Value), w.StdDevSample, w.StdDevPopulation,
					w.PercentGood, w.PercentBad, float64(w.DurationGood) / 1e9, float64(w.DurationBad) / 1e9,
					float64(w.DurationInStateZero) / 1e9, float64(w.DurationInStateNonZero) / 1e9, float64(w.Transitions), w.Interpolative}
				for j, n := range names {
					if got := valFloat(b.Values[j].Value); !sameFloat(got, exp[j]) {
						t.Fatalf("run %d %s bucket %d %s = %v, want %v", run, ser.Tag, k, n, got, exp[j])
					}
				}
				if w.Count > 0 && (b.Values[1].Time.UnixNano() != w.MinimumTime || model.Quality(*b.Values[2].Status) != w.MaximumStatus ||
					b.Values[8].Time.UnixNano() != w.Last.Source) {
					t.Fatalf("run %d %s bucket %d: times or statuses of min/max/last differ", run, ser.Tag, k)
				}
			}
		}
	}
}

func nanUnless(ok bool, v model.Value) float64 {
	if !ok || !v.IsValid() {
		return math.NaN()
	}
	return v.Float()
}

func TestAggregateJSONAndCompression(t *testing.T) {
	m := newMem()
	for i := range 10 {
		m.add(model.Sample{Tag: "l1/flow", Source: ns(float64(i)), Value: model.FloatValue(model.Float64, float64(i))})
	}
	st := lossy.Settings{CompDev: 0.5, CompMax: lossy.Duration(8 * time.Hour)}
	e := New(m, Config{TagInfo: func(tag string) (lossy.Settings, bool) { return st, tag == "l1/flow" }})
	resp, err := e.Aggregate(context.Background(), AggRequest{Tags: []string{"l1/flow", "l1/none"}, From: rfc(0), To: rfc(10),
		Interval: "5s", Aggregates: []string{"Average", "max", "TimeAverage"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(resp.Aggregates, ","); got != "avg,max,twa" {
		t.Errorf("aggregates %s", got)
	}
	if resp.Series[0].Compression == nil || *resp.Series[0].Compression != st || resp.Series[1].Compression != nil {
		t.Errorf("compression not shown where it applies: %+v", resp.Series)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"interval":"5s"`, `"compression":{"comp_dev":0.5,"comp_max":"8h0m0s"}`,
		`"values":[{"v":2},{"v":4,"t":"2024-05-01T08:00:04Z","q":"Good+Calculated"},{"v":2.5}]`,
		`"q":"BadNoData+Calculated","values":[{"v":null},{"v":null},{"v":null}]`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
}

func TestRawPaging(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	ctx := context.Background()
	for run := range 200 {
		m := newMem()
		for _, tag := range []string{"p/a", "p/b", "p/c"} {
			m.add(randomTag(r, tag)...)
		}
		e := New(m, Config{})
		q := []string{"", QualityAll, QualityGood, QualityExcludeBad}[r.IntN(4)]
		keep, _ := qualityFilter(q)
		from, to := -15.0, 30.0
		var want []model.Sample
		for _, tag := range []string{"p/a", "p/b", "p/c"} {
			for _, s := range m.series[tag] {
				if s.Source >= ns(from) && s.Source < ns(to) && keep(s.Quality) {
					want = append(want, s)
				}
			}
		}
		limit := 1 + r.IntN(40)
		req := RawRequest{Tags: []string{"p/*"}, From: rfc(from), To: rfc(to), Limit: limit, Quality: q}
		var got []model.Sample
		for page := 0; ; page++ {
			if page > 1000 {
				t.Fatal("paging does not end")
			}
			resp, err := e.Raw(ctx, req)
			if err != nil {
				t.Fatalf("run %d page %d: %v", run, page, err)
			}
			n := 0
			for _, ser := range resp.Series {
				for _, p := range ser.Points {
					got = append(got, model.Sample{Tag: ser.Tag, Source: p.Time.UnixNano(), Value: p.Value, Quality: p.Quality.Quality(), Code: p.Code})
					n++
				}
			}
			if n > limit {
				t.Fatalf("run %d: page of %d over limit %d", run, n, limit)
			}
			if resp.NextCursor == "" {
				break
			}
			if n == 0 {
				t.Fatalf("run %d: empty page with a cursor", run)
			}
			req = RawRequest{Tags: []string{"p/*"}, Limit: limit, Quality: q, Cursor: resp.NextCursor}
		}
		if len(got) != len(want) {
			t.Fatalf("run %d: %d samples over all pages, want %d", run, len(got), len(want))
		}
		for i := range want {
			w := want[i]
			w.Server = 0
			if got[i] != w && !(math.IsNaN(got[i].Value.Float()) && got[i].Source == w.Source) {
				t.Fatalf("run %d sample %d: %+v, want %+v", run, i, got[i], w)
			}
		}
	}
}

func TestAtMatchesValueAt(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	for run := range 300 {
		m := newMem()
		ss := randomTag(r, "v")
		m.add(ss...)
		var rd historian.Reader = m
		if run%2 == 1 {
			rd = memAfter{m}
		}
		e := New(rd, Config{})
		at := float64(r.IntN(120))*0.25 - 20
		mode := []string{"", ModeStepped, ModeLinear}[r.IntN(3)]
		resp, err := e.At(ctx, AtRequest{Tags: []string{"v"}, Time: rfc(at), Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Values[0]
		stepped := mode == ModeStepped || (mode == "" && (len(ss) == 0 || !prevType(ss, ns(at)).IsFloat()))
		wv, wq := agg.ValueAt(m.series["v"], ns(at), stepped)
		if wq&0xFFFF0000 == agg.BadNoData {
			if got.Value.IsValid() || !(got.Quality.Quality().IsBad()) {
				t.Fatalf("run %d: got %+v, want no value", run, got)
			}
			continue
		}
		if model.Quality(got.Quality) != wq || !sameFloat(got.Value.Float(), wv) {
			t.Fatalf("run %d at %v (%s): %v %v, want %v %v", run, at, mode, got.Value, got.Quality, wv, Status(wq))
		}
	}
}

func prevType(ss []model.Sample, t int64) model.Type {
	ty := model.TypeInvalid
	for _, s := range ss {
		if s.Source <= t {
			ty = s.Value.T
		}
	}
	return ty
}

func TestPlotAndLatest(t *testing.T) {
	m := newMem()
	r := rand.New(rand.NewPCG(1, 1))
	ss := make([]model.Sample, 5000)
	for i := range ss {
		ss[i] = model.Sample{Tag: "c/sine", Source: ns(float64(i)), Value: model.FloatValue(model.Float64, math.Sin(float64(i)/100)+r.NormFloat64()*0.01)}
	}
	m.add(ss...)
	m.add(model.Sample{Tag: "c/state", Source: ns(3), Value: model.BoolValue(true)})
	e := New(m, Config{})
	ctx := context.Background()
	resp, err := e.Plot(ctx, PlotRequest{Tags: []string{"c/sine"}, From: rfc(0), To: rfc(5000), Width: 100})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := agg.MinMax(agg.Slice(m.series["c/sine"]), ns(0), ns(5000), 100, nil)
	if len(resp.Series[0].Points) != len(want) || len(want) > 202 {
		t.Fatalf("minmax: %d points, want %d", len(resp.Series[0].Points), len(want))
	}
	for i, p := range resp.Series[0].Points {
		if p.Time.UnixNano() != want[i].Source {
			t.Fatalf("minmax point %d differs", i)
		}
	}
	resp, err = e.Plot(ctx, PlotRequest{Tags: []string{"c/sine"}, From: rfc(0), To: rfc(5000), Width: 100, Method: MethodLTTB})
	if err != nil || len(resp.Series[0].Points) != 100 {
		t.Fatalf("lttb: %v, %d points", err, len(resp.Series[0].Points))
	}
	lr, err := e.Latest(ctx, LatestRequest{Tags: []string{"c/*", "c/none"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Values) != 3 || lr.Values[0].Tag != "c/sine" || lr.Values[0].Time.UnixNano() != ns(4999) ||
		lr.Values[1].Value != model.BoolValue(true) || lr.Values[2].Quality.Quality() != model.BadWaitingForInitialData {
		t.Fatalf("latest: %+v", lr.Values)
	}
}

func TestBadRequests(t *testing.T) {
	m := newMem()
	m.add(model.Sample{Tag: "a", Source: ns(0), Value: model.BoolValue(true)})
	e := New(m, Config{MaxTags: 2, Now: func() time.Time { return t0 }})
	ctx := context.Background()
	many := []string{"x", "y", "z"}
	cases := []struct {
		name string
		run  func() error
		code errcode.Code
	}{
		{"from after to", func() error {
			_, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, From: "now", To: "-1h"})
			return err
		}, errcode.QueryRange},
		{"from = to", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, From: rfc(0), To: rfc(0), Aggregates: []string{"avg"}})
			return err
		}, errcode.QueryRange},
		{"bad time", func() error { _, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, From: "yesterday"}); return err }, errcode.QueryTime},
		{"unknown aggregate", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, Aggregates: []string{"avg", "median"}})
			return err
		}, errcode.QueryAggregate},
		{"no aggregate", func() error { _, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}}); return err }, errcode.QueryAggregate},
		{"too many buckets", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, From: "-1w", Interval: "1s", Aggregates: []string{"avg"}})
			return err
		}, errcode.QueryBuckets},
		{"buckets over cap", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, Buckets: 100_001, Aggregates: []string{"avg"}})
			return err
		}, errcode.QueryBuckets},
		{"interval and buckets", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, Interval: "1m", Buckets: 3, Aggregates: []string{"avg"}})
			return err
		}, errcode.QueryArg},
		{"bad interval", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, Interval: "0s", Aggregates: []string{"avg"}})
			return err
		}, errcode.QueryArg},
		{"percent", func() error {
			_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, Aggregates: []string{"avg"}, AggOptions: AggOptions{PercentGood: 120}})
			return err
		}, errcode.QueryArg},
		{"bad glob", func() error { _, err := e.Latest(ctx, LatestRequest{Tags: []string{"a/[x"}}); return err }, errcode.QueryGlob},
		{"no tags", func() error { _, err := e.Latest(ctx, LatestRequest{}); return err }, errcode.QueryTags},
		{"glob matches nothing", func() error { _, err := e.Latest(ctx, LatestRequest{Tags: []string{"zz/*"}}); return err }, errcode.QueryTags},
		{"too many tags", func() error { _, err := e.Latest(ctx, LatestRequest{Tags: many}); return err }, errcode.QueryTags},
		{"quality filter", func() error { _, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, Quality: "best"}); return err }, errcode.QueryArg},
		{"limit", func() error { _, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, Limit: -1}); return err }, errcode.QueryArg},
		{"cursor garbage", func() error { _, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, Cursor: "!!"}); return err }, errcode.QueryCursor},
		{"cursor other tags", func() error {
			c := cursor{from: ns(0), to: ns(10), pos: ns(1), hash: tagsHash([]string{"b"})}
			_, err := e.Raw(ctx, RawRequest{Tags: []string{"a"}, Cursor: c.String()})
			return err
		}, errcode.QueryCursor},
		{"at mode", func() error { _, err := e.At(ctx, AtRequest{Tags: []string{"a"}, Mode: "cubic"}); return err }, errcode.QueryArg},
		{"plot method", func() error { _, err := e.Plot(ctx, PlotRequest{Tags: []string{"a"}, Method: "spline"}); return err }, errcode.QueryArg},
		{"plot width", func() error { _, err := e.Plot(ctx, PlotRequest{Tags: []string{"a"}, Width: 1e6}); return err }, errcode.QueryBuckets},
	}
	for _, c := range cases {
		if err := c.run(); errcode.Of(err) != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}
	// An unknown plain tag is not an error: its results say there is no data.
	resp, err := e.Aggregate(ctx, AggRequest{Tags: []string{"nope"}, Aggregates: []string{"avg"}})
	if err != nil || model.Quality(resp.Series[0].Buckets[0].Status)&0xFFFF0000 != agg.BadNoData {
		t.Errorf("unknown tag: %v %+v", err, resp)
	}
}

func TestCancelled(t *testing.T) {
	m := newMem()
	ss := make([]model.Sample, 20000)
	for i := range ss {
		ss[i] = model.Sample{Tag: "a", Source: ns(float64(i)), Value: model.FloatValue(model.Float64, 1)}
	}
	m.add(ss...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := New(m, Config{})
	_, err := e.Aggregate(ctx, AggRequest{Tags: []string{"a"}, From: rfc(0), To: rfc(20000), Aggregates: []string{"avg"}})
	if errcode.Of(err) != errcode.QueryRead {
		t.Errorf("cancelled aggregate: %v", err)
	}
}

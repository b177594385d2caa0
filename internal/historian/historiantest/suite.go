package historiantest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

// Open returns a new, empty store for one subtest; the suite closes it.
type Open func(t *testing.T) historian.Store

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st historian.Store)
	}{
		{"RoundTripTypes", roundTripTypes},
		{"Idempotent", idempotent},
		{"OutOfOrder", outOfOrder},
		{"RawBounds", rawBounds},
		{"RawLong", rawLong},
		{"Before", before},
		{"Latest", latest},
		{"Tags", tags},
		{"ConcurrentWriters", concurrentWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer func() {
				if err := st.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			tc.fn(t, st)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a source time in 2024, so that backends that partition by time
// see ordinary data.
const base = int64(1_717_200_000_000_000_000)

func write(t *testing.T, st historian.Store, s ...model.Sample) {
	t.Helper()
	if err := st.Write(ctx(t), s); err != nil {
		t.Fatalf("write %d samples: %v", len(s), err)
	}
}

// raw reads a whole range, failing the test on errors.
func raw(t *testing.T, st historian.Store, tag string, from, to int64) []model.Sample {
	t.Helper()
	it, err := st.Raw(ctx(t), tag, from, to)
	if err != nil {
		t.Fatalf("raw %s [%d,%d): %v", tag, from, to, err)
	}
	defer it.Close()
	var out []model.Sample
	for i := 0; it.Next(); i++ {
		if i > 10_000_000 {
			t.Fatal("iterator does not end")
		}
		out = append(out, it.At())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("raw %s: %v", tag, err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	return out
}

// same compares samples; NaNs compare equal whatever their payload, since
// a backend may canonicalise them.
func same(a, b model.Sample) bool {
	if a.Tag != b.Tag || a.Source != b.Source || a.Server != b.Server || a.Quality != b.Quality || a.Code != b.Code || a.Value.T != b.Value.T {
		return false
	}
	if a.Value.T.IsFloat() {
		fa, fb := a.Value.Float(), b.Value.Float()
		return fa == fb && math.Signbit(fa) == math.Signbit(fb) || math.IsNaN(fa) && math.IsNaN(fb)
	}
	return a.Value.Equal(b.Value)
}

func show(s model.Sample) string {
	return fmt.Sprintf("{%s %v %s=%s q=%s code=%d srv=%d}", s.Tag, s.Source, s.Value.T, s.Value, s.Quality, s.Code, s.Server)
}

func sample(tag string, src int64, v model.Value) model.Sample {
	return model.Sample{Tag: tag, Source: src, Server: src + 1_000_000, Value: v, Quality: model.Good}
}

func sources(ss []model.Sample) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = s.Source
	}
	return out
}

func roundTripTypes(t *testing.T, st historian.Store) {
	values := []model.Value{
		model.BoolValue(true), model.BoolValue(false),
		model.IntValue(model.Int8, math.MinInt8), model.IntValue(model.Int8, math.MaxInt8),
		model.IntValue(model.Int16, math.MinInt16), model.IntValue(model.Int32, math.MaxInt32),
		model.IntValue(model.Int64, math.MinInt64), model.IntValue(model.Int64, math.MaxInt64),
		model.IntValue(model.Int64, 1<<53+1), model.IntValue(model.Int64, -(1<<53 + 1)), model.IntValue(model.Int64, 0),
		model.UintValue(model.Uint8, math.MaxUint8), model.UintValue(model.Uint16, math.MaxUint16),
		model.UintValue(model.Uint32, math.MaxUint32), model.UintValue(model.Uint64, math.MaxUint64),
		model.UintValue(model.Uint64, 1<<63), model.UintValue(model.Uint64, 1<<53+1), model.UintValue(model.Uint64, 0),
		model.FloatValue(model.Float32, float64(float32(1.1))), model.FloatValue(model.Float32, float64(float32(math.MaxFloat32))),
		model.FloatValue(model.Float64, math.NaN()), model.FloatValue(model.Float64, math.Inf(1)),
		model.FloatValue(model.Float64, math.Inf(-1)), model.FloatValue(model.Float64, math.Copysign(0, -1)),
		model.FloatValue(model.Float64, math.SmallestNonzeroFloat64), model.FloatValue(model.Float64, math.MaxFloat64),
		model.FloatValue(model.Float64, 0.1), model.FloatValue(model.Float32, math.NaN()),
		model.StringValue(""), model.StringValue(`it's a "quoted" \ string; DROP TABLE samples; --`),
		model.StringValue("温度 °C ✓ 🏭 Ünïcødé"), model.StringValue("line\nbreak\ttab %_ *?[]"),
	}
	var batch []model.Sample
	for i, v := range values {
		s := sample(fmt.Sprintf("types/v%02d", i), base+int64(i), v)
		s.Quality = model.Quality(uint32(i) << 16) // includes good, uncertain and bad bit patterns below
		batch = append(batch, s)
	}
	// A bad sample with no value, with the otlink code that explains it,
	// and qualities with the top bit set (negative as int32).
	batch = append(batch, model.Sample{Tag: "types/bad", Source: base, Server: base + 5, Quality: model.BadTimeout | 0x0400, Code: 65535},
		model.Sample{Tag: "types/bad", Source: base + 1, Server: -1, Quality: model.Quality(math.MaxUint32), Code: 2102, Value: model.IntValue(model.Int16, -1)})
	write(t, st, batch...)
	for _, want := range batch {
		got := raw(t, st, want.Tag, want.Source, want.Source+1)
		if len(got) != 1 || !same(got[0], want) {
			t.Errorf("%s: got %v, want %s", want.Tag, got, show(want))
		}
	}
}

func idempotent(t *testing.T, st historian.Store) {
	var batch []model.Sample
	for i := range 50 {
		batch = append(batch, sample(fmt.Sprintf("idem/t%d", i%5), base+int64(i/5)*1000, model.FloatValue(model.Float64, float64(i))))
	}
	write(t, st, batch...)
	write(t, st, batch...)        // redelivery of the whole batch
	write(t, st, batch[10:20]...) // of a part
	// A batch that holds the same sample twice, and a new one.
	write(t, st, batch[0], batch[0], sample("idem/t0", base+99_000, model.FloatValue(model.Float64, -1)))
	for i := range 5 {
		tag := fmt.Sprintf("idem/t%d", i)
		got := raw(t, st, tag, math.MinInt64, math.MaxInt64)
		want := 10
		if i == 0 {
			want = 11
		}
		if len(got) != want {
			t.Fatalf("%s: %d samples stored, want %d: %v", tag, len(got), want, sources(got))
		}
		for j := 0; j < 10; j++ {
			if !same(got[j], batch[j*5+i]) {
				t.Errorf("%s #%d: %s, want %s", tag, j, show(got[j]), show(batch[j*5+i]))
			}
		}
	}
}

func outOfOrder(t *testing.T, st historian.Store) {
	order := []int64{5, 1, 9, 3, 7, 2, 8, 0, 6, 4}
	for _, k := range order {
		write(t, st, sample("ooo/a", base+k*1_000_000_000, model.IntValue(model.Int32, k)))
	}
	// Within one batch too, and much older data (a backfill a year back).
	write(t, st, sample("ooo/a", base+15e9, model.IntValue(model.Int32, 15)), sample("ooo/a", base+12e9, model.IntValue(model.Int32, 12)),
		sample("ooo/a", base-365*86400e9, model.IntValue(model.Int32, -1)))
	got := raw(t, st, "ooo/a", math.MinInt64, math.MaxInt64)
	want := []int64{base - 365*86400e9}
	for k := int64(0); k < 10; k++ {
		want = append(want, base+k*1e9)
	}
	want = append(want, base+12e9, base+15e9)
	if !slices.Equal(sources(got), want) {
		t.Fatalf("sources %v, want %v", sources(got), want)
	}
	for _, s := range got[1:] {
		if s.Value.Int() != (s.Source-base)/1e9 {
			t.Errorf("value at %d is %s", s.Source, s.Value)
		}
	}
}

func rawBounds(t *testing.T, st historian.Store) {
	for _, k := range []int64{10, 20, 30} {
		write(t, st, sample("bounds/x", base+k, model.IntValue(model.Int64, k)))
	}
	write(t, st, sample("bounds/y", base+15, model.IntValue(model.Int64, 15))) // another tag between
	cases := []struct {
		from, to int64
		want     []int64
	}{
		{10, 30, []int64{10, 20}},
		{10, 31, []int64{10, 20, 30}},
		{11, 30, []int64{20}},
		{9, 10, nil},
		{30, 30, nil},
		{31, 20, nil},
		{20, 21, []int64{20}},
		{-1 << 40, 1 << 40, []int64{10, 20, 30}},
	}
	for _, c := range cases {
		got := sources(raw(t, st, "bounds/x", base+c.from, base+c.to))
		var want []int64
		for _, w := range c.want {
			want = append(want, base+w)
		}
		if !slices.Equal(got, want) {
			t.Errorf("raw [%d,%d): %v, want %v", c.from, c.to, got, want)
		}
	}
	if got := raw(t, st, "bounds/nothing", math.MinInt64, math.MaxInt64); len(got) != 0 {
		t.Errorf("unknown tag: %v", got)
	}
	if got := raw(t, st, "bounds/x", math.MinInt64, math.MaxInt64); len(got) != 3 {
		t.Errorf("full range: %v", sources(got))
	}
}

// rawLong reads a range longer than any sensible page or chunk.
func rawLong(t *testing.T, st historian.Store) {
	const n = 20_000
	batch := make([]model.Sample, 0, 1000)
	for i := range n {
		batch = append(batch, sample("long/x", base+int64(i)*100_000_000, model.FloatValue(model.Float64, float64(i)/3)))
		if len(batch) == cap(batch) {
			write(t, st, batch...)
			batch = batch[:0]
		}
	}
	got := raw(t, st, "long/x", base, base+n*100_000_000)
	if len(got) != n {
		t.Fatalf("%d samples, want %d", len(got), n)
	}
	for i, s := range got {
		if s.Source != base+int64(i)*100_000_000 || s.Value.Float() != float64(i)/3 {
			t.Fatalf("#%d: %s", i, show(s))
		}
	}
	if got := raw(t, st, "long/x", base+1, base+n*100_000_000-1); len(got) != n-1 {
		t.Errorf("inner range: %d samples, want %d", len(got), n-1)
	}
}

func before(t *testing.T, st historian.Store) {
	for _, k := range []int64{30, 10, 20} {
		write(t, st, sample("before/x", base+k, model.IntValue(model.Int64, k)))
	}
	cases := []struct {
		at   int64
		want int64 // 0: none
	}{{10, 0}, {11, 10}, {20, 10}, {21, 20}, {30, 20}, {31, 30}, {1 << 50, 30}, {-5, 0}}
	for _, c := range cases {
		s, ok, err := st.Before(ctx(t), "before/x", base+c.at)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == 0 && ok:
			t.Errorf("before %d: %s, want none", c.at, show(s))
		case c.want != 0 && (!ok || s.Source != base+c.want || s.Value.Int() != c.want || s.Tag != "before/x"):
			t.Errorf("before %d: %s %v, want %d", c.at, show(s), ok, c.want)
		}
	}
	if _, ok, err := st.Before(ctx(t), "before/unknown", base+100); ok || err != nil {
		t.Errorf("unknown tag: %v %v", ok, err)
	}
}

func latest(t *testing.T, st historian.Store) {
	// Newest first, then older data: latest must stay the newest.
	write(t, st, sample("latest/a", base+50, model.FloatValue(model.Float64, 5)), sample("latest/b", base+10, model.StringValue("b1")))
	write(t, st, sample("latest/a", base+40, model.FloatValue(model.Float64, 4)), sample("latest/a", base+60, model.FloatValue(model.Float64, 6)),
		sample("latest/a", base+30, model.FloatValue(model.Float64, 3)))
	bad := model.Sample{Tag: "latest/b", Source: base + 20, Server: base + 21, Quality: model.BadNotConnected, Code: 2101}
	write(t, st, bad)
	write(t, st, sample("latest/a", base+60, model.FloatValue(model.Float64, 6))) // redelivered
	got, err := st.Latest(ctx(t), []string{"latest/b", "latest/none", "latest/a", "latest/b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d samples, want 4", len(got))
	}
	want := []model.Sample{bad, {Tag: "latest/none", Quality: model.BadWaitingForInitialData},
		sample("latest/a", base+60, model.FloatValue(model.Float64, 6)), bad}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Errorf("#%d: %s, want %s", i, show(got[i]), show(want[i]))
		}
	}
	if got, err := st.Latest(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("latest of no tags: %v %v", got, err)
	}
}

func tags(t *testing.T, st historian.Store) {
	all := []string{"a/b/c", "a/b/d", "a/bb/c", "a/x", "b/x", "a%b/x", "a_b/x", "a/b/c/d", "ü/温度"}
	for i, tag := range all {
		write(t, st, sample(tag, base+int64(i), model.BoolValue(true)))
	}
	cases := []struct {
		glob string
		want []string
	}{
		{"", []string{"a%b/x", "a/b/c", "a/b/c/d", "a/b/d", "a/bb/c", "a/x", "a_b/x", "b/x", "ü/温度"}},
		{"a/*", []string{"a/x"}},
		{"a/*/c", []string{"a/b/c", "a/bb/c"}},
		{"a/b?/c", []string{"a/bb/c"}},
		{"[ab]/x", []string{"a/x", "b/x"}},
		{"[^a]/x", []string{"b/x"}},  // path.Match negates with ^
		{"a%b/*", []string{"a%b/x"}}, // % and _ are literal, not SQL wildcards
		{"a_b/*", []string{"a_b/x"}},
		{"a?b/x", []string{"a%b/x", "a_b/x"}},
		{"a\\/b/c", []string{"a/b/c"}},
		{"*/*/*/*", []string{"a/b/c/d"}},
		{"ü/*", []string{"ü/温度"}},
		{"nothing/*", nil},
		{"' OR '1'='1", nil},
	}
	for _, c := range cases {
		got, err := st.Tags(ctx(t), c.glob)
		if err != nil {
			t.Errorf("tags %q: %v", c.glob, err)
			continue
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("tags %q: %q, want %q", c.glob, got, c.want)
		}
	}
	if _, err := st.Tags(ctx(t), "a/[b"); err == nil {
		t.Error("a malformed pattern must be an error")
	}
}

func concurrentWriters(t *testing.T, st historian.Store) {
	const writers, batches, per = 4, 10, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var batch []model.Sample
				for i := range per {
					// Half the tags are shared by all writers, and every
					// writer writes the same samples of them.
					tag := fmt.Sprintf("conc/shared%d", i%10)
					src := base + int64(b*per+i)
					if i%2 == 1 {
						tag = fmt.Sprintf("conc/w%d/t%d", w, i%10)
					}
					batch = append(batch, sample(tag, src, model.IntValue(model.Int64, src)))
				}
				if err := st.Write(context.Background(), batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	tags, err := st.Tags(ctx(t), "conc/*")
	if err != nil {
		t.Fatal(err)
	}
	wtags, err := st.Tags(ctx(t), "conc/*/*")
	if err != nil {
		t.Fatal(err)
	}
	// Even i: shared tags 0,2,4,6,8; odd i: per-writer tags 1,3,5,7,9.
	if len(tags) != 5 || len(wtags) != writers*5 {
		t.Fatalf("%d shared and %d per-writer tags, want 5 and %d", len(tags), len(wtags), writers*5)
	}
	for _, tag := range append(tags, wtags...) {
		got := raw(t, st, tag, math.MinInt64, math.MaxInt64)
		for i := 1; i < len(got); i++ {
			if got[i].Source <= got[i-1].Source {
				t.Fatalf("%s not in order at %d", tag, i)
			}
		}
		total += len(got)
	}
	// Shared: 50 distinct samples per batch index; per writer: 50 each.
	if want := batches*per/2 + writers*batches*per/2; total != want {
		t.Errorf("%d samples stored, want %d", total, want)
	}
}

package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
)

var ctx = context.Background()

func open(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func collect(t testing.TB, s *Store, tag string, from, to int64) []model.Sample {
	t.Helper()
	it, err := s.Raw(ctx, tag, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []model.Sample
	for it.Next() {
		out = append(out, it.At())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const sec = int64(time.Second)

func fsample(tag string, t int64, v float64) model.Sample {
	return model.Sample{Tag: tag, Value: model.FloatValue(model.Float64, v), Source: t, Server: t + 3*int64(time.Millisecond)}
}

// ref is the reference: the set of distinct samples per tag, sorted by
// source time (stable in arrival order).
type ref map[string][]model.Sample

func (r ref) add(ss ...model.Sample) {
	for _, s := range ss {
		dup := false
		for _, o := range r[s.Tag] {
			if sameSample(&o, &s) {
				dup = true
				break
			}
		}
		if !dup {
			r[s.Tag] = append(r[s.Tag], s)
		}
	}
}

func (r ref) check(t *testing.T, s *Store, from, to int64) {
	t.Helper()
	for tag, want := range r {
		want = slices.Clone(want)
		slices.SortStableFunc(want, func(a, b model.Sample) int { return cmpInt(a.Source, b.Source) })
		want = slices.DeleteFunc(want, func(x model.Sample) bool { return x.Source < from || x.Source >= to })
		got := collect(t, s, tag, from, to)
		if len(got) != len(want) {
			t.Fatalf("%s: %d samples, want %d", tag, len(got), len(want))
		}
		// Samples of equal source time may come in another order (a
		// correction stored in an amending segment); compare as sets per time.
		for i := range got {
			if got[i].Source != want[i].Source {
				t.Fatalf("%s sample %d at %d, want %d", tag, i, got[i].Source, want[i].Source)
			}
			found := false
			for j := i; j < len(want) && want[j].Source == got[i].Source; j++ {
				found = found || sameSample(&got[i], &want[j]) && got[i].Server == want[j].Server && got[i].Tag == tag
			}
			for j := i - 1; j >= 0 && want[j].Source == got[i].Source; j-- {
				found = found || sameSample(&got[i], &want[j]) && got[i].Server == want[j].Server
			}
			if !found {
				t.Fatalf("%s sample %d = %+v, not written", tag, i, got[i])
			}
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestRoundTripSealReplay(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxSamples: 100}
	s := open(t, dir, o)
	r := ref{}
	base := int64(1_700_000_000) * sec
	for i := range 1000 {
		var batch []model.Sample
		for k := range 5 {
			tag := fmt.Sprintf("p/line/t%d", k)
			var smp model.Sample
			switch k {
			case 0:
				smp = fsample(tag, base+int64(i)*sec, float64(i%17)/10)
			case 1:
				smp = model.Sample{Tag: tag, Value: model.IntValue(model.Int32, int64(i*i)), Source: base + int64(i)*sec, Server: base + int64(i)*sec}
			case 2:
				smp = model.Sample{Tag: tag, Value: model.BoolValue(i%7 == 0), Source: base + int64(i)*sec, Server: base + int64(i)*sec}
			case 3:
				smp = model.Sample{Tag: tag, Value: model.StringValue(fmt.Sprint("state", i/50)), Source: base + int64(i)*sec, Server: base + int64(i)*sec}
			case 4:
				smp = model.Sample{Tag: tag, Quality: model.BadTimeout, Code: 2101, Source: base + int64(i)*sec, Server: base + int64(i)*sec}
				if i%3 == 0 {
					smp.Value, smp.Quality, smp.Code = model.UintValue(model.Uint16, uint64(i)), model.Good, 0
				}
			}
			batch = append(batch, smp)
		}
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		r.add(batch...)
	}
	st := s.Stats()
	if st.Sealed < 40 || st.Samples != 5000 {
		t.Fatalf("stats %+v", st)
	}
	r.check(t, s, base-sec, base+2000*sec)
	r.check(t, s, base+150*sec, base+777*sec)
	lat, _ := s.Latest(ctx, []string{"p/line/t3", "nope"})
	if lat[0].Source != base+999*sec || lat[0].Value.Str() != "state19" || lat[1].Quality != model.BadWaitingForInitialData {
		t.Fatalf("latest %+v", lat)
	}
	b, ok, err := s.Before(ctx, "p/line/t1", base+500*sec)
	if err != nil || !ok || b.Source != base+499*sec || b.Value.Int() != 499*499 {
		t.Fatalf("before %+v %v %v", b, ok, err)
	}
	if _, ok, _ := s.Before(ctx, "p/line/t1", base); ok {
		t.Fatal("before the first sample must find none")
	}
	tags, _ := s.Tags(ctx, "p/*/t[12]")
	if !slices.Equal(tags, []string{"p/line/t1", "p/line/t2"}) {
		t.Fatalf("tags %v", tags)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, o)
	defer s.Close()
	if s.Stats().Replayed == 0 {
		t.Fatal("open chunks were not replayed")
	}
	r.check(t, s, base-sec, base+2000*sec)
	lat2, _ := s.Latest(ctx, []string{"p/line/t3"})
	if lat2[0] != lat[0] {
		t.Fatalf("latest after reopen %+v, want %+v", lat2[0], lat[0])
	}
	// Redelivery of everything after the restart stores nothing.
	dups := s.Stats().Duplicates
	for _, ss := range r {
		if err := s.Write(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Samples != 0 || st.Duplicates-dups != 5000 {
		t.Fatalf("redelivery stored samples: %+v", st)
	}
	r.check(t, s, base-sec, base+2000*sec)
}

func TestLateAndOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxSamples: 50, TimePrecision: time.Nanosecond}
	s := open(t, dir, o)
	r := ref{}
	rng := rand.New(rand.NewPCG(1, 2))
	base := int64(1_700_000_000) * sec
	tag := "a/b"
	// In order, with a jitter of a few samples, and now and then a
	// backfill far in the past, duplicates and corrections.
	for i := range 3000 {
		ts := base + int64(i)*sec - int64(rng.IntN(5))*sec + int64(rng.IntN(1000))
		if i%97 == 0 {
			ts = base + int64(rng.IntN(max(i, 1)))*sec
		}
		smp := fsample(tag, ts, float64(rng.IntN(100)))
		batch := []model.Sample{smp}
		if i%13 == 0 {
			batch = append(batch, smp) // duplicate in the same batch
		}
		if i%31 == 0 {
			c := smp
			c.Value = model.FloatValue(model.Float64, -1) // a correction at the same time
			batch = append(batch, c)
		}
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		r.add(batch...)
		if i%500 == 0 {
			// Redeliver an older stretch.
			old := slices.Clone(r[tag][max(0, len(r[tag])-300):])
			if err := s.Write(ctx, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.Stats()
	if st.Late == 0 || st.Amends == 0 || st.Duplicates == 0 {
		t.Fatalf("stats %+v: expected late data and duplicates", st)
	}
	if st.Samples != uint64(len(r[tag])) {
		t.Fatalf("stored %d samples, want %d", st.Samples, len(r[tag]))
	}
	r.check(t, s, base-10*sec, base+4000*sec)
	r.check(t, s, base+1234*sec, base+1500*sec)
	s.Close()
	s = open(t, dir, o)
	defer s.Close()
	r.check(t, s, base-10*sec, base+4000*sec)
	for i, smp := range r[tag] {
		if err := s.Write(ctx, []model.Sample{smp}); err != nil {
			t.Fatal(err)
		}
		if s.Stats().Samples != 0 {
			t.Fatalf("sample %d %+v stored again", i, smp)
		}
	}
	if err := s.Write(ctx, r[tag]); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Samples != 0 {
		t.Fatalf("redelivery after reopen stored %d", s.Stats().Samples)
	}
}

func TestTimePrecision(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	if err := s.Write(ctx, []model.Sample{fsample("x", 1_700_000_000_123_456_789, 1), fsample("x", -1, 2)}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, "x", -1<<62, 1<<62)
	if len(got) != 2 || got[0].Source != -1_000_000 || got[1].Source != 1_700_000_000_123_000_000 || got[1].Server != 1_700_000_000_126_000_000 {
		t.Fatalf("times not truncated to 1 ms: %+v", got)
	}
}

func TestTornWALAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxSamples: 1000, SegmentSize: 4 << 10, MaxSegments: 3}
	s := open(t, dir, o)
	r := ref{}
	base := int64(1_700_000_000) * sec
	for i := range 2000 {
		b := []model.Sample{fsample("fast", base+int64(i)*sec, float64(i)), fsample("slow", base+int64(i/100)*sec, float64(i/100))}
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		r.add(b...)
	}
	segs, _ := listSegments(filepath.Join(dir, "wal"))
	if len(segs) > 4 {
		t.Fatalf("%d wal segments live, want at most 4 (old ones deleted)", len(segs))
	}
	s.Close()
	// A torn tail: half a record after the last one.
	segs, _ = listSegments(filepath.Join(dir, "wal"))
	name := filepath.Join(dir, "wal", segName(segs[len(segs)-1]))
	f, _ := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 2, 1})
	f.Close()
	s = open(t, dir, o)
	if s.Stats().TornBytes != 10 {
		t.Fatalf("torn bytes %d, want 10", s.Stats().TornBytes)
	}
	r.check(t, s, base, base+3000*sec)
	s.Close()
	// Every byte of a damaged segment: open never fails or panics.
	data, _ := os.ReadFile(name)
	for cut := 0; cut < len(data); cut += 1 + len(data)/50 {
		os.WriteFile(name, data[:cut], 0o644)
		s, err := Open(dir, o)
		if err != nil {
			t.Fatalf("open after cutting the wal at %d: %v", cut, err)
		}
		s.Close()
	}
}

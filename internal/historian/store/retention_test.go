package store

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

func series1Hz(tag string, base int64, n int) []model.Sample {
	out := make([]model.Sample, n)
	for i := range out {
		out[i] = fsample(tag, base+int64(i)*sec, float64(i%37))
	}
	return out
}

func writeAll(t testing.TB, s *Store, ss []model.Sample, batch int) {
	t.Helper()
	for len(ss) > 0 {
		n := min(batch, len(ss))
		if err := s.Write(ctx, ss[:n]); err != nil {
			t.Fatal(err)
		}
		ss = ss[n:]
	}
}

// TestPurge checks that a purge deletes exactly the expired chunks and
// segments of the matching tags, records one purge entry naming their
// leaves, and that verification then reports a purge, not a gap — and a
// chunk deleted without a purge still is a gap.
func TestPurge(t *testing.T) {
	l, err := integrity.Open(t.TempDir(), integrity.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := open(t, t.TempDir(), Options{MaxSamples: 100, Ledger: IntegrityLedger(l), Logger: quiet,
		Retention: []RetentionRule{{Match: "plant/*", Raw: time.Hour, Name: "short"}, {Match: "", Name: "forever"}}})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	writeAll(t, s, series1Hz("plant/a", base, 3000), 500)
	writeAll(t, s, series1Hz("keep/b", base, 3000), 500)
	// Late data in the old range: an amending segment, purged with it.
	writeAll(t, s, []model.Sample{fsample("plant/a", base+50*sec+500e6, 99)}, 1)
	if s.Stats().Amends != 1 {
		t.Fatalf("stats %+v: want one amending segment", s.Stats())
	}
	now := base + 5100*sec
	cut := now - int64(time.Hour) // base + 1500 s: chunks 0..14 end before it
	var want []uint64
	var from, to int64 = math.MaxInt64, math.MinInt64
	for i := range l.Size() {
		e, err := l.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if e.Tag == "plant/a" && e.To.UnixNano() < cut {
			want = append(want, i)
			from, to = min(from, e.From.UnixNano()), max(to, e.To.UnixNano())
		}
	}
	if len(want) != 16 {
		t.Fatalf("%d expired entries, want 15 chunks and 1 segment", len(want))
	}
	rep, err := s.Purge(ctx, time.Unix(0, now), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chunks != 16 || rep.Samples != 1501 || rep.Entries != 1 || rep.Tags != 1 || len(rep.Ranges) != 1 || rep.Ranges[0].Leaves != 16 {
		t.Fatalf("report %+v", rep)
	}
	got := collect(t, s, "plant/a", math.MinInt64, math.MaxInt64)
	if len(got) != 1500 || got[0].Source != cut || got[len(got)-1].Source != base+2999*sec {
		t.Fatalf("plant/a keeps %d samples from %d, want 1500 from %d", len(got), got[0].Source, cut)
	}
	if got := collect(t, s, "keep/b", math.MinInt64, math.MaxInt64); len(got) != 3000 {
		t.Fatalf("keep/b keeps %d samples, want all 3000", len(got))
	}
	e, err := l.Entry(l.Size() - 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != integrity.KindPurge || e.Tag != "plant/a" || e.Policy != "short" || e.Actor != "alice" || e.Count != 16 ||
		!slices.Equal(e.Leaves, want) || e.From.UnixNano() != from || e.To.UnixNano() != to {
		t.Fatalf("purge entry %+v, want leaves %v from %d to %d", e, want, from, to)
	}
	// A second purge at the same time finds nothing.
	if rep, err := s.Purge(ctx, time.Unix(0, now), "alice"); err != nil || rep.Chunks != 0 || rep.Entries != 0 {
		t.Fatalf("second purge %+v %v", rep, err)
	}

	vr, err := integrity.Verify(ctx, l, integrity.VerifyOptions{Recompute: s.RecomputeLeaf})
	if err != nil {
		t.Fatal(err)
	}
	purges := 0
	for _, r := range vr.Ranges {
		switch r.Status {
		case integrity.StatusPurge:
			purges++
			if r.Tag != "plant/a" || r.Policy != "short" || r.Actor != "alice" || !slices.Equal(r.Leaves, want) {
				t.Fatalf("purge range %+v", r)
			}
		case integrity.StatusGap, integrity.StatusTampered:
			t.Fatalf("range %+v after a recorded purge", r)
		}
	}
	if !vr.OK || purges != 1 {
		t.Fatalf("verify ok=%v with %d purge ranges: %+v", vr.OK, purges, vr.Ranges)
	}

	// Control: a chunk deleted behind the store's back is a gap.
	for i := range l.Size() {
		if e, err = l.Entry(i); err != nil {
			t.Fatal(err)
		}
		if e.Tag == "plant/a" && e.Kind == integrity.KindChunk && !slices.Contains(want, i) {
			break
		}
	}
	k, err := parseKeyString(e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Delete(k, nil); err != nil {
		t.Fatal(err)
	}
	vr, err = integrity.Verify(ctx, l, integrity.VerifyOptions{Recompute: s.RecomputeLeaf})
	if err != nil {
		t.Fatal(err)
	}
	if vr.OK || vr.Summary.Gaps == 0 {
		t.Fatalf("a chunk deleted without a purge verifies: %+v", vr.Summary)
	}
}

// recordOnly is a Ledger that cannot record purges.
type recordOnly struct{ n int }

func (r *recordOnly) Record(_ context.Context, es []LedgerEntry) error { r.n += len(es); return nil }

// TestPurgeNeedsPurgeLedger checks that nothing is deleted when the
// ledger cannot record the purge, and that rules are validated.
func TestPurgeNeedsPurgeLedger(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxSamples: 100, Ledger: &recordOnly{}, Logger: quiet,
		Retention: []RetentionRule{{Raw: time.Minute, Name: "short"}}})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	writeAll(t, s, series1Hz("x", base, 500), 500)
	_, err := s.Purge(ctx, time.Unix(0, base+10*int64(time.Hour)), "bob")
	if errcode.Of(err) != errcode.StorePurgeLedger {
		t.Fatalf("purge with a record-only ledger: %v", err)
	}
	if got := collect(t, s, "x", math.MinInt64, math.MaxInt64); len(got) != 500 {
		t.Fatalf("%d samples left, want 500", len(got))
	}
	for _, rs := range [][]RetentionRule{{{Match: "[", Name: "x"}}, {{Raw: -1, Name: "x"}}, {{Raw: time.Hour}}} {
		if _, err := Open(t.TempDir(), Options{Retention: rs, Logger: quiet}); errcode.Of(err) != errcode.StoreRetention {
			t.Fatalf("rules %+v: %v", rs, err)
		}
	}
}

// TestPurgeKeepsRollups checks that rollups outlive the raw data they were
// computed from, are computed before it goes even inside the lateness
// window, are not recomputed from what is left when late data lands in
// purged time, and go themselves at their own retention.
func TestPurgeKeepsRollups(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxSamples: 100, Logger: quiet, Rollup: RollupOptions{Enable: true, Lateness: time.Hour},
		Retention: []RetentionRule{{Raw: time.Hour, Rollup1m: 2 * time.Hour, Rollup1h: 24 * time.Hour, Name: "plant"}}})
	defer s.Close()
	base := int64(1_700_000_000) * sec // a whole hour
	base -= base % int64(time.Hour)
	ss := series1Hz("x", base, 3*3600)
	writeAll(t, s, ss, 1000)
	want := refRows(t, ss, base, base+3*int64(time.Hour), int64(time.Minute), nil)
	// now: raw before base+2h goes; the lateness window (1 h) would not
	// have let the pass compute the 1m rollups of hour 2 yet.
	now := base + 3*int64(time.Hour)
	if _, err := s.RollupPass(ctx, time.Unix(0, now)); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Purge(ctx, time.Unix(0, now), "retention")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chunks == 0 || rep.RollupRows == 0 {
		t.Fatalf("purge report %+v", rep)
	}
	got, err := s.Rollups(ctx, "x", "1m", math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	// Rows of the first hour are past the 1m retention; the second hour's
	// rows stay although their raw data is gone.
	cut := now - 2*int64(time.Hour)
	wantKept := slices.DeleteFunc(slices.Clone(want), func(r RollupRow) bool { return r.End <= cut || r.Start >= base+2*int64(time.Hour) })
	got = slices.DeleteFunc(got, func(r RollupRow) bool { return r.Start >= base+2*int64(time.Hour) })
	compareRows(t, "after purge", got, wantKept)
	// Late data in purged time: the row is kept, not recomputed from one sample.
	writeAll(t, s, []model.Sample{fsample("x", base+90*int64(time.Minute)+500e6, 1e6)}, 1)
	if _, err := s.RollupPass(ctx, time.Unix(0, now+int64(time.Hour))); err != nil {
		t.Fatal(err)
	}
	got, err = s.Rollups(ctx, "x", "1m", base+90*int64(time.Minute), base+91*int64(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, "late in purged time", got, wantKept[30:31])
	h, err := s.Rollups(ctx, "x", "1h", math.MinInt64, math.MaxInt64)
	if err != nil || len(h) != 3 {
		t.Fatalf("%d hour rows (%v), want 3", len(h), err)
	}
}

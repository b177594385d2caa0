package app

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/historian/lossy"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// TestHistoryRetentionRollupsLossy opens the embedded historian through
// the app's wiring with a retention rule, rollups and a lossy tag, and
// checks that the filter keeps few samples within its deviation, that a
// purge runs and verifies as "purge", and that rollups are written.
func TestHistoryRetentionRollupsLossy(t *testing.T) {
	ctx := context.Background()
	const dev = 0.5
	cfg := &config.Config{Version: 1, Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "s", Areas: []config.Area{{Name: "a",
		Lines: []config.Line{{Name: "l", Machines: []config.Machine{{Name: "m", Device: "plc", Tags: []config.Tag{
			{Name: "temp", Address: "hr:0", Type: "float64", Lossy: &lossy.Settings{CompDev: dev}},
			{Name: "old", Address: "hr:4", Type: "float64"},
		}}}}}}}}}},
		Historian: config.Historian{Backend: config.HistorianEmbedded, TimePrecision: config.Duration(time.Millisecond), Sync: "batch",
			CheckpointInterval: config.Duration(time.Second), RetentionInterval: config.Duration(50 * time.Millisecond),
			Retention: []config.RetentionRule{{Name: "short", Match: "acme/*/*/*/*/old", Raw: config.Duration(time.Hour)}}},
	}
	const temp, old = "acme/s/a/l/m/temp", "acme/s/a/l/m/old"
	h, err := OpenHistory(ctx, t.TempDir(), cfg.Historian, HistoryOptions{Log: LogWrite, MaxChunkSamples: 256, Config: cfg, RollupEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, ok := h.Writer.(*LossyWriter); !ok {
		t.Fatalf("writer %T, want the lossy writer", h.Writer)
	}

	// Three days ago, one sample a second: a slow wave with a little noise.
	start := time.Now().Add(-72 * time.Hour).Truncate(time.Minute).UnixNano()
	const n = 6000
	offered := make([]model.Sample, 0, n)
	for i := 0; i < n; i += 200 {
		var batch []model.Sample
		for j := i; j < i+200; j++ {
			ts := start + int64(j)*int64(time.Second)
			v := 20 + 5*math.Sin(float64(j)/300) + 0.05*math.Sin(float64(j)*1.7)
			s := model.Sample{Tag: temp, Source: ts, Server: ts, Quality: model.Good, Value: model.FloatValue(model.Float64, v)}
			batch = append(batch, s, model.Sample{Tag: old, Source: ts, Server: ts, Quality: model.Good, Value: model.FloatValue(model.Float64, v)})
			offered = append(offered, s)
		}
		if err := h.Writer.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}

	// Retention and rollups start once the backfill is written: running
	// while data older than the retention lands, a purge can cut a minute
	// in two, and the rollup of its second half is refused (purged time).
	h.Start(ctx)

	// The lossy tag keeps few samples, all offered ones within dev of
	// the line between kept ones (the newest is held by the filter).
	it, err := h.Store.Raw(ctx, temp, 0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	var kept []model.Sample
	for it.Next() {
		kept = append(kept, it.At())
	}
	it.Close()
	if len(kept) < 2 || len(kept) > n/10 {
		t.Fatalf("%d of %d samples kept", len(kept), n)
	}
	k := 0
	for _, s := range offered {
		if s.Source > kept[len(kept)-1].Source {
			break
		}
		for k+1 < len(kept) && kept[k+1].Source < s.Source {
			k++
		}
		a, b := kept[k], kept[min(k+1, len(kept)-1)]
		want := a.Value.Float()
		if b.Source > a.Source {
			want += (b.Value.Float() - a.Value.Float()) * float64(s.Source-a.Source) / float64(b.Source-a.Source)
		}
		if d := math.Abs(s.Value.Float() - want); d > dev+1e-9 {
			t.Fatalf("sample at %d off by %v, more than %v", s.Source, d, dev)
		}
	}
	t.Logf("lossy: %d of %d samples kept", len(kept), n)

	// Retention purges the old tag's sealed chunks (1 h of raw) and
	// records it; its rollups are written first.
	var purged *integrity.Range
	var rows int
	for i := 0; i < 400 && (purged == nil || rows < n/60); i++ { // rollup passes are bounded: wait for all
		time.Sleep(25 * time.Millisecond)
		rep, err := h.Verify(ctx, integrity.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range rep.Ranges {
			if r := rep.Ranges[j]; r.Status == integrity.StatusPurge && r.Tag == old {
				purged = &r
			}
			if r := rep.Ranges[j]; r.Status == integrity.StatusGap || r.Status == integrity.StatusTampered {
				t.Fatalf("verify: %+v", r)
			}
		}
		rr, err := h.Embedded.Rollups(ctx, old, "1m", start, start+int64(n)*int64(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		rows = len(rr)
	}
	if purged == nil || rows == 0 {
		t.Fatalf("purge %v, %d rollup rows", purged, rows)
	}
	if purged.Policy != "short" || purged.Actor != RetentionActor {
		t.Fatalf("purge range %+v", purged)
	}
	if rows != n/60 {
		t.Fatalf("%d 1m rollup rows of %s, want %d", rows, old, n/60)
	}

	// The query engine shows the compression settings of the lossy tag,
	// and answers a long aggregate of the purged tag from its rollups.
	resp, err := h.Query.Aggregate(ctx, query.AggRequest{Tags: []string{temp, old}, From: time.Unix(0, start).Add(-24 * time.Hour).UTC().Format(time.RFC3339),
		To: time.Unix(0, start).Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339), Interval: "1h", Aggregates: []string{"count", "avg"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Series[0].Compression; c == nil || c.CompDev != dev {
		t.Fatalf("compression of %s: %v", temp, c)
	}
	var count int64
	for _, b := range resp.Series[1].Buckets {
		count += b.Values[0].Value.Int()
	}
	t.Logf("old: %d samples counted, rollup level %q", count, resp.Series[1].Rollup)
	// Its raw samples are purged (but for the open chunk); the rollups
	// still count every one.
	if resp.Series[1].Rollup == "" || count != n {
		t.Fatalf("old: count %d from rollup level %q, want %d from rollups", count, resp.Series[1].Rollup, n)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

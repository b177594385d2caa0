package store

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// write1M writes 1,000,000 samples: 100 tags × 10,000 s at 1 Hz.
func write1M(b *testing.B, s *Store, base int64) time.Duration {
	const tags, secs = 100, 10_000
	names := make([]string, tags)
	for i := range names {
		names[i] = fmt.Sprintf("acme/line%d/m%d/signal", i%10, i)
	}
	batch := make([]model.Sample, 0, 10*tags)
	start := time.Now()
	for i := range secs {
		for k := range tags {
			v := math.Round((50+20*math.Sin(float64(i)/300+float64(k)))*100) / 100
			batch = append(batch, fsample(names[k], base+int64(i)*sec, v))
		}
		if len(batch) == cap(batch) {
			if err := s.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return time.Since(start)
}

// BenchmarkPurge1M reports the time to purge the chunks of 1M samples
// (100 tags, 1000-sample chunks: 1000 chunks), recording the purges in a real
// integrity log.
func BenchmarkPurge1M(b *testing.B) {
	for range b.N {
		b.StopTimer()
		l, err := integrity.Open(b.TempDir(), integrity.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		s := open(b, b.TempDir(), Options{MaxSamples: 1000, Ledger: IntegrityLedger(l), Logger: quiet,
			Retention: []RetentionRule{{Raw: time.Hour, Name: "short"}}})
		base := int64(1_700_000_000) * sec
		write1M(b, s, base)
		b.StartTimer()
		start := time.Now()
		rep, err := s.Purge(ctx, time.Unix(0, base+100*int64(time.Hour)), "bench")
		el := time.Since(start)
		b.StopTimer()
		if err != nil || rep.Samples != 1_000_000 {
			b.Fatalf("purge %+v %v", rep, err)
		}
		b.ReportMetric(float64(el.Milliseconds()), "ms/purge")
		b.ReportMetric(float64(rep.Chunks), "chunks")
		b.ReportMetric(float64(rep.Samples), "samples")
		s.Close()
		l.Close()
	}
}

// BenchmarkRollup1M reports the ingest cost of marking and the cost of
// computing the 1m and 1h rollups of 1M samples.
func BenchmarkRollup1M(b *testing.B) {
	for range b.N {
		b.StopTimer()
		base := int64(1_700_000_000) * sec
		plain := open(b, b.TempDir(), Options{Logger: quiet})
		w0 := write1M(b, plain, base)
		plain.Close()
		s := open(b, b.TempDir(), Options{Logger: quiet, Rollup: RollupOptions{Enable: true}})
		w1 := write1M(b, s, base)
		b.StartTimer()
		start := time.Now()
		var rows int
		for range 100_000 {
			r, err := s.RollupPass(ctx, time.Unix(0, base+100*int64(time.Hour)))
			if err != nil {
				b.Fatal(err)
			}
			rows += r.Rows
			if !r.More {
				break
			}
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(el.Seconds()*1000, "ms/rollup-1M")
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(float64(w0.Milliseconds()), "ms/ingest-1M")
		b.ReportMetric(float64(w1.Milliseconds()), "ms/ingest-1M-marking")
		s.Close()
	}
}

package store

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
)

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkIngest writes batches of 1000 samples over 1000 tags of
// simulator-like signals (1 s period, 2-decimal values) from two
// concurrent writers, durably (SyncBatch), and reports samples/s and the
// size of the sealed chunks per sample.
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	s := open(b, dir, Options{SegmentSize: 256 << 20})
	const tags = 1000
	names := make([]string, tags)
	for i := range names {
		names[i] = fmt.Sprintf("acme/site/area/line%d/m%d/signal", i%10, i)
	}
	base := int64(1_700_000_000) * sec
	batch := make([]model.Sample, tags)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t := base + int64(i)*sec
		for k := range batch {
			v := math.Round((50+20*math.Sin(float64(i)/300+float64(k)))*100) / 100
			batch[k] = model.Sample{Tag: names[k], Value: model.FloatValue(model.Float64, v), Source: t + int64(k)*1000, Server: t + int64(k)*1000 + 2_000_000}
		}
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*tags)/el.Seconds(), "samples/s")
	st := s.Stats()
	s.Close()
	if st.Sealed > 0 {
		// Chunk bytes only: the WAL of the open chunks is not counted.
		var bytes int64
		s2 := open(b, dir, Options{})
		it, _ := s2.db.NewIter(nil)
		for it.First(); it.Valid(); it.Next() {
			if k := it.Key(); k[0] == prefixChunk {
				bytes += int64(len(it.Value()) + len(k))
			}
		}
		it.Close()
		s2.Close()
		b.ReportMetric(float64(bytes)/float64(st.Sealed*DefaultMaxSamples), "bytes/sample")
	}
}

// BenchmarkRawDay reads one day of 1 s data of one tag.
func BenchmarkRawDay(b *testing.B) {
	s := open(b, b.TempDir(), Options{})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	var batch []model.Sample
	for i := range 86400 {
		batch = append(batch, fsample("day", base+int64(i)*sec, math.Round(math.Sin(float64(i)/600)*1000)/100))
		if len(batch) == 1000 {
			if err := s.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	s.Write(ctx, batch)
	b.ResetTimer()
	for range b.N {
		it, _ := s.Raw(ctx, "day", base, base+86400*sec)
		n := 0
		for it.Next() {
			n++
		}
		it.Close()
		if n != 86400 {
			b.Fatalf("%d samples", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/day")
}

// BenchmarkLatest10k asks for the latest sample of 10,000 tags.
func BenchmarkLatest10k(b *testing.B) {
	s := open(b, b.TempDir(), Options{})
	defer s.Close()
	tags := make([]string, 10000)
	batch := make([]model.Sample, len(tags))
	for i := range tags {
		tags[i] = fmt.Sprintf("p/l/m%d/t", i)
		batch[i] = fsample(tags[i], int64(1_700_000_000)*sec, float64(i))
	}
	if err := s.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Latest(ctx, tags); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

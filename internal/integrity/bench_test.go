package integrity

import (
	"fmt"
	"testing"
)

// BenchmarkAppend appends chunk entries in batches of 1000; leaves/s is the
// figure (fsync at checkpoints, as the historian runs it).
func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Sync: SyncOnCheckpoint, Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := newStore()
	batch := make([]Entry, 1000)
	for i := range batch {
		batch[i] = chunk(s, fmt.Sprintf("plant/line1/m%03d/temp", i%100), uint64(i/100+1))
	}
	b.ResetTimer()
	for range b.N {
		if _, err := l.Append(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "leaves/s")
}

func benchLog(b *testing.B, n int) (*Log, *store) {
	l, err := Open(b.TempDir(), Options{Sync: SyncOnCheckpoint, Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	s := newStore()
	batch := make([]Entry, 0, 1000)
	for i := 0; i < n; i++ {
		e := chunk(s, fmt.Sprintf("plant/m%03d/temp", i%100), uint64(i/100+1))
		// 4 KiB of canonical samples per chunk, about 512 float samples.
		data := make([]byte, 4096)
		copy(data, e.Key)
		e.DataHash = s.put(e.Key, data)
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			l.Append(ctx, batch...)
			batch = batch[:0]
		}
	}
	l.Append(ctx, batch...)
	l.SignCheckpoint(ctx)
	return l, s
}

func BenchmarkInclusionProof(b *testing.B) {
	l, _ := benchLog(b, 100_000)
	defer l.Close()
	n := l.Size()
	b.ResetTimer()
	for i := range b.N {
		if _, err := l.InclusionProof(uint64(i*7919)%n, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
}

// BenchmarkVerify verifies a log of 20k chunks, re-hashing 4 KiB of
// samples per chunk; MB/s counts entry and sample bytes.
func BenchmarkVerify(b *testing.B) {
	l, s := benchLog(b, 20_000)
	defer l.Close()
	b.ResetTimer()
	var bytes uint64
	for range b.N {
		r, err := Verify(ctx, l, VerifyOptions{Recompute: s.recompute})
		if err != nil || !r.OK {
			b.Fatal(err)
		}
		bytes += r.Summary.LeafBytes + r.Summary.Chunks*4096
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

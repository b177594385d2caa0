package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
)

// BenchmarkDPIFile measures analyze.File on the generated capture of
// `otlink bench dpi` (200,000 packets) with the page cache warm; run it
// with -cpu 1 -count N and compare the fastest runs, which a loaded
// machine disturbs least.
func BenchmarkDPIFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "dpi.pcap")
	if err := WriteDPICapture(p, 200_000); err != nil {
		b.Fatal(err)
	}
	var packets uint64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fs, err := analyze.File(context.Background(), p, analyze.Options{})
		if err != nil {
			b.Fatal(err)
		}
		packets += fs.Packets
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
}

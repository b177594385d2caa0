package monitor_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/bench"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/monitor"
)

// BenchmarkReplay replays the generated multi-protocol capture of `otlink
// bench dpi` (200,000 packets, 560 flows) through the whole live monitor
// as a capture source, learning: flow table, dissectors, inventory,
// learner, detections and the war room's model, with their locks. Compare
// its packets/s with BenchmarkDPIFile in internal/bench (the same file
// without the monitor) run the same way:
//
//	go test -run x -bench 'Replay' -benchtime 5x ./internal/monitor
//	go test -run x -bench 'DPIFile' -benchtime 5x -cpu 1 ./internal/bench
func BenchmarkReplay(b *testing.B) {
	path := filepath.Join(b.TempDir(), "dpi.pcap")
	if err := bench.WriteDPICapture(path, 200_000); err != nil {
		b.Fatal(err)
	}
	var packets uint64
	b.ResetTimer()
	for b.Loop() {
		cfg := config.Monitor{Interfaces: []config.MonitorInterface{{Name: "replay"}}, Learn: config.Duration(time.Hour)}
		m, err := monitor.Start(context.Background(), cfg, monitor.Options{DataDir: b.TempDir(),
			Open: func(config.MonitorInterface) (capture.Source, error) { return capture.OpenFile(path) }})
		if err != nil {
			b.Fatal(err)
		}
		n := uint64(0)
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if n = m.Stats().Packets; n >= 199_000 {
				break
			}
		}
		m.Close()
		packets += n
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
}

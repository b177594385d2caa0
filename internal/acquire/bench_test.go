package acquire

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

type nopSink struct{ n int }

func (s *nopSink) PublishBatch(ctx context.Context, b *model.Batch) error {
	s.n += len(b.Samples)
	return nil
}

// lastSink keeps the samples of the last cycle (all its parts), for
// benchmarks and tests that drive cycle directly (one goroutine).
type lastSink struct {
	seq     uint64
	samples []model.Sample
}

func (s *lastSink) PublishBatch(ctx context.Context, b *model.Batch) error {
	if b.Seq != s.seq || b.Part == 0 {
		s.seq, s.samples = b.Seq, s.samples[:0]
	}
	s.samples = append(s.samples, b.Samples...)
	return nil
}

// BenchmarkCycle measures the engine's own cost per sample: one poll cycle
// of 10,000 uint16 tags (80 block reads of 125 registers) against the
// in-memory fake device, every value changed each cycle, through the
// decode, report-by-exception and batch path to a sink.
func BenchmarkCycle(b *testing.B) {
	const n = 10000
	sink := &lastSink{}
	f := newFakeDriver()
	dev := f.dev("d:502")
	dc := devCfg("d", "d:502", time.Hour)
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(n, 0, 1)}), testOpts(f, sink))
	if err != nil {
		b.Fatal(err)
	}
	d := e.view.Load().devs[0]
	c := d.cls[0]
	d.link.Store(&link{conn: &fakeConn{d: dev}, endpoint: "d:502"})
	ctx := context.Background()
	d.cycle(ctx, c, 0) // warm up: plan, buffers
	step := uint16(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step++
		dev.mu.Lock()
		for i := range n {
			dev.regs[i] = step + uint16(i)
		}
		dev.mu.Unlock()
		d.cycle(ctx, c, 0)
		if len(sink.samples) != n {
			b.Fatalf("%d samples, want %d", len(sink.samples), n)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(len(c.reads)), "reads/cycle")
}

// BenchmarkSimCycle is the same path over Modbus TCP against the simulator:
// 10,000 bench registers, 80 reads of 125, two requests in flight.
func BenchmarkSimCycle(b *testing.B) {
	const n = 10000
	sd := sim.NewDevice(sim.DeviceConfig{Name: "bench", Bench: n})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sd.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer sd.Close()
	for _, inFlight := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("in_flight_%d", inFlight), func(b *testing.B) {
			dc := config.Device{Name: "bench", Driver: "modbus", Endpoint: "tcp://" + sd.Addr(), Unit: 1, Report: "all",
				Timeout: config.Duration(2 * time.Second), Budget: config.Budget{MaxInFlight: inFlight},
				Poll: []config.PollClass{{Name: "fast", Interval: config.Duration(time.Hour)}}}
			sink := &lastSink{}
			tags := make([]config.Tag, n)
			for i := range tags {
				tags[i] = config.Tag{Name: fmt.Sprintf("t%d", i), Address: fmt.Sprintf("hr:%d", sim.BenchBase+i), Type: "uint16"}
			}
			e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"bench": tags}), Options{Sink: sink})
			if err != nil {
				b.Fatal(err)
			}
			d := e.view.Load().devs[0]
			conn, err := d.dial(ctx, dc.Endpoint)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			d.link.Store(&link{conn: conn, endpoint: dc.Endpoint})
			c := d.cls[0]
			d.cycle(ctx, c, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d.cycle(ctx, c, 0)
				if len(sink.samples) != n {
					b.Fatalf("%d samples (health %+v)", len(sink.samples), d.health().LastError)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkSnapshot300k copies the latest values of 300,000 tags (30
// devices of 10,000), as a UI polling at 10 Hz would.
func BenchmarkSnapshot300k(b *testing.B) {
	f := newFakeDriver()
	var devs []config.Device
	tags := map[string][]config.Tag{}
	for i := range 30 {
		n := fmt.Sprintf("d%02d", i)
		devs = append(devs, devCfg(n, n, time.Second))
		tags[n] = regTags(10000, 0, 1)
	}
	e, err := New(plantWith(devs, tags), testOpts(f, nil))
	if err != nil {
		b.Fatal(err)
	}
	var buf []TagValue
	b.ReportAllocs()
	for b.Loop() {
		buf = e.SnapshotInto(buf)
	}
	if len(buf) != 300000 {
		b.Fatalf("%d values", len(buf))
	}
}

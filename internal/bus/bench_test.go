package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
)

// benchBatches makes a device's worth of realistic batches: tags under one
// machine, float values that change, good quality, source times spread over
// the cycle.
func benchBatch(samples int) *model.Batch {
	b := &model.Batch{Device: "cnc01", Class: "fast", Seq: 1, Start: t0, End: t0 + 4e6}
	for i := range samples {
		b.Samples = append(b.Samples, model.Sample{
			Tag:     fmt.Sprintf("acme/taichung/machining/line1/cnc01/axis%d_load_%03d", i%5, i),
			Value:   model.FloatValue(model.Float64, 1000+float64(i)*0.37),
			Quality: model.Good, Source: t0 + int64(i)*3100, Server: t0 + int64(i)*3100 + 52000,
		})
	}
	return b
}

func BenchmarkEncodeBatch(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			bt := benchBatch(n)
			buf := AppendBatch(nil, bt)
			size := len(buf)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				bt.Seq++
				buf = AppendBatch(buf[:0], bt)
			}
			b.ReportMetric(float64(size)/float64(n), "bytes/sample")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			data := AppendBatch(nil, benchBatch(n))
			var bt model.Batch
			d := NewDecoder()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(data, &bt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkPublishBatch publishes batches to the embedded server's
// file-backed stream and waits for every ack, with the default sync
// interval and with sync always (fsync per write) for comparison.
func BenchmarkPublishBatch(b *testing.B) {
	for _, c := range []struct {
		n      int
		always bool
	}{{100, false}, {1000, false}, {1000, true}} {
		b.Run(fmt.Sprintf("samples=%d/sync_always=%v", c.n, c.always), func(b *testing.B) {
			o := testOptions(b, "")
			o.MQTT, o.SyncAlways = "", c.always
			bus := openBus(b, o)
			bt := benchBatch(c.n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				bt.Seq++
				if err := bus.PublishBatch(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			fctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := bus.Flush(fctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(c.n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// BenchmarkPublishUNS publishes every sample of a batch on its own subject,
// with an MQTT-side consumer absent (core NATS drops what nobody wants).
func BenchmarkPublishUNS(b *testing.B) {
	o := testOptions(b, "")
	o.MQTT = ""
	bus := openBus(b, o)
	bt := benchBatch(100)
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.PublishUNS(bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

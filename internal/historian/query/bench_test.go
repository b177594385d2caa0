package query

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/historian/store"
	"github.com/otlink/otlink/internal/model"
)

// BenchmarkAggregateDayStore is the bench's query_1day_ms on its own: one
// day of 1 s float32 data of one tag (poll grid plus reply jitter) in the
// embedded store, aggregated into 1000 buckets through the engine.
func BenchmarkAggregateDayStore(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const tag = "bench/day"
	base := int64(1_750_000_000) * int64(time.Second)
	r := rand.New(rand.NewPCG(3, 3))
	var batch []model.Sample
	x := 40.0
	for i := range 86400 {
		x += 0.01 * r.NormFloat64()
		t := base + int64(i)*int64(time.Second) + r.Int64N(int64(1500*time.Microsecond))
		v := float64(float32(x + 0.1*r.NormFloat64()))
		batch = append(batch, model.Sample{Tag: tag, Value: model.FloatValue(model.Float32, v), Quality: model.Good, Source: t, Server: t})
		if len(batch) == 1000 || i == 86399 {
			if err := s.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	e := New(s, Config{})
	req := AggRequest{Tags: []string{tag}, Buckets: 1000, Aggregates: []string{"count", "min", "max", "avg"},
		From: time.Unix(0, base).UTC().Format(time.RFC3339Nano), To: time.Unix(0, base+86400*int64(time.Second)).UTC().Format(time.RFC3339Nano)}
	for b.Loop() {
		resp, err := e.Aggregate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, bk := range resp.Series[0].Buckets {
			n += bk.Values[0].Value.Int()
		}
		if n != 86400 {
			b.Fatalf("counted %d samples", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/query")
}

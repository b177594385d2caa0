package pg

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/model"
)

// benchBatches makes batches of 1000 samples, one per tag of 1000 tags,
// one batch per second of source time (a 1 Hz poll of 1000 tags).
type benchGen struct {
	tags []string
	t    int64
	v    float64
}

func newBenchGen(n int) *benchGen {
	g := &benchGen{t: time.Now().Add(-time.Hour).UnixNano()}
	for i := range n {
		g.tags = append(g.tags, fmt.Sprintf("bench/line%d/machine%02d/tag%03d", i/1000, i/100%10, i%100))
	}
	return g
}

func (g *benchGen) batch(dst []model.Sample) []model.Sample {
	dst = dst[:0]
	g.t += int64(time.Second)
	for i, tag := range g.tags {
		g.v += 0.37
		dst = append(dst, model.Sample{Tag: tag, Source: g.t + int64(i), Server: g.t + int64(i) + 1000,
			Value: model.FloatValue(model.Float64, g.v), Quality: model.Good})
	}
	return dst
}

// BenchmarkWrite is the idempotent write path: COPY to staging, INSERT ...
// ON CONFLICT DO NOTHING, latest upsert, commit.
func BenchmarkWrite(b *testing.B) {
	st := openTest(b, Options{})
	g := newBenchGen(1000)
	var batch []model.Sample
	batch = g.batch(batch)
	if err := st.Write(context.Background(), batch); err != nil { // creates series, partitions
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		batch = g.batch(batch)
		if err := st.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkWritePlainCopy is the baseline: COPY straight into samples in
// one transaction, which is not idempotent (a redelivered batch fails on
// the primary key) and keeps no latest table.
func BenchmarkWritePlainCopy(b *testing.B) {
	st := openTest(b, Options{})
	g := newBenchGen(1000)
	var batch []model.Sample
	batch = g.batch(batch)
	if err := st.Write(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	ids, err := st.seriesIDs(context.Background(), batch)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		batch = g.batch(batch)
		err := pgx.BeginFunc(context.Background(), st.pool, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(context.Background(), pgx.Identifier{st.opt.Schema, "samples"}, stageCols, &copySource{s: batch, ids: ids, i: -1})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
}

func setupLatest(b *testing.B, n, rounds int) (*Store, []string) {
	st := openTest(b, Options{})
	g := newBenchGen(n)
	var batch []model.Sample
	for range rounds {
		batch = g.batch(batch)
		for i := 0; i < len(batch); i += 5000 {
			if err := st.Write(context.Background(), batch[i:min(i+5000, len(batch))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := st.pool.Exec(context.Background(), `ANALYZE `+st.q+`.samples; ANALYZE `+st.q+`.latest; ANALYZE `+st.q+`.series`); err != nil {
		b.Fatal(err)
	}
	return st, g.tags
}

// BenchmarkLatest10k reads the latest sample of 10k tags from the latest table.
func BenchmarkLatest10k(b *testing.B) {
	st, tags := setupLatest(b, 10_000, 5)
	b.ResetTimer()
	for b.Loop() {
		l, err := st.Latest(context.Background(), tags)
		if err != nil || len(l) != len(tags) || l[0].Quality != model.Good {
			b.Fatal(err)
		}
	}
}

// BenchmarkLatest10kLateral is the alternative without a latest table: one
// index descent per tag into samples (LATERAL ... ORDER BY DESC LIMIT 1).
func BenchmarkLatest10kLateral(b *testing.B) {
	st, tags := setupLatest(b, 10_000, 5)
	b.ResetTimer()
	for b.Loop() {
		rows, err := st.pool.Query(context.Background(), `SELECT s.tag, x.source_ns, x.v_num
			FROM `+st.q+`.series s, LATERAL (SELECT source_ns, v_num FROM `+st.q+`.samples
				WHERE series_id = s.id ORDER BY source_ns DESC LIMIT 1) x
			WHERE s.tag = ANY($1::text[])`, tags)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() != nil || n != len(tags) {
			b.Fatal(rows.Err(), n)
		}
	}
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/otlink/otlink/internal/historian/store"
)

// SizingInput is the installation to size.
type SizingInput struct {
	Tags      int           // tags stored
	Rate      float64       // samples per second per tag
	Retention time.Duration // raw samples kept
	// Rollup1m and Rollup1h are how long the 1-minute and 1-hour rollups
	// are kept (0: none).
	Rollup1m, Rollup1h time.Duration
	// RollupBytes is the size of one rollup bucket of one tag on disk.
	// Default DefaultRollupBytes.
	RollupBytes float64
}

// DefaultRollupBytes is the assumed size of one stored rollup bucket: the
// aggregate state (count, min, max, first, last, sum, sum of squares,
// good and bad time) as eight 8-byte fields and a 16-byte key. It is an
// assumption, not a measurement, until rollups are benchmarked.
const DefaultRollupBytes = 80

// Measured are the per-sample figures an estimate is computed from.
type Measured struct {
	Source  string `json:"source"`  // "measured now (...)" or the bench file
	Signals string `json:"signals"` // sim or random
	// BytesPerSample is the embedded store's size on disk per sample
	// with every chunk sealed.
	BytesPerSample      float64 `json:"bytes_per_sample"`
	WALBytesPerSample   float64 `json:"wal_bytes_per_sample"`
	LedgerBytesPerChunk float64 `json:"ledger_bytes_per_chunk"`
	SamplesPerChunk     int     `json:"samples_per_chunk"`
	// IngestCPUSecPerMillion is CPU seconds per million samples written.
	IngestCPUSecPerMillion float64 `json:"ingest_cpu_sec_per_million"`
	IngestSamplesPerSec    float64 `json:"ingest_samples_per_sec"`
	// Database baselines; 0 when not measured.
	SQLiteBytesPerSample        float64 `json:"sqlite_bytes_per_sample,omitempty"`
	SQLiteIngestSamplesPerSec   float64 `json:"sqlite_ingest_samples_per_sec,omitempty"`
	PostgresBytesPerSample      float64 `json:"postgres_bytes_per_sample,omitempty"`
	PostgresIngestSamplesPerSec float64 `json:"postgres_ingest_samples_per_sec,omitempty"`
}

// Platform is the estimate for one storage platform.
type Platform struct {
	Name       string  `json:"name"`
	DiskBytes  float64 `json:"disk_bytes"` // all of it, at steady state
	RawBytes   float64 `json:"raw_bytes"`
	Rollup     float64 `json:"rollup_bytes,omitempty"`
	WALBytes   float64 `json:"wal_bytes,omitempty"`
	LedgerB    float64 `json:"ledger_bytes,omitempty"` // integrity log over the retention
	LedgerYear float64 `json:"ledger_bytes_per_year,omitempty"`
	MemBytes   float64 `json:"open_chunk_memory_bytes,omitempty"`
	// Load is the share of the measured single-writer ingest capacity the
	// installation uses (1 = saturated).
	Load  float64 `json:"ingest_load"`
	Cores float64 `json:"cores,omitempty"` // CPU cores busy with ingest
	Note  string  `json:"note,omitempty"`
}

// Estimate is the sizing result.
type Estimate struct {
	Input         SizingInput `json:"-"`
	Tags          int         `json:"tags"`
	Rate          float64     `json:"rate_per_tag_per_sec"`
	RetentionDays float64     `json:"retention_days"`
	SamplesPerSec float64     `json:"samples_per_sec"`
	SamplesKept   float64     `json:"samples_kept"`
	Measured      Measured    `json:"measured"`
	Platforms     []Platform  `json:"platforms"`
}

// WAL bound of the embedded store with default options: past
// MaxSegments segments the oldest open chunks are sealed early.
const walCap = float64(store.DefaultMaxSegments+1) * store.DefaultSegmentSize

// EstimateSize computes disk and CPU for in from m. It does no I/O.
func EstimateSize(in SizingInput, m Measured) (Estimate, error) {
	if in.Tags < 1 || in.Rate <= 0 || math.IsInf(in.Rate, 0) || in.Retention <= 0 || in.Rollup1m < 0 || in.Rollup1h < 0 {
		return Estimate{}, fmt.Errorf("sizing needs tags ≥ 1, a positive rate and a positive retention")
	}
	if m.BytesPerSample <= 0 || m.SamplesPerChunk <= 0 {
		return Estimate{}, fmt.Errorf("sizing needs a measured bytes per sample and chunk size")
	}
	if in.RollupBytes <= 0 {
		in.RollupBytes = DefaultRollupBytes
	}
	tags := float64(in.Tags)
	e := Estimate{Input: in, Tags: in.Tags, Rate: in.Rate, RetentionDays: in.Retention.Hours() / 24, Measured: m}
	e.SamplesPerSec = tags * in.Rate
	e.SamplesKept = e.SamplesPerSec * in.Retention.Seconds()

	// A chunk seals at SamplesPerChunk samples or after DefaultMaxSpan.
	perChunk := math.Min(float64(m.SamplesPerChunk), in.Rate*store.DefaultMaxSpan.Seconds())
	perChunk = math.Max(perChunk, 1)
	// Rollups: one bucket per tag per minute (hour) that has data.
	buckets := func(width, keep time.Duration) float64 {
		if keep <= 0 {
			return 0
		}
		perSec := math.Min(1/width.Seconds(), in.Rate) // no samples, no bucket
		return tags * perSec * keep.Seconds()
	}
	rollup := (buckets(time.Minute, in.Rollup1m) + buckets(time.Hour, in.Rollup1h)) * in.RollupBytes
	year := 365 * 24 * time.Hour

	emb := Platform{Name: "embedded", RawBytes: e.SamplesKept * m.BytesPerSample, Rollup: rollup}
	emb.WALBytes = math.Min(tags*perChunk*m.WALBytesPerSample, walCap)
	chunksPerSec := e.SamplesPerSec / perChunk
	emb.LedgerB = chunksPerSec * in.Retention.Seconds() * m.LedgerBytesPerChunk
	emb.LedgerYear = chunksPerSec * year.Seconds() * m.LedgerBytesPerChunk
	emb.MemBytes = tags * perChunk * 32 // an open sample is 32 bytes in memory
	emb.DiskBytes = emb.RawBytes + emb.Rollup + emb.WALBytes + emb.LedgerB
	emb.Cores = e.SamplesPerSec * m.IngestCPUSecPerMillion / 1e6
	if m.IngestSamplesPerSec > 0 {
		emb.Load = e.SamplesPerSec / m.IngestSamplesPerSec
	}
	emb.Note = "the integrity log is append-only: it keeps growing by ledger_bytes_per_year after retention purges"
	e.Platforms = append(e.Platforms, emb)

	db := func(name string, bps, rate float64, note string) {
		if bps <= 0 {
			return
		}
		p := Platform{Name: name, RawBytes: e.SamplesKept * bps, Rollup: rollup, Note: note}
		p.DiskBytes = p.RawBytes + p.Rollup
		if rate > 0 {
			p.Load = e.SamplesPerSec / rate
		}
		e.Platforms = append(e.Platforms, p)
	}
	db("postgresql", m.PostgresBytesPerSample, m.PostgresIngestSamplesPerSec,
		"table and index size as measured after ingest; WAL, vacuum headroom and TimescaleDB compression not counted")
	db("sqlite", m.SQLiteBytesPerSample, m.SQLiteIngestSamplesPerSec,
		"one row per sample; one writer at a time")
	return e, nil
}

// MeasuredFromBench takes the figures of a bench historian result.
func MeasuredFromBench(r HistorianResult, signals, source string) Measured {
	m := Measured{Source: source, Signals: signals, BytesPerSample: r.BytesPerSample, WALBytesPerSample: r.WALBytesPerSample,
		LedgerBytesPerChunk: r.LedgerBytesPerChunk, SamplesPerChunk: r.SamplesPerChunk,
		IngestCPUSecPerMillion: r.IngestCPUSecPerMillion, IngestSamplesPerSec: r.IngestSamplesPerSec,
		SQLiteBytesPerSample: r.SQLiteBytesPerSample, SQLiteIngestSamplesPerSec: r.SQLiteIngestSamplesPerSec}
	if signals == SignalsRandom {
		m.BytesPerSample = r.BytesPerSampleRandom
		if r.IngestRandomSamplesPerSec > 0 {
			// CPU per sample scales with the time a Write takes.
			m.IngestCPUSecPerMillion *= r.IngestSamplesPerSec / r.IngestRandomSamplesPerSec
			m.IngestSamplesPerSec = r.IngestRandomSamplesPerSec
		}
		// The WAL frames raw values: random floats cost 8 bytes more
		// than a float32 does, at most.
		m.WALBytesPerSample += 4
	}
	if r.PostgresBytesPerSample != nil {
		m.PostgresBytesPerSample = *r.PostgresBytesPerSample
	}
	if r.PostgresIngestSamplesPerSec != nil {
		m.PostgresIngestSamplesPerSec = *r.PostgresIngestSamplesPerSec
	}
	if m.SamplesPerChunk == 0 {
		m.SamplesPerChunk = store.DefaultMaxSamples
	}
	return m
}

// ReadBenchFile reads the JSON of `otlink bench historian --json`.
func ReadBenchFile(path string) (HistorianResult, error) {
	var r HistorianResult
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("read %s: %w", path, err)
	}
	if r.BytesPerSample <= 0 || r.IngestSamplesPerSec <= 0 {
		return r, fmt.Errorf("read %s: no bytes_per_sample or ingest_samples_per_sec: not the output of otlink bench historian --json", path)
	}
	return r, nil
}

// MeasureSizing measures the embedded store's figures for signals on the
// spot, in a few seconds: a small store of whole chunks with the
// integrity ledger, then a SyncBatch ingest for CPU per sample, then
// SQLite's bytes and rate on 100,000 rows. dir "" uses a temporary one.
func MeasureSizing(ctx context.Context, signals, dir string) (Measured, error) {
	return measureSizing(ctx, signals, dir, 105, 2100, 100)
}

// measureSizing measures with tags in the whole-chunk store (105: five
// machines), ingestTags × 300 s for CPU and sqliteCycles of 1000 tags.
func measureSizing(ctx context.Context, signals, dir string, tags, ingestTags int, sqliteCycles int64) (Measured, error) {
	m := Measured{Signals: signals, SamplesPerChunk: store.DefaultMaxSamples}
	if signals != SignalsSim && signals != SignalsRandom {
		return m, fmt.Errorf("signals %q: want sim or random", signals)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "otlink-size-")
		if err != nil {
			return m, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cycles := int64(2 * store.DefaultMaxSamples)
	var r HistorianResult
	if err := sizeAndVerify(ctx, filepath.Join(dir, "ledger"), signals, tags, cycles, quiet, &r); err != nil {
		return m, err
	}
	f, err := ingestRun(ctx, filepath.Join(dir, "ingest"), signals, ingestTags, 300, store.SyncBatch, 0, quiet, nil)
	if err != nil {
		return m, err
	}
	if err := sqliteRun(ctx, filepath.Join(dir, "sqlite"), 1000, sqliteCycles, nil, &r); err != nil {
		return m, err
	}
	m.BytesPerSample, m.LedgerBytesPerChunk = r.BytesPerSample, r.LedgerBytesPerChunk
	m.WALBytesPerSample, m.IngestCPUSecPerMillion, m.IngestSamplesPerSec = f.walPerSample, f.cpuPerM, f.rate
	m.SQLiteBytesPerSample, m.SQLiteIngestSamplesPerSec = r.SQLiteBytesPerSample, r.SQLiteIngestSamplesPerSec
	m.Source = fmt.Sprintf("measured now: %d %s samples in whole chunks, %d ingested, %d SQLite rows", r.SizeSamples, signals, f.samples, 1000*sqliteCycles)
	return m, nil
}

// WriteText prints the estimate for people.
func (e Estimate) WriteText(w io.Writer) error {
	m := e.Measured
	fmt.Fprintf(w, "%d tags × %g samples/s = %s samples/s; %.0f days kept = %s samples\n",
		e.Tags, e.Rate, human(e.SamplesPerSec, ""), e.RetentionDays, human(e.SamplesKept, ""))
	fmt.Fprintf(w, "from: %s (%s signals)\n", m.Source, m.Signals)
	fmt.Fprintf(w, "      %.3f bytes/sample, WAL %.1f bytes/sample, %.0f ledger bytes/chunk of %d, %.3f CPU s per 1M samples\n\n",
		m.BytesPerSample, m.WALBytesPerSample, m.LedgerBytesPerChunk, m.SamplesPerChunk, m.IngestCPUSecPerMillion)
	fmt.Fprintf(w, "%-11s %10s %10s %10s %10s %10s %8s %7s\n", "platform", "disk", "raw", "rollups", "WAL", "ledger", "load", "cores")
	for _, p := range e.Platforms {
		cores := "-"
		if p.Cores > 0 {
			cores = fmt.Sprintf("%.3f", p.Cores)
		}
		load := "-"
		if p.Load > 0 {
			load = fmt.Sprintf("%.1f%%", 100*p.Load)
		}
		fmt.Fprintf(w, "%-11s %10s %10s %10s %10s %10s %8s %7s\n", p.Name, human(p.DiskBytes, "B"), human(p.RawBytes, "B"),
			human(p.Rollup, "B"), human(p.WALBytes, "B"), human(p.LedgerB, "B"), load, cores)
	}
	fmt.Fprintln(w)
	for _, p := range e.Platforms {
		if p.MemBytes > 0 {
			fmt.Fprintf(w, "%s: open chunks hold %s in memory; ledger grows %s a year\n", p.Name, human(p.MemBytes, "B"), human(p.LedgerYear, "B"))
		}
		if p.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", p.Name, p.Note)
		}
	}
	fmt.Fprintf(w, "rollups: %.0f bytes per bucket assumed (not measured); load is the share of one writer's measured ingest rate\n", e.Input.RollupBytes)
	return nil
}

// human prints n with a decimal SI prefix.
func human(n float64, unit string) string {
	if n == 0 {
		return "0"
	}
	for _, p := range []struct {
		s string
		v float64
	}{{"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if n >= p.v {
			return fmt.Sprintf("%.2f %s%s", n/p.v, p.s, unit)
		}
	}
	if unit == "" {
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprintf("%.0f %s", n, unit)
}

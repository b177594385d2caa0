package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestEstimateSize(t *testing.T) {
	m := Measured{Signals: SignalsSim, BytesPerSample: 2, WALBytesPerSample: 10, LedgerBytesPerChunk: 200, SamplesPerChunk: 4096,
		IngestCPUSecPerMillion: 0.5, IngestSamplesPerSec: 1e6, SQLiteBytesPerSample: 25, SQLiteIngestSamplesPerSec: 1e5}
	in := SizingInput{Tags: 10_000, Rate: 1, Retention: 10 * 24 * time.Hour, Rollup1m: 24 * time.Hour, RollupBytes: 60}
	e, err := EstimateSize(in, m)
	if err != nil {
		t.Fatal(err)
	}
	kept := 10_000.0 * 864_000
	if e.SamplesPerSec != 10_000 || e.SamplesKept != kept {
		t.Fatalf("samples/s %v, kept %v", e.SamplesPerSec, e.SamplesKept)
	}
	if len(e.Platforms) != 2 || e.Platforms[0].Name != "embedded" || e.Platforms[1].Name != "sqlite" {
		t.Fatalf("platforms %+v", e.Platforms)
	}
	p := e.Platforms[0]
	rollup := 10_000.0 * 1440 * 60 // one bucket per tag per minute for a day
	wal := 10_000.0 * 4096 * 10    // one chunk of samples per tag
	ledger := 10_000.0 / 4096 * 864_000 * 200
	if !near(p.RawBytes, kept*2) || !near(p.Rollup, rollup) || !near(p.WALBytes, wal) || !near(p.LedgerB, ledger) ||
		!near(p.DiskBytes, kept*2+rollup+wal+ledger) {
		t.Errorf("embedded %+v", p)
	}
	if !near(p.Cores, 0.005) || !near(p.Load, 0.01) || !near(p.MemBytes, 10_000*4096*32) || !near(p.LedgerYear, 10_000.0/4096*365*86400*200) {
		t.Errorf("embedded load %+v", p)
	}
	if s := e.Platforms[1]; !near(s.RawBytes, kept*25) || !near(s.DiskBytes, kept*25+rollup) || !near(s.Load, 0.1) {
		t.Errorf("sqlite %+v", s)
	}

	// A slow tag seals on the 2 h span, not at 4096 samples, and a rate
	// below one a minute gives fewer rollup buckets than minutes.
	in = SizingInput{Tags: 100, Rate: 1.0 / 120, Retention: 24 * time.Hour, Rollup1m: 24 * time.Hour, RollupBytes: 60}
	e, err = EstimateSize(in, m)
	if err != nil {
		t.Fatal(err)
	}
	p = e.Platforms[0]
	if !near(p.WALBytes, 100*60*10) || !near(p.Rollup, 100*720*60) || !near(p.LedgerB, 100*(1.0/120/60)*86400*200) {
		t.Errorf("slow tags: %+v", p)
	}
	// A huge installation's WAL is bounded by the segments.
	e, _ = EstimateSize(SizingInput{Tags: 10_000_000, Rate: 1, Retention: time.Hour}, m)
	if e.Platforms[0].WALBytes != walCap || e.Input.RollupBytes != DefaultRollupBytes {
		t.Errorf("wal %v, rollup bytes %v", e.Platforms[0].WALBytes, e.Input.RollupBytes)
	}
	var buf bytes.Buffer
	e.WriteText(&buf)
	if !strings.Contains(buf.String(), "embedded") || !strings.Contains(buf.String(), "sqlite") {
		t.Errorf("text:\n%s", buf.String())
	}
}

func TestEstimateSizeBadInput(t *testing.T) {
	m := Measured{BytesPerSample: 1, SamplesPerChunk: 4096}
	for _, in := range []SizingInput{{Tags: 0, Rate: 1, Retention: time.Hour}, {Tags: 1, Rate: 0, Retention: time.Hour},
		{Tags: 1, Rate: 1}, {Tags: 1, Rate: math.Inf(1), Retention: time.Hour}, {Tags: 1, Rate: 1, Retention: time.Hour, Rollup1h: -1}} {
		if _, err := EstimateSize(in, m); err == nil {
			t.Errorf("%+v: no error", in)
		}
	}
	if _, err := EstimateSize(SizingInput{Tags: 1, Rate: 1, Retention: time.Hour}, Measured{}); err == nil {
		t.Error("no measured figures: no error")
	}
}

func TestMeasuredFromBench(t *testing.T) {
	pgB, pgR := 170.0, 40_000.0
	r := HistorianResult{BytesPerSample: 2, BytesPerSampleRandom: 8.5, IngestSamplesPerSec: 2e6, IngestRandomSamplesPerSec: 1e6,
		IngestCPUSecPerMillion: 0.3, WALBytesPerSample: 22, SamplesPerChunk: 4096, PostgresBytesPerSample: &pgB, PostgresIngestSamplesPerSec: &pgR}
	m := MeasuredFromBench(r, SignalsSim, "f")
	if m.BytesPerSample != 2 || m.PostgresBytesPerSample != 170 || m.PostgresIngestSamplesPerSec != 40_000 || m.IngestCPUSecPerMillion != 0.3 {
		t.Errorf("sim %+v", m)
	}
	m = MeasuredFromBench(r, SignalsRandom, "f")
	if m.BytesPerSample != 8.5 || m.IngestSamplesPerSec != 1e6 || !near(m.IngestCPUSecPerMillion, 0.6) {
		t.Errorf("random %+v", m)
	}
}

func TestMeasureSizing(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a few hundred thousand samples")
	}
	if _, err := MeasureSizing(t.Context(), "noise", t.TempDir()); err == nil {
		t.Error("unknown signals: no error")
	}
	m, err := measureSizing(t.Context(), SignalsSim, t.TempDir(), 21, 21, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.BytesPerSample <= 0 || m.BytesPerSample > 8 || m.LedgerBytesPerChunk <= 0 || m.IngestCPUSecPerMillion <= 0 || m.SQLiteBytesPerSample <= 0 {
		t.Errorf("measured %+v", m)
	}
}

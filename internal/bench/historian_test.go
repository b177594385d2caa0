package bench

import (
	"github.com/otlink/otlink/internal/model"
	"testing"
)

// TestHistorianSmall runs the historian benchmark at a small size and
// checks that its figures are consistent; it asserts no speed.
func TestHistorianSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few million samples")
	}
	r, err := Historian(t.Context(), HistorianOptions{Tags: 210, Samples: 21000, SizeTags: 21, DBSamples: 2100, PG: "off", Dir: t.TempDir(), daySeconds: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 21000 || r.SizeSamples != 21*2*4096 || r.DBSamples != 2100 {
		t.Errorf("sizes: %d samples, %d size samples, %d db samples", r.Samples, r.SizeSamples, r.DBSamples)
	}
	for name, v := range map[string]float64{
		"ingest": r.IngestSamplesPerSec, "sync always": r.IngestSyncAlwaysSamplesPerSec, "random ingest": r.IngestRandomSamplesPerSec,
		"bytes": r.BytesPerSample, "bytes random": r.BytesPerSampleRandom, "query": r.Query1DayMS, "latest": r.Latest10kMS,
		"verify": r.VerifyMBPerSec, "sqlite": r.SQLiteIngestSamplesPerSec, "sqlite query": r.SQLiteQuery1DayMS,
		"sqlite bytes": r.SQLiteBytesPerSample, "wal": r.WALBytesPerSample, "ledger": r.LedgerBytesPerChunk, "cpu": r.IngestCPUSecPerMillion,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if !r.VerifyOK || r.VerifyChunks != 21*2 {
		t.Errorf("verify ok %v over %d chunks, want 42", r.VerifyOK, r.VerifyChunks)
	}
	// Random float64 cannot compress below their 8 bytes of value, and
	// the sealed data is part of what the folder held.
	if r.BytesPerSampleRandom < 6 || r.BytesPerSample >= r.BytesPerSampleRandom || r.BytesPerSample > r.StoreDirBytesPerSample {
		t.Errorf("bytes/sample sim %v, random %v, folder %v", r.BytesPerSample, r.BytesPerSampleRandom, r.StoreDirBytesPerSample)
	}
	if got := r.IngestSamplesPerSec / r.SQLiteIngestSamplesPerSec; got != r.IngestVsSQLite {
		t.Errorf("ingest_vs_sqlite %v, want %v", r.IngestVsSQLite, got)
	}
	if r.PostgresIngestSamplesPerSec != nil || r.PostgresNote == "" {
		t.Errorf("--pg off: postgres %v, note %q", r.PostgresIngestSamplesPerSec, r.PostgresNote)
	}
}

func TestSimGenCycle(t *testing.T) {
	g := newGen(SignalsSim, 30, benchBase, 1)
	if len(g.tags()) != 2*simTagsPerMachine {
		t.Fatalf("%d tags for 30 asked, want two whole machines", len(g.tags()))
	}
	c0 := g.cycle(nil, 0)
	c1 := g.cycle(nil, 1)
	if len(c0) != 42 || len(c1) != 42 {
		t.Fatalf("cycle lengths %d, %d", len(c0), len(c1))
	}
	for i := range c0 {
		if c0[i].Tag != c1[i].Tag || c1[i].Source-c0[i].Source < 998_500_000 || c1[i].Source-c0[i].Source > 1_001_500_000 {
			t.Fatalf("sample %d: %s at %d then %s at %d", i, c0[i].Tag, c0[i].Source, c1[i].Tag, c1[i].Source)
		}
	}
	n := 0
	if err := batches(g, 3, 40, func(b []model.Sample) error { n += len(b); return nil }); err != nil || n != 3*42 {
		t.Fatalf("batches gave %d samples, %v", n, err)
	}
}

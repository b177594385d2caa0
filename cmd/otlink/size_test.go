package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runSize(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := historySizeCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestHistorySizeBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{{"--tags", "0"}, {"--rate", "-1"}, {"--retention", "soon"}, {"--retention", "0"},
		{"--signals", "noise"}, {"--rollup-1m", "x"}, {"--from-bench", "/no/such/file.json"}} {
		_, err := runSize(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.status != 2 {
			t.Errorf("%v: %v, want exit 2", args, err)
		}
	}
	for _, args := range [][]string{{"history", "size", "--tags", "x"}, {"bench", "historian", "--tags", "0"}, {"bench", "historian", "--pg", ""}} {
		_, errOut, st := otlink(t, args...)
		if st != 2 && args[0] == "bench" {
			t.Errorf("otlink %v: status %d, want 2 (%s)", args, st, errOut)
		}
	}
}

func TestHistorySizeFromBench(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(f, []byte(`{"ingest_samples_per_sec": 2000000, "bytes_per_sample": 2, "bytes_per_sample_random": 8.6,
		"ingest_cpu_sec_per_million": 0.3, "wal_bytes_per_sample": 22, "ledger_bytes_per_chunk": 223, "samples_per_chunk": 4096,
		"sqlite_ingest_samples_per_sec": 60000, "sqlite_bytes_per_sample": 23.5, "postgres_ingest_samples_per_sec": null}`), 0o644)
	out, err := runSize(t, "--tags", "10000", "--rate", "1", "--retention", "1y", "--from-bench", f)
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 × 1/s × 365 d × 2 bytes = 630.72 GB raw.
	if !strings.Contains(out, "630.72 GB") || !strings.Contains(out, "sqlite") || strings.Contains(out, "postgresql") {
		t.Errorf("output:\n%s", out)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHistoryEndToEnd runs the demo for a few seconds with its historian,
// then queries and verifies the data folder it left, tampers with it and
// checks that verification fails.
func TestHistoryEndToEnd(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--data", data, "--listen", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "off", "--for", "8s")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "live" && f[1] == "values" {
			base = strings.TrimSuffix(f[2], "/api/v1/tags")
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if base == "" {
		cmd.Wait()
		t.Fatalf("no URL printed by the demo: %s", stderr.String())
	}

	useAPI(t, data, "tags.read,history.read,integrity.read")
	os.Setenv("OTLINK_TOKEN", apiToken)
	defer os.Unsetenv("OTLINK_TOKEN")

	// While it runs: the tags it acquires, the REST path of the CLI, and
	// a clear refusal to open the folder in use.
	var tags []string
	for i := 0; i < 50 && len(tags) == 0; i++ {
		time.Sleep(100 * time.Millisecond)
		resp, err := apiGet(base + "/api/v1/tags")
		if err != nil {
			continue
		}
		var r struct {
			Tags []struct {
				Path string `json:"path"`
				Time time.Time
			} `json:"tags"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		for _, tg := range r.Tags {
			if !tg.Time.IsZero() {
				tags = append(tags, tg.Path)
			}
		}
	}
	if len(tags) < 8 {
		t.Fatalf("demo shows %d tags with values", len(tags))
	}
	time.Sleep(2 * time.Second) // let the historian ingest something
	out, errOut, st := otlink(t, "history", "latest", "--url", base, "--data", data, "--json", tags[0])
	if st != 0 || !strings.Contains(out, tags[0]) {
		t.Errorf("history latest --url: %d %s %s", st, out, errOut)
	}
	_, errOut, st = otlink(t, "history", "latest", "--data", data, tags[0])
	if st != 1 || !strings.Contains(errOut, "OTL-9020") || !strings.Contains(errOut, "--url") {
		t.Errorf("history on a folder in use: %d %s", st, errOut)
	}
	out, _, st = otlink(t, "verify", "--url", base, "--cacert", filepath.Join(data, "tls", "ca.pem"), "--json")
	if st != 0 || !strings.Contains(out, `"ok":true`) {
		t.Errorf("verify --url: %d %s", st, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}

	// Every tag the demo showed has history.
	out, errOut, st = otlink(t, append([]string{"history", "latest", "--data", data, "--json"}, tags...)...)
	if st != 0 {
		t.Fatalf("history latest: %d %s", st, errOut)
	}
	var latest struct {
		Values []struct {
			Tag string          `json:"tag"`
			V   json.RawMessage `json:"v"`
			Q   string          `json:"q"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &latest); err != nil {
		t.Fatalf("history latest --json: %v: %s", err, out)
	}
	if len(latest.Values) != len(tags) {
		t.Fatalf("latest of %d tags gave %d values", len(tags), len(latest.Values))
	}
	for _, v := range latest.Values {
		if string(v.V) == "null" || strings.HasPrefix(v.Q, "BadWaiting") {
			t.Errorf("tag %s has no history: %s %s", v.Tag, v.V, v.Q)
		}
	}
	out, _, st = otlink(t, "history", "latest", "--data", data, tags[0])
	if st != 0 || !strings.Contains(out, "quality") || !strings.Contains(out, tags[0]) {
		t.Errorf("history latest table: %d %s", st, out)
	}

	// Aggregates over the demo's time range.
	out, errOut, st = otlink(t, "history", "agg", "--data", data, "--from", "now-2m", "--buckets", "4", "--agg", "count,min,max", "--json", tags[0])
	var agg struct {
		Series []struct {
			Buckets []struct {
				Values []struct {
					V json.RawMessage `json:"v"`
				} `json:"values"`
			} `json:"buckets"`
		} `json:"series"`
	}
	if st != 0 || json.Unmarshal([]byte(out), &agg) != nil || len(agg.Series) != 1 || len(agg.Series[0].Buckets) != 4 {
		t.Fatalf("history agg: %d %s %s", st, out, errOut)
	}
	counted := 0
	for _, b := range agg.Series[0].Buckets {
		var n int
		json.Unmarshal(b.Values[0].V, &n)
		counted += n
	}
	if counted == 0 {
		t.Errorf("no samples counted in the demo's range: %s", out)
	}
	if _, errOut, st = otlink(t, "history", "agg", "--data", data, "--agg", "median", tags[0]); st != 2 || !strings.Contains(errOut, "OTL-5202") {
		t.Errorf("unknown aggregate: %d %s", st, errOut)
	}
	csv := filepath.Join(t.TempDir(), "out.csv")
	if _, errOut, st = otlink(t, "history", "export", "--data", data, "--from", "now-5m", "-o", csv, tags[0]); st != 0 || !strings.Contains(errOut, "exported") {
		t.Errorf("export: %d %s", st, errOut)
	} else if b, _ := os.ReadFile(csv); !strings.HasPrefix(string(b), "time,tag,value,quality,code\n") || strings.Count(string(b), "\n") < 2 {
		t.Errorf("export wrote %q", b)
	}

	// A clean folder verifies, as text and JSON, also against an
	// exported checkpoint.
	cp := filepath.Join(t.TempDir(), "cp.txt")
	if _, errOut, st = otlink(t, "verify", "export-checkpoint", "--data", data, "-o", cp); st != 0 {
		t.Fatalf("export-checkpoint: %d %s", st, errOut)
	}
	out, errOut, st = otlink(t, "verify", "--data", data, "--checkpoint", cp)
	if st != 0 || !strings.Contains(out, "VERIFIED") || !strings.Contains(out, ": OK") {
		t.Fatalf("verify clean: %d %s %s", st, out, errOut)
	}
	out, _, st = otlink(t, "verify", "--data", data, "--json")
	var rep struct {
		OK         bool `json:"ok"`
		Recomputed bool `json:"recomputed"`
		Summary    struct {
			Chunks int `json:"chunks"`
		} `json:"summary"`
	}
	if st != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || !rep.Recomputed || rep.Summary.Chunks == 0 {
		t.Fatalf("verify --json: %d %s", st, out)
	}

	// An evidence bundle verifies offline; an altered one does not.
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	if _, errOut, st = otlink(t, "verify", "bundle", "--data", data, "-o", bundle); st != 0 {
		t.Fatalf("bundle: %d %s", st, errOut)
	}
	if out, errOut, st = otlink(t, "verify", "--bundle", bundle); st != 0 {
		t.Fatalf("verify --bundle: %d %s %s", st, out, errOut)
	}
	var b map[string]any
	raw, _ := os.ReadFile(bundle)
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	ents := b["entries"].([]any)
	// Audit events (logins, the CLI's token) are leaves too, without data:
	// alter the first chunk.
	var e0 map[string]any
	audits := 0
	for _, e := range ents {
		m := e.(map[string]any)
		if _, ok := m["data"].(string); ok && e0 == nil {
			e0 = m
		} else if !ok {
			audits++
		}
	}
	if e0 == nil || audits == 0 {
		t.Fatalf("bundle has no chunk (%v) or no audit leaf (%d)", e0 == nil, audits)
	}
	d := []byte(e0["data"].(string))
	d[len(d)/2] ^= 'A' ^ 'B' // still base64 where it is a letter: another sample value
	if d[len(d)/2] == '=' || d[len(d)/2] > 'z' {
		d[len(d)/2] = 'Q'
	}
	e0["data"] = string(d)
	raw, _ = json.Marshal(b)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, raw, 0o644)
	if out, _, st = otlink(t, "verify", "--bundle", bad); st != 1 {
		t.Errorf("altered bundle: status %d, want 1: %s", st, out)
	}

	// Flip a byte of a logged entry: tampered, exit 1.
	ef := filepath.Join(data, "integrity", "entries.dat")
	ed, err := os.ReadFile(ef)
	if err != nil {
		t.Fatal(err)
	}
	ed[len(ed)-10] ^= 0x01
	os.WriteFile(ef, ed, 0o644)
	out, errOut, st = otlink(t, "verify", "--data", data)
	if st != 1 || !strings.Contains(strings.ToLower(out), "tampered") {
		t.Fatalf("tampered entry: %d %s %s", st, out, errOut)
	}
	if _, _, st = otlink(t, "verify", "--data", filepath.Join(data, "nothing-here")); st != 2 {
		t.Errorf("verify of a folder without history: %d, want 2", st)
	}
}

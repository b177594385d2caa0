package analyze_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/flow"
)

type countObs struct{ pdus, ends int }

func (o *countObs) PDU(f *flow.Flow, p *dissect.PDU) { o.pdus++ }
func (o *countObs) FlowEnd(f *flow.Flow)             { o.ends++ }
func (o *countObs) Report(fs *analyze.FileSummary) {
	fs.Alerts = append(fs.Alerts, map[string]any{"title": "test", "severity": "low", "techniques": []string{}})
}

func TestFilesJSONAndErrors(t *testing.T) {
	if _, ok := dissect.Lookup("modbus"); !ok {
		t.Skip("no modbus dissector registered")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "modbus.pcap")
	writeModbusSession(t, good)
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("not a capture at all"), 0o644)
	obs := &countObs{}
	var prog []analyze.Progress
	sum, err := analyze.Files(context.Background(), []string{good, junk, filepath.Join(dir, "missing.pcap")}, analyze.Options{
		Observers: func(string) []analyze.Observer { return []analyze.Observer{obs} },
		Progress:  func(p analyze.Progress) { prog = append(prog, p) },
	})
	if err == nil || errcode.Of(err) != errcode.CaptureFormat {
		t.Fatalf("err %v", err)
	}
	var open *errcode.Error
	if !errors.As(err, &open) || !strings.Contains(err.Error(), "missing.pcap") {
		t.Fatalf("missing file not reported: %v", err)
	}
	if len(sum.Files) != 1 || obs.pdus == 0 || obs.ends != 1 || len(prog) == 0 || !prog[len(prog)-1].Done {
		t.Fatalf("files %d, observer %+v, progress %d", len(sum.Files), obs, len(prog))
	}
	b, _ := json.Marshal(sum)
	var doc struct {
		Files []struct {
			File    string `json:"file"`
			Packets int    `json:"packets"`
			Flows   int    `json:"flows"`
			PDUs    map[string]struct {
				Total     int            `json:"total"`
				Functions map[string]int `json:"functions"`
			} `json:"pdus"`
			Assets []any `json:"assets"`
			Alerts []any `json:"alerts"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Files[0]
	m := f.PDUs["modbus"]
	if f.File != good || f.Packets == 0 || f.Flows != 1 || m.Functions["3"] == 0 || f.Assets == nil || len(f.Alerts) != 1 {
		t.Fatalf("json %s", b)
	}
	sumF := 0
	for _, n := range m.Functions {
		sumF += n
	}
	if sumF != m.Total || m.Total != obs.pdus {
		t.Fatalf("total %d, sum of functions %d, observed %d", m.Total, sumF, obs.pdus)
	}
}

func TestFilterOption(t *testing.T) {
	p := filepath.Join(t.TempDir(), "two.pcap")
	f, _ := os.Create(p)
	w, _ := synth.NewWriter(f)
	w.UDP(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:2000"), []byte("a"))
	w.UDP(netip.MustParseAddrPort("10.0.0.3:1000"), netip.MustParseAddrPort("10.0.0.2:3000"), []byte("b"))
	f.Close()
	fs, err := analyze.File(context.Background(), p, analyze.Options{Filter: "host 10.0.0.3"})
	if err != nil || fs.Packets != 1 || fs.Flows != 1 {
		t.Fatalf("packets %d flows %d err %v", fs.Packets, fs.Flows, err)
	}
	if _, err := analyze.File(context.Background(), p, analyze.Options{Filter: "host"}); errcode.Of(err) != errcode.CaptureFilter {
		t.Fatalf("bad filter: %v", err)
	}
}

package bench

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
)

// TestDPISmall runs the benchmark on a small capture and checks that its
// figures are consistent with each other; it asserts no speed.
func TestDPISmall(t *testing.T) {
	r, err := DPI(t.Context(), DPIOptions{Packets: 20000, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Packets < 19000 || r.Packets > 20000 {
		t.Fatalf("packets %d, want about 20000", r.Packets)
	}
	if r.Flows < 50 || r.WireBytes < r.Packets*54 {
		t.Fatalf("flows %d, bytes %d", r.Flows, r.WireBytes)
	}
	for _, p := range []string{"modbus", "s7comm", "enip", "dnp3", "opcua", "bacnet", "iec104", "mqtt"} {
		if r.PDUsByProto[p] == 0 {
			t.Errorf("no %s PDUs: %v", p, r.PDUsByProto)
		}
	}
	if r.Malformed != 0 {
		t.Errorf("%d malformed PDUs in a capture of well-formed traffic", r.Malformed)
	}
	var sum uint64
	for _, n := range r.PDUsByProto {
		sum += n
	}
	if sum != r.PDUs || r.PDUs < r.Packets/3 {
		t.Errorf("pdus %d, by protocol %d, packets %d", r.PDUs, sum, r.Packets)
	}
	if r.Seconds <= 0 || r.PacketsPerSec <= 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
	if d := r.PacketsPerSec*r.Seconds - float64(r.Packets); math.Abs(d) > 1 {
		t.Errorf("packets/s × seconds is %v packets off", d)
	}
	if d := r.MbitPerSec*r.Seconds*1e6/8 - float64(r.WireBytes); math.Abs(d) > 8 {
		t.Errorf("Mbit/s × seconds is %v bytes off", d)
	}
	if r.CoresPacketsPerSec <= 0 || r.CoresMbitPerSec <= 0 || r.Cores < 1 {
		t.Errorf("dissection on all cores: %.0f packets/s, %.1f Mbit/s on %d cores", r.CoresPacketsPerSec, r.CoresMbitPerSec, r.Cores)
	}
	// The analyze run sees every client and server of the generated
	// sessions (one client address per session) and raises nothing on
	// well-formed polling traffic.
	if r.AnalyzeCoresPacketsPerSec <= 0 || r.AnalyzeCores < 1 {
		t.Errorf("analyze on all cores: %.0f packets/s on %d cores", r.AnalyzeCoresPacketsPerSec, r.AnalyzeCores)
	}
	if r.AnalyzePacketsPerSec <= 0 || r.AnalyzeAssets < int(r.Flows)/2 || r.AnalyzeAlerts != 0 {
		t.Errorf("analyze run: %.0f packets/s, %d assets (flows %d), %d alerts", r.AnalyzePacketsPerSec, r.AnalyzeAssets, r.Flows, r.AnalyzeAlerts)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		if r.TsharkPacketsPerSec != nil || r.VsTshark != nil || r.VsTsharkCores != nil || r.TsharkNote == "" {
			t.Errorf("no tshark but tshark figures %v %v note %q", r.TsharkPacketsPerSec, r.VsTshark, r.TsharkNote)
		}
		return
	}
	if r.TsharkPacketsPerSec == nil || r.VsTshark == nil || r.TsharkPlainPacketsPerSec == nil {
		t.Fatalf("tshark installed but no baseline: %s", r.TsharkNote)
	}
	if *r.TsharkPacketsPerSec < *r.TsharkPlainPacketsPerSec {
		t.Errorf("baseline %v is not the faster run (plain %v)", *r.TsharkPacketsPerSec, *r.TsharkPlainPacketsPerSec)
	}
	if math.Abs(*r.VsTshark**r.TsharkPacketsPerSec-r.PacketsPerSec) > 1e-6*r.PacketsPerSec {
		t.Errorf("vs_tshark %v inconsistent", *r.VsTshark)
	}
	if r.VsTsharkCores == nil || math.Abs(*r.VsTsharkCores**r.TsharkPacketsPerSec-r.CoresPacketsPerSec) > 1e-6*r.CoresPacketsPerSec {
		t.Errorf("vs_tshark_cores %v inconsistent", r.VsTsharkCores)
	}
}

// TestDPICaptureAgreesWithTshark: the generated traffic is dissected the
// same by otlink and tshark, so the benchmark compares like with like.
func TestDPICaptureAgreesWithTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed: agreement not checked")
	}
	p := filepath.Join(t.TempDir(), "dpi.pcap")
	if err := WriteDPICapture(p, 6000); err != nil {
		t.Fatal(err)
	}
	fs, err := analyze.File(context.Background(), p, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := analyze.Tshark(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	rows := analyze.Compare(fs.PDUs, ts, nil)
	for _, proto := range []string{"modbus", "s7comm", "enip", "dnp3", "opcua", "bacnet", "iec104", "mqtt"} {
		pct, ours, theirs := analyze.Agreement(rows, proto)
		if ours == 0 || pct != 1 {
			var b strings.Builder
			analyze.WriteRows(&b, rows, false)
			t.Errorf("%s: ours %d, tshark %d (%.1f%%)\n%s", proto, ours, theirs, 100*pct, b.String())
		}
	}
}

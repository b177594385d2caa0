package modbus

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// knownDiff lists the disagreements understood: zeek's fuzz-72 is a fuzzed
// TCP conversation (overlapping, out-of-window segments) where tshark's TCP
// analysis and the naive test reassembly keep different bytes.
var knownDiff = map[string]string{
	"zeek__fuzz-72.pcap": " 0x40: ours 1 tshark 0;",
}

// TestSharedCapturesAgreeWithTshark compares per-function counts with
// tshark's modbus.func_code on every shared Modbus capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "modbus") {
		ours := dissecttest.CountPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := dissecttest.Tshark(t, f, "modbus.func_code")
		d := dissecttest.Diff(ours, theirs)
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), ours.Total(), theirs.Total(), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != knownDiff[filepath.Base(f)] {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

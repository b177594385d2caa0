package modbus

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
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
	needTshark(t)
	for _, f := range sharedFiles(t, "modbus") {
		ours := countPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := tsharkCounts(t, f, "modbus.func_code")
		d := diffCounts(ours, theirs)
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), total(ours), total(theirs), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != knownDiff[filepath.Base(f)] {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

package s7comm

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// TestSharedCapturesAgreeWithTshark compares per-function counts with
// tshark's s7comm.param.func on every shared S7 capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	needTshark(t)
	for _, f := range sharedFiles(t, "s7comm") {
		ours := countPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := tsharkCounts(t, f, "s7comm.param.func")
		d := diffCounts(ours, theirs)
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), total(ours), total(theirs), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

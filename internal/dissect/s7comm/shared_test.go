package s7comm

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestSharedCapturesAgreeWithTshark compares per-function counts with
// tshark's s7comm.param.func on every shared S7 capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "s7comm") {
		ours := dissecttest.CountPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := dissecttest.Tshark(t, f, "s7comm.param.func")
		d := dissecttest.Diff(ours, theirs)
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), ours.Total(), theirs.Total(), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

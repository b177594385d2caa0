package enip

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestSharedCapturesAgreeWithTshark compares per-function counts with
// tshark's cip.sc and enip.command on every shared EtherNet/IP capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "enip") {
		ours, oc := dissecttest.Counts{}, dissecttest.Counts{}
		dissecttest.Replay(t, f, Dissector{}, func(p *dissect.PDU) {
			switch p.Counting {
			case dissect.CountFunction:
				ours[p.Function]++
			case dissect.CountCommand:
				oc[p.Function]++
			}
		})
		theirs := dissecttest.Tshark(t, f, "cip.sc")
		d := dissecttest.Diff(ours, theirs)
		tc := dissecttest.Tshark(t, f, "enip.command")
		if dc := dissecttest.Diff(oc, tc); dc != "" {
			d += " commands:" + dc
		}
		t.Logf("%-45s commands ours %5d tshark %5d", filepath.Base(f), oc.Total(), tc.Total())
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), ours.Total(), theirs.Total(), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

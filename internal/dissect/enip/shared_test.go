package enip

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// TestSharedCapturesAgreeWithTshark compares per-function counts with
// tshark's cip.sc and enip.command on every shared EtherNet/IP capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	needTshark(t)
	for _, f := range sharedFiles(t, "enip") {
		ours, oc := map[uint32]int{}, map[uint32]int{}
		replay(t, f, Dissector{}, func(p *dissect.PDU) {
			switch p.Counting {
			case dissect.CountFunction:
				ours[p.Function]++
			case dissect.CountCommand:
				oc[p.Function]++
			}
		})
		theirs := tsharkCounts(t, f, "cip.sc")
		d := diffCounts(ours, theirs)
		tc := tsharkCounts(t, f, "enip.command")
		if dc := diffCounts(oc, tc); dc != "" {
			d += " commands:" + dc
		}
		t.Logf("%-45s commands ours %5d tshark %5d", filepath.Base(f), total(oc), total(tc))
		t.Logf("%-45s ours %5d tshark %5d %s", filepath.Base(f), total(ours), total(theirs), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

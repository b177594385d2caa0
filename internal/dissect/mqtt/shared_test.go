package mqtt

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestSharedCapturesAgreeWithTshark compares per-type counts with
// tshark's mqtt.msgtype on every shared MQTT capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "mqtt") {
		ours := dissecttest.CountPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := dissecttest.Tshark(t, f, "mqtt.msgtype")
		d := dissecttest.Diff(ours, theirs)
		t.Logf("%-40s ours %5d tshark %5d %s", filepath.Base(f), ours.Total(), theirs.Total(), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

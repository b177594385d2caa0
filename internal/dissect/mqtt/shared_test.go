package mqtt

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// TestSharedCapturesAgreeWithTshark compares per-type counts with
// tshark's mqtt.msgtype on every shared MQTT capture.
func TestSharedCapturesAgreeWithTshark(t *testing.T) {
	needTshark(t)
	for _, f := range sharedFiles(t, "mqtt") {
		ours := countPDUs(t, f, Dissector{}, dissect.CountFunction)
		theirs := tsharkCounts(t, f, "mqtt.msgtype")
		d := diffCounts(ours, theirs)
		t.Logf("%-40s ours %5d tshark %5d %s", filepath.Base(f), total(ours), total(theirs), map[bool]string{true: "agree", false: "DIFFER"}[d == ""])
		if d != "" {
			t.Errorf("%s:%s", filepath.Base(f), d)
		}
	}
}

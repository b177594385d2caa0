package iec104

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestSharedCaptures compares, file by file, the ASDU type id counts with
// tshark's iec60870_asdu.typeid over the public captures.
func TestSharedCaptures(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "iec104") {
		name := filepath.Base(f)
		ours, bad := dissecttest.Ours(t, f, Dissector{})
		theirs := dissecttest.TsharkTally(t, f, "", []string{"iec60870_asdu.typeid"}, []dissect.Counting{dissect.CountFunction})
		agree := "agree"
		if !ours.Equal(theirs) {
			agree = "DIFFER"
			t.Errorf("%s: ours %v, tshark %v", name, ours, theirs)
		}
		t.Logf("%-45s %s (malformed %d) ours %v", name, agree, bad, ours)
	}
}

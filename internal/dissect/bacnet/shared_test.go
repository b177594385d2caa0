package bacnet

import (
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestSharedCaptures compares, file by file, the confirmed and unconfirmed
// service counts with tshark's bacapp.confirmed_service and
// bacapp.unconfirmed_service over the UDP packets of the public captures.
func TestSharedCaptures(t *testing.T) {
	dissecttest.NeedTshark(t)
	for _, f := range dissecttest.Captures(t, "bacnet") {
		name := filepath.Base(f)
		ours, bad := dissecttest.Ours(t, f, Dissector{})
		fields := []string{"bacapp.confirmed_service", "bacapp.unconfirmed_service"}
		ks := []dissect.Counting{dissect.CountFunction, dissect.CountUnconfirmed}
		// BACnet over Ethernet (LLC, DSAP 0x82) is not UDP: the dissect
		// contract cannot see it, so compare with tshark's UDP packets and
		// report the whole-file counts beside.
		theirs := dissecttest.TsharkTally(t, f, "udp", fields, ks)
		if all := dissecttest.TsharkTally(t, f, "", fields, ks); !all.Equal(theirs) {
			t.Logf("%-45s tshark over all frames (incl. BACnet/Ethernet) %v", name, all)
		}
		agree := "agree"
		if !ours.Equal(theirs) {
			agree = "DIFFER"
			t.Errorf("%s: ours %v, tshark %v", name, ours, theirs)
		}
		t.Logf("%-45s %s (malformed %d) ours %v", name, agree, bad, ours)
	}
}

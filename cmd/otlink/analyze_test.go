package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/proto/modbus"
)

// TestAnalyzeCommand drives `otlink analyze` as a user does: two captures
// and a file that is none, the JSON summary, the exit status, learning a
// baseline from one capture and checking another against it.
func TestAnalyzeCommand(t *testing.T) {
	dir := t.TempDir()
	clean, attack := filepath.Join(dir, "clean.pcap"), filepath.Join(dir, "attack.pcap")
	writeCapture(t, clean, false)
	writeCapture(t, attack, true)
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("not a capture"), 0o644)

	out, errOut, st := otlink(t, "analyze", "--json", clean, junk, attack)
	if st != 1 || !strings.Contains(errOut, "OTL-") {
		t.Fatalf("status %d (want 1: one file unreadable), stderr %s", st, errOut)
	}
	var sum struct {
		Files []struct {
			File    string
			Packets int
			PDUs    map[string]struct{ Functions map[string]int } `json:"pdus"`
			Assets  []struct{ IP, Role string }
			Alerts  []struct {
				Detection  string
				Techniques []string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(sum.Files) != 2 || sum.Files[0].File != clean || sum.Files[1].File != attack {
		t.Fatalf("files %+v", sum.Files)
	}
	if n := sum.Files[0].PDUs["modbus"].Functions["3"]; n != 80 || len(sum.Files[0].Alerts) != 0 {
		t.Errorf("clean capture: %d FC 3 PDUs (want 80: requests and responses, as tshark counts), alerts %+v", n, sum.Files[0].Alerts)
	}
	var restart bool
	for _, a := range sum.Files[1].Alerts {
		restart = restart || a.Detection == "device_restart" && strings.Contains(strings.Join(a.Techniques, ","), "T0816")
	}
	if !restart {
		t.Errorf("attack capture: no device_restart alert with T0816: %+v", sum.Files[1].Alerts)
	}
	roles := map[string]string{}
	for _, a := range sum.Files[1].Assets {
		roles[a.IP] = a.Role
	}
	if roles["10.0.1.1"] != "controller" || roles["10.0.0.99"] != "engineering" {
		t.Errorf("roles %v", roles)
	}

	// Learn on the clean capture; the attack capture then also shows a new
	// asset and a new function.
	base := filepath.Join(dir, "baseline.json")
	if _, errOut, st := otlink(t, "analyze", "--learn", clean, "--save-baseline", base); st != 0 {
		t.Fatalf("learn: %d %s", st, errOut)
	}
	out, errOut, st = otlink(t, "analyze", "--json", "--baseline", base, attack)
	if st != 0 || !strings.Contains(out, `"new_asset"`) || !strings.Contains(out, `"new_connection"`) {
		t.Errorf("against the baseline: %d %s %s", st, out, errOut)
	}

	// --counts-only: the same PDU counts on every core, no assets or alerts.
	out, errOut, st = otlink(t, "analyze", "--json", "--counts-only", attack)
	var counts struct {
		Files []struct {
			Packets int
			PDUs    map[string]struct{ Functions map[string]int } `json:"pdus"`
			Assets  []any
			Alerts  []any
		}
	}
	if err := json.Unmarshal([]byte(out), &counts); st != 0 || err != nil || len(counts.Files) != 1 {
		t.Fatalf("--counts-only: %d %v %s %s", st, err, out, errOut)
	}
	if c := counts.Files[0]; c.Packets != sum.Files[1].Packets || fmt.Sprint(c.PDUs) != fmt.Sprint(sum.Files[1].PDUs) || c.Assets == nil || len(c.Assets)+len(c.Alerts) != 0 {
		t.Errorf("--counts-only: %+v\nwant the counts of %+v and no assets or alerts", c, sum.Files[1])
	}

	// Usage errors: exit status 2.
	for _, args := range [][]string{{"analyze"}, {"analyze", "--bpf", "port", clean}, {"analyze", "--baseline", base, "--learn", clean, attack},
		{"analyze", "--counts-only", "--baseline", base, attack}, {"analyze", "--counts-only", "--slices", dir, attack}} {
		if _, errOut, st := otlink(t, args...); st != 2 {
			t.Errorf("otlink %v: status %d (want 2) %s", args, st, errOut)
		}
	}
}

// writeCapture writes Modbus polling of 10.0.1.1 by two clients (20 reads
// each) and, with attack, a restart command from 10.0.0.99.
func writeCapture(t *testing.T, path string, attack bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	srv := netip.MustParseAddrPort("10.0.1.1:502")
	send := func(c *synth.Conn, tid uint16, pdu []byte, client bool) {
		if err := c.Send(client, append(modbus.AppendMBAP(nil, tid, 1, len(pdu)), pdu...)); err != nil {
			t.Fatal(err)
		}
	}
	for i, cli := range []string{"10.0.0.10:40001", "10.0.0.11:40002"} {
		c, err := w.TCP(netip.MustParseAddrPort(cli), srv)
		if err != nil {
			t.Fatal(err)
		}
		for k := range 20 {
			tid := uint16(i*100 + k)
			send(c, tid, modbus.AppendReadRequest(nil, 3, 100, 2), true)
			send(c, tid, modbus.AppendReadResponse(nil, 3, []byte{0, 1, 0, 2}), false)
		}
		c.Close()
	}
	if attack {
		c, err := w.TCP(netip.MustParseAddrPort("10.0.0.99:45000"), srv)
		if err != nil {
			t.Fatal(err)
		}
		send(c, 1, []byte{8, 0, 1, 0, 0}, true)
		c.Close()
	}
}

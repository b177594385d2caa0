package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAlertsCLI runs otlink with the network monitor on the loopback
// interface, sends a Modbus restart command (FC 8 sub-function 1) on it,
// and handles the alert it raises with `otlink alerts` over the API:
// list, acknowledge with a note, resolve, and the refusals.
func TestAlertsCLI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root or CAP_NET_RAW")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("a long enough passphrase 42\n"), 0o600)
	if out, errOut, st := otlink(t, "user", "add", "admin", "--data", data, "--role", "admin", "--password-file", pw); st != 0 {
		t.Fatalf("user add: %d %s %s", st, out, errOut)
	}
	tok, errOut, st := otlink(t, "token", "create", "--data", data, "--user", "admin", "--name", "soc", "--perm", "security.read,alerts.ack", "--expires", "1d")
	if st != 0 {
		t.Fatalf("token create: %d %s", st, errOut)
	}
	tok = strings.TrimSpace(tok)
	cfg := filepath.Join(dir, "plant.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `version: 1
data: %s
bus: {listen: "127.0.0.1:0", mqtt: "off"}
http: {listen: "127.0.0.1:0"}
plant: {enterprise: acme}
monitor:
  interfaces: [{name: lo, bpf: "tcp port %d"}]
`, data, port), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, logs, "otlink running", 20*time.Second)
	if strings.Contains(logs.String(), "OTL-7501") {
		t.Skipf("no live capture here:\n%s", logs.String())
	}
	base := regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+`).FindString(logs.String())
	if base == "" {
		t.Fatalf("no HTTPS address in the logs:\n%s", logs.String())
	}
	api := []string{"--url", base, "--data", data, "--token", tok}

	// Before any alert: an empty list, and the refusals.
	if out, errOut, st := otlink(t, append([]string{"alerts", "list"}, api...)...); st != 0 || !strings.Contains(out, "no alerts") {
		t.Fatalf("alerts list: %d %q %s", st, out, errOut)
	}
	if _, errOut, st := otlink(t, "alerts", "list", "--data", data); st != 2 || !strings.Contains(errOut, "--url") {
		t.Errorf("without --url: %d %s", st, errOut)
	}
	if _, errOut, st := otlink(t, append([]string{"alerts", "list", "--state", "open"}, api...)...); st != 2 || !strings.Contains(errOut, "OTL-") {
		t.Errorf("bad --state: %d %s", st, errOut)
	}
	if _, errOut, st := otlink(t, append([]string{"alerts", "ack", "device_restart-99"}, api...)...); st != 1 || !strings.Contains(errOut, "OTL-") {
		t.Errorf("unknown alert: %d %s", st, errOut)
	}
	if _, errOut, st := otlink(t, "alerts", "list", "--url", base, "--data", data, "--token", "otl_forged"); st == 0 || !strings.Contains(errOut, "OTL-") {
		t.Errorf("forged token: %d %s", st, errOut)
	}

	// A Modbus restart command: an indicator detection, no learning needed.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pdu := []byte{8, 0, 1, 0, 0}
	adu := binary.BigEndian.AppendUint16(nil, 7)                 // transaction
	adu = binary.BigEndian.AppendUint16(adu, 0)                  // protocol
	adu = binary.BigEndian.AppendUint16(adu, uint16(len(pdu)+1)) // length
	adu = append(append(adu, 1), pdu...)
	c.Write(adu)
	c.Close()

	var id string
	for deadline := time.Now().Add(20 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _, st := otlink(t, append([]string{"alerts", "list", "--json"}, api...)...)
		var r struct {
			Alerts []struct{ ID, Detection, State string }
		}
		if st == 0 && json.Unmarshal([]byte(out), &r) == nil {
			for _, a := range r.Alerts {
				if a.Detection == "device_restart" && a.State == "new" {
					id = a.ID
				}
			}
		}
	}
	if id == "" {
		t.Fatalf("no device_restart alert within 20 s:\n%s", logs.String())
	}
	out, errOut, st := otlink(t, append([]string{"alerts", "list"}, api...)...)
	if st != 0 || !strings.Contains(out, id) || !strings.Contains(out, "T0816") || !strings.Contains(out, "high") {
		t.Errorf("alerts list table: %d %q %s", st, out, errOut)
	}
	if _, errOut, st := otlink(t, append([]string{"alerts", "note", id}, api...)...); st != 2 || !strings.Contains(errOut, "--note") {
		t.Errorf("note without text: %d %s", st, errOut)
	}
	out, errOut, st = otlink(t, append([]string{"alerts", "ack", id, "--note", "shift lead called the line"}, api...)...)
	if st != 0 || !strings.Contains(out, "acknowledged") {
		t.Fatalf("alerts ack: %d %q %s", st, out, errOut)
	}
	out, _, _ = otlink(t, append([]string{"alerts", "list", "--state", "acknowledged", "--json"}, api...)...)
	if !strings.Contains(out, id) || !strings.Contains(out, "shift lead called the line") {
		t.Errorf("acknowledged list: %s", out)
	}
	if out, errOut, st := otlink(t, append([]string{"alerts", "resolve", id, "--note", "planned maintenance"}, api...)...); st != 0 || !strings.Contains(out, "resolved (2 notes)") {
		t.Errorf("alerts resolve: %d %q %s", st, out, errOut)
	}
	// Resolving twice is a transition the monitor refuses.
	if _, errOut, st := otlink(t, append([]string{"alerts", "resolve", id}, api...)...); st != 1 || !strings.Contains(errOut, "OTL-") {
		t.Errorf("resolve twice: %d %s", st, errOut)
	}
}

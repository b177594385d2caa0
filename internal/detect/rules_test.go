package detect_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/proto/modbus"
)

const goodRules = `rules:
  - id: setpoint-high
    title: Setpoint above 1000 written to the press
    severity: high
    techniques: [T0836, T0855]
    match:
      proto: modbus
      functions: [6, 16]
      server: [10.0.0.0/24, "!10.0.0.99"]
      addresses: ["holding:100-199"]
      values: ["> 1000"]
  - id: read-burst
    title: Read burst
    severity: low
    techniques: [T0801]
    match:
      action: read
      client: role:hmi
    rate: {count: 50, window: 1m}
`

func TestRulesMatch(t *testing.T) {
	rs, err := detect.ParseRules([]byte(goodRules), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 2 {
		t.Fatalf("%d rules", rs.Len())
	}
	path := capture(t, "rules.pcap", 0, func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40000), netip.AddrPortFrom(plc, 502))
		must(t, err)
		var tid uint16
		poll(t, w, c, &tid, 30)                                                              // 30 reads in 30 s: below the rate
		must(t, c.Send(true, mbap(90, 1, modbus.AppendWriteSingleRegister(nil, 150, 999))))  // value too low
		must(t, c.Send(true, mbap(91, 1, modbus.AppendWriteSingleRegister(nil, 250, 5000)))) // outside the range
		must(t, c.Send(true, mbap(92, 1, modbus.AppendWriteSingleRegister(nil, 120, 1500)))) // fires
		must(t, c.Send(false, mbap(92, 1, modbus.AppendWriteResponse(nil, modbus.FunctionCode(6), 120, 1500))))
	})
	alerts, _ := run(t, path, detect.Config{Rules: rs})
	a := wantAlert(t, alerts, "rule:setpoint-high", "T0836")
	if a.Count != 1 || a.Severity != detect.High || a.Evidence[0].Objects[0].Start != 120 {
		t.Fatalf("rule alert %+v", a)
	}
	if len(find(alerts, "rule:read-burst")) != 0 {
		t.Fatalf("rate rule fired below its rate: %v", names(alerts))
	}
	path = capture(t, "burst.pcap", 0, func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40000), netip.AddrPortFrom(plc, 502))
		must(t, err)
		var tid uint16
		w.Step = int64(10 * time.Millisecond)
		for range 60 {
			tid++
			must(t, c.Send(true, mbap(tid, 1, modbus.AppendReadRequest(nil, modbus.FunctionCode(3), 0, 10))))
			must(t, c.Send(false, mbap(tid, 1, modbus.AppendReadResponse(nil, modbus.FunctionCode(3), make([]byte, 20)))))
		}
	})
	alerts, _ = run(t, path, detect.Config{Rules: rs})
	if b := wantAlert(t, alerts, "rule:read-burst", "T0801"); b.Count < 50 {
		t.Fatalf("rate alert count %d", b.Count)
	}
}

func TestRulesInvalid(t *testing.T) {
	bad := `rules:
  - id: a
    title: x
    severity: urgent
    techniques: [X123]
    match:
      proto: profinet
      client: [10.0.0.0/33]
      values: ["about 5"]
      colour: red
  - id: a
    title: dup
    severity: low
    match: {action: read}
  - title: no id
    severity: low
    match: {action: fly}
    rate: {count: 0}
`
	_, err := detect.ParseRules([]byte(bad), "bad.yaml")
	if err == nil || errcode.Of(err) != errcode.DetectRuleInvalid {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"bad.yaml:4:15: severity", "bad.yaml:5:18: technique", "bad.yaml:7:14: unknown protocol",
		"bad.yaml:8:16: client", "bad.yaml:9:16: value", "bad.yaml:10:7: unknown match key", "duplicate rule id", "rule without id",
		`unknown action "fly"`, "rate count"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if _, err := detect.LoadRules(filepath.Join(t.TempDir(), "none.yaml")); errcode.Of(err) != errcode.DetectRulesRead {
		t.Fatalf("missing file: %v", err)
	}
}

func TestBaselineFile(t *testing.T) {
	b := learn(t, normal(t, "learn.pcap", t0, 90))
	path := filepath.Join(t.TempDir(), "b.json")
	must(t, b.Save(path))
	got, err := detect.LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Connections) != 1 || got.Connections[0].PeakPerMinute < 40 || got.Connections[0].PeakPerMinute > 61 || len(got.Assets) != 2 || got.Learned.From.IsZero() {
		t.Fatalf("reloaded %+v", got)
	}
	// A reviewer allows the HMI to write holding 100..199 by hand.
	got.Connections[0].Functions = append(got.Connections[0].Functions,
		detect.Function{Code: 6, Action: "write", Ranges: []detect.Range{{Space: "holding", Start: 100, End: 199}}})
	must(t, got.Save(path))
	edited, err := detect.LoadBaseline(path)
	must(t, err)
	w := capture(t, "w.pcap", t0+int64(time.Hour), func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40001), netip.AddrPortFrom(plc, 502))
		must(t, err)
		must(t, c.Send(true, mbap(1, 1, modbus.AppendWriteSingleRegister(nil, 150, 1))))
		must(t, c.Send(true, mbap(2, 1, modbus.AppendWriteSingleRegister(nil, 300, 1))))
	})
	alerts, _ := run(t, w, detect.Config{Baseline: edited})
	if len(alerts) != 1 || alerts[0].Detection != "address_range" || alerts[0].Evidence[0].Objects[0].Start != 300 {
		t.Fatalf("after edit: %v", names(alerts))
	}
	// A broken hand edit is reported with its code.
	os.WriteFile(path, []byte(`{"version":1,"assets":[{"ip":"10.0.0.300"}],"connections":[]}`), 0o644)
	if _, err := detect.LoadBaseline(path); errcode.Of(err) != errcode.DetectBaselineFormat {
		t.Fatalf("bad baseline: %v", err)
	}
	// An unusual rate: ten times the learned peak.
	fast := capture(t, "fast.pcap", t0+int64(2*time.Hour), func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40002), netip.AddrPortFrom(plc, 502))
		must(t, err)
		w.Step = int64(time.Millisecond)
		var tid uint16
		for range 600 {
			tid++
			must(t, c.Send(true, mbap(tid, 1, modbus.AppendReadRequest(nil, modbus.FunctionCode(3), 0, 10))))
		}
	})
	alerts, _ = run(t, fast, detect.Config{Baseline: b})
	if r := wantAlert(t, alerts, "unusual_rate", "T0814"); r.Count != 600 || len(alerts) != 1 {
		t.Fatalf("rate %+v, all %v", r, names(alerts))
	}
}

// TestSuppress: a suppression keeps a detection from raising alerts about
// one client's traffic — the windowed identity scan and an indicator —
// while the same traffic from another client still raises them; bad
// suppressions are refused with their positions.
func TestSuppress(t *testing.T) {
	gateway := netip.MustParseAddr("10.0.0.5")
	path := capture(t, "suppress.pcap", 0, func(w *synth.Writer) {
		for _, cli := range []netip.Addr{gateway, attacker} {
			for i := range 6 {
				target := netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)})
				c, err := w.TCP(netip.AddrPortFrom(cli, uint16(51000+i)), netip.AddrPortFrom(target, 502))
				must(t, err)
				must(t, c.Send(true, mbap(1, 1, modbus.AppendReadDeviceIDRequest(nil, 1, 0))))
				if i == 0 {
					must(t, c.Send(true, mbap(2, 1, []byte{8, 0, 1, 0, 0}))) // restart
				}
			}
		}
	})
	rs, err := detect.ParseRules([]byte(`suppress:
  - detection: identity_scan
    client: 10.0.0.5
    reason: the gateway reads every PLC's identity when it connects
  - detection: "*"
    client: 10.0.0.0/29
    reason: the gateway's subnet is trusted for everything
`), "suppress.yaml")
	if err != nil || rs.Len() != 0 || rs.Suppressions() != 2 {
		t.Fatalf("%v, %d rules, %d suppressions", err, rs.Len(), rs.Suppressions())
	}
	for _, cfg := range []struct {
		rules *detect.Rules
		want  map[string]int // alerts per detection naming the gateway
	}{{nil, map[string]int{"identity_scan": 1, "device_restart": 1}}, {rs, map[string]int{}}} {
		alerts, _ := run(t, path, detect.Config{Rules: cfg.rules})
		got := map[string]int{}
		attackerSeen := map[string]bool{}
		for _, a := range alerts {
			if slices.Contains(a.Assets, gateway.String()) && a.Assets[0] == gateway.String() {
				got[a.Detection]++
			}
			if a.Assets[0] == attacker.String() {
				attackerSeen[a.Detection] = true
			}
		}
		for _, d := range []string{"identity_scan", "device_restart"} {
			if got[d] != cfg.want[d] {
				t.Errorf("rules %v: %d %s alerts of the gateway, want %d", cfg.rules != nil, got[d], d, cfg.want[d])
			}
			if !attackerSeen[d] {
				t.Errorf("rules %v: no %s alert of the attacker: %v", cfg.rules != nil, d, names(alerts))
			}
		}
	}

	// The file's summary counts what was suppressed.
	fs, err := analyze.File(t.Context(), path, analyze.Options{Observers: func(file string) []analyze.Observer {
		return []analyze.Observer{detect.New(detect.Config{Rules: rs, File: file})}
	}})
	if err != nil || fs.Suppressed != 2 {
		t.Errorf("summary: %d suppressed (want the gateway's scan and restart), %v", fs.Suppressed, err)
	}

	_, err = detect.ParseRules([]byte(`suppress:
  - detection: nosuch
    client: 10.0.0.5
    reason: x
  - detection: identity_scan
    reason: everyone
  - detection: rule:absent
    client: 10.0.0.500
    reason: y
  - detection: port_scan
    client: 10.0.0.6
  - {detection: port_scan, client: 10.0.0.6, reason: z, colour: red}
`), "bad.yaml")
	msg := fmt.Sprint(err)
	if strings.Contains(msg, "rule:absent without client") {
		t.Errorf("a bad client is reported as a missing one too:\n%s", msg)
	}
	for _, want := range []string{`bad.yaml:2:16: detection "nosuch"`, "bad.yaml:5:5: suppression of identity_scan without client",
		`bad.yaml:7:16: detection "rule:absent"`, `bad.yaml:8:13: client "10.0.0.500"`, "bad.yaml:10:5: suppression of port_scan without reason",
		`bad.yaml:12:57: unknown key "colour"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if errcode.Of(err) != errcode.DetectRuleInvalid {
		t.Errorf("code of %v", err)
	}
}

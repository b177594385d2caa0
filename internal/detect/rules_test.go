package detect_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

package detect

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

var (
	lHMI  = netip.MustParseAddr("10.0.0.10")
	lPLC  = netip.MustParseAddr("10.0.0.20")
	lScan = netip.MustParseAddr("10.0.0.66")
	lT0   = time.Unix(1_700_000_000, 0).UTC()
)

// clock is the fake clock of the live tests: the test advances it and
// evaluates at it.
type clock struct{ now time.Time }

func (c *clock) step(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

// probe ends the flow of one SYN answered by RST from scanner to port of
// target, at time t.
func probe(e *Engine, scanner, target netip.Addr, port uint16, t time.Time) {
	f := &flow.Flow{T: dissect.TCP, Client: netip.AddrPortFrom(scanner, 40000+port), Server: netip.AddrPortFrom(target, port),
		First: t.UnixNano(), Last: t.UnixNano(), Packets: [2]uint64{1, 1}, Flags: [2]uint8{flow.SYN, flow.RST | flow.ACK}}
	e.FlowEnd(f)
}

func mbFlow() *flow.Flow {
	return &flow.Flow{T: dissect.TCP, Proto: "modbus", Client: netip.AddrPortFrom(lHMI, 40000), Server: netip.AddrPortFrom(lPLC, 502)}
}

func read(e *Engine, t time.Time) {
	e.PDU(mbFlow(), &dissect.PDU{Proto: "modbus", Function: 3, Name: "Read Holding Registers", Request: true, Action: dissect.ActRead,
		Objects: []dissect.Object{{Space: "holding", Start: 0, Count: 10}}, Meta: dissect.Meta{Time: t.UnixNano(), Dir: dissect.ToServer, T: dissect.TCP}})
}

func count(alerts []*Alert, det string) int {
	n := 0
	for _, a := range alerts {
		if a.Detection == det {
			n++
		}
	}
	return n
}

func TestEvaluatePortScanOnceAndRearm(t *testing.T) {
	e := New(Config{})
	c := &clock{lT0}
	var got []*Alert
	// 30 ports, one every 2 s: the threshold (20 in 60 s) is crossed
	// after ~40 s of scanning, while the engine is evaluated every second.
	for port := uint16(1); port <= 30; port++ {
		probe(e, lScan, lPLC, port, c.now)
		got = append(got, e.Evaluate(c.step(time.Second))...)
		got = append(got, e.Evaluate(c.step(time.Second))...)
	}
	if n := count(got, "port_scan"); n != 1 {
		t.Fatalf("port scan raised %d times: %v", n, got)
	}
	a := got[0]
	if a.Assets[0] != lScan.String() || a.Count < 20 || a.Severity != High {
		t.Fatalf("port scan alert %+v", a)
	}
	// A slow continuation keeps the incident open: no new alert.
	for i := range 5 {
		probe(e, lScan, lPLC, uint16(100+i), c.step(30*time.Second))
		if l := e.Evaluate(c.now); len(l) != 0 {
			t.Fatalf("continued scan raised %v", l)
		}
	}
	if a.Count < 25 {
		t.Fatalf("continued scan did not extend the alert: count %d", a.Count)
	}
	// Quiet for more than the window: the same scan raises a new alert.
	for range 90 {
		if l := e.Evaluate(c.step(time.Second)); len(l) != 0 {
			t.Fatalf("quiet period raised %v", l)
		}
	}
	got = nil
	for port := uint16(200); port < 225; port++ {
		probe(e, lScan, lPLC, port, c.step(time.Second))
		got = append(got, e.Evaluate(c.now)...)
	}
	if count(got, "port_scan") != 1 || got[0].ID == a.ID {
		t.Fatalf("re-armed scan: %v (first %s)", got, a.ID)
	}
	// Everything pruned once quiet: nothing is tracked.
	e.Evaluate(c.step(time.Hour))
	if s := e.Stats(); s.Windows != 0 || s.Rates != 0 {
		t.Fatalf("state left after an hour of quiet: %+v", s)
	}
}

func TestEvaluateBelowThreshold(t *testing.T) {
	e := New(Config{})
	c := &clock{lT0}
	// 19 ports per minute forever (one every ~3.2 s): never 20 in a window.
	for i := range 200 {
		probe(e, lScan, lPLC, uint16(i+1), c.step(3200*time.Millisecond))
		if l := e.Evaluate(c.now); len(l) != 0 {
			t.Fatalf("slow scan below threshold raised %v", l)
		}
	}
	if s := e.Stats(); s.Windows != 1 {
		t.Fatalf("windows %+v", s)
	}
}

func TestEvaluateExceptionStorm(t *testing.T) {
	e := New(Config{})
	c := &clock{lT0}
	var got []*Alert
	for i := range 40 {
		e.PDU(mbFlow(), &dissect.PDU{Proto: "modbus", Function: 3, Response: true, Exception: 2,
			Meta: dissect.Meta{Time: c.now.UnixNano(), Frame: uint64(i + 1), Dir: dissect.ToClient, T: dissect.TCP}})
		got = append(got, e.Evaluate(c.step(500*time.Millisecond))...)
		if i == 18 && len(got) != 0 {
			t.Fatalf("storm raised below threshold: %v", got)
		}
	}
	if len(got) != 1 || got[0].Detection != "exception_storm" || got[0].Assets[0] != lPLC.String() || got[0].Count < 20 {
		t.Fatalf("storm alerts %v", got)
	}
}

func rateBaseline(t *testing.T) *Baseline {
	t.Helper()
	b := &Baseline{Version: BaselineVersion, Assets: []BaseAsset{{IP: lHMI.String()}, {IP: lPLC.String()}},
		Connections: []Connection{{Client: lHMI.String(), Server: lPLC.String(), Proto: "modbus", Requests: 600, PeakPerMinute: 12,
			Functions: []Function{{Code: 3, Action: "read", Count: 600}}}}}
	if err := b.index(); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEvaluateUnusualRateLive(t *testing.T) {
	e := New(Config{Baseline: rateBaseline(t)})
	c := &clock{lT0}
	var got []*Alert
	// Normal: one read every 5 s (12 a minute) for five minutes.
	for range 60 {
		read(e, c.now)
		got = append(got, e.Evaluate(c.step(5*time.Second))...)
	}
	if len(got) != 0 {
		t.Fatalf("normal polling raised %v", got)
	}
	// A burst: 5 reads a second. The limit is max(30, 3×12+1) = 37 a
	// minute: not reached after 4 s (20 + at most 12 earlier reads), then
	// raised while the burst goes on, once.
	for range 30 {
		for range 5 {
			read(e, c.now)
		}
		got = append(got, e.Evaluate(c.step(time.Second))...)
		if len(got) > 0 && c.now.Sub(lT0) <= 5*time.Minute+4*time.Second {
			t.Fatalf("raised before the limit: %v", got)
		}
	}
	if len(got) != 1 || got[0].Detection != "unusual_rate" || got[0].Count < 37 || len(got[0].Evidence) == 0 {
		t.Fatalf("unusual rate alerts %v", got)
	}
	first := got[0]
	if first.Count < 150 || first.Count > 150+12 {
		t.Fatalf("busiest minute %d, want 150 and the polls of the minute", first.Count)
	}
	// Back to normal for two minutes, then another burst: a new alert.
	got = nil
	for range 24 {
		read(e, c.now)
		got = append(got, e.Evaluate(c.step(5*time.Second))...)
	}
	for range 20 {
		for range 5 {
			read(e, c.now)
		}
		got = append(got, e.Evaluate(c.step(time.Second))...)
	}
	if len(got) != 1 || got[0].ID == first.ID {
		t.Fatalf("second burst: %v", got)
	}
}

func TestEvaluateCaps(t *testing.T) {
	e := New(Config{Thresholds: Thresholds{MaxKeys: 64, MaxAlerts: 16}})
	c := &clock{lT0}
	// 1000 spoofed scanners, one probe each: one window each.
	for i := range 1000 {
		src := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		probe(e, src, lPLC, 80, c.step(10*time.Millisecond))
	}
	e.Evaluate(c.now)
	s := e.Stats()
	if s.Windows > 64 || s.Evicted < 1000-64 {
		t.Fatalf("window cap: %+v", s)
	}
	// 100 scanners each scanning: 100 alerts, of which at most MaxAlerts
	// stay tracked once returned.
	var n int
	for i := range 100 {
		src := netip.AddrFrom4([4]byte{10, 2, 0, byte(i)})
		for port := uint16(1); port <= 20; port++ {
			probe(e, src, lPLC, port, c.now)
		}
		n += count(e.Evaluate(c.step(time.Millisecond)), "port_scan")
	}
	if n != 100 {
		t.Fatalf("%d port scans raised, want 100", n)
	}
	if s := e.Stats(); s.Alerts > 16 || s.Windows > 64 {
		t.Fatalf("alert cap: %+v", s)
	}
}

func TestAlertsFileSemantics(t *testing.T) {
	// A file: nothing evaluated until the end, then every window once.
	e := New(Config{})
	for i := range 3 {
		scanner := netip.AddrFrom4([4]byte{10, 3, 0, byte(i)})
		for port := uint16(1); port <= 25; port++ {
			probe(e, scanner, lPLC, port, lT0.Add(time.Duration(i)*time.Hour+time.Duration(port)*time.Second))
		}
	}
	l := e.Alerts()
	if count(l, "port_scan") != 3 {
		t.Fatalf("file alerts %v", l)
	}
	for i, a := range l {
		if want := fmt.Sprintf("port_scan-%d", i+1); a.ID != want {
			t.Fatalf("alert %d id %s, want %s", i, a.ID, want)
		}
	}
}

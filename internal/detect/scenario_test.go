package detect_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/detect"
	_ "github.com/otlink/otlink/internal/dissect/all"
	"github.com/otlink/otlink/internal/proto/modbus"
)

var (
	hmi      = netip.MustParseAddr("10.0.0.10")
	plc      = netip.MustParseAddr("10.0.0.20")
	attacker = netip.MustParseAddr("10.0.0.66")
)

// capture writes a pcap made by fn and returns its path.
func capture(t *testing.T, name string, start int64, fn func(w *synth.Writer)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	if start != 0 {
		w.Time = start
	}
	fn(w)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mbap frames a Modbus PDU.
func mbap(tid uint16, unit uint8, pdu []byte) []byte {
	b := modbus.AppendMBAP(nil, tid, unit, len(pdu))
	b = append(b, pdu...)
	modbus.FinishMBAP(b)
	return b
}

// poll writes an HMI polling holding registers 0..9 of the PLC once a
// second, n times; the clock advances one second per poll.
func poll(t *testing.T, w *synth.Writer, c *synth.Conn, tid *uint16, n int) {
	t.Helper()
	regs := make([]byte, 20)
	for i := 0; i < n; i++ {
		*tid++
		must(t, c.Send(true, mbap(*tid, 1, modbus.AppendReadRequest(nil, modbus.FunctionCode(3), 0, 10))))
		must(t, c.Send(false, mbap(*tid, 1, modbus.AppendReadResponse(nil, modbus.FunctionCode(3), regs))))
		w.Time += int64(time.Second)
	}
}

// run analyses a file with an inventory and an engine.
func run(t *testing.T, path string, cfg detect.Config) ([]*detect.Alert, []asset.Asset) {
	t.Helper()
	var eng *detect.Engine
	var inv *asset.Inventory
	_, err := analyze.File(context.Background(), path, analyze.Options{Observers: func(file string) []analyze.Observer {
		inv = asset.New()
		c := cfg
		c.Roles, c.File = inv, file
		eng = detect.New(c)
		return []analyze.Observer{inv, eng}
	}})
	if err != nil {
		t.Fatal(err)
	}
	return eng.Alerts(), inv.Assets()
}

func learn(t *testing.T, paths ...string) *detect.Baseline {
	t.Helper()
	l := detect.NewLearner()
	if _, err := analyze.Files(context.Background(), paths, analyze.Options{Observers: l.ForFile}); err != nil {
		t.Fatal(err)
	}
	return l.Baseline()
}

// find returns the alerts of a detection.
func find(alerts []*detect.Alert, det string) []*detect.Alert {
	var out []*detect.Alert
	for _, a := range alerts {
		if a.Detection == det {
			out = append(out, a)
		}
	}
	return out
}

func wantAlert(t *testing.T, alerts []*detect.Alert, det, technique string) *detect.Alert {
	t.Helper()
	l := find(alerts, det)
	if len(l) == 0 {
		t.Fatalf("no %s alert; got %v", det, names(alerts))
	}
	a := l[0]
	if !slices.Contains(a.Techniques, technique) {
		t.Fatalf("%s techniques %v, want %s", det, a.Techniques, technique)
	}
	if len(a.Frames) == 0 || len(a.Evidence) == 0 || a.Count == 0 || len(a.Assets) == 0 || a.Time.IsZero() {
		t.Fatalf("%s alert without evidence: %+v", det, a)
	}
	return a
}

func names(alerts []*detect.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Detection+":"+strings.Join(a.Assets, ","))
	}
	return out
}

const t0 = int64(1_700_000_000_000_000_000)

// normal writes polling of n seconds starting at start.
func normal(t *testing.T, name string, start int64, n int) string {
	return capture(t, name, start, func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40000), netip.AddrPortFrom(plc, 502))
		must(t, err)
		var tid uint16
		poll(t, w, c, &tid, n)
	})
}

func TestCleanAfterLearning(t *testing.T) {
	first := normal(t, "first.pcap", t0, 120)
	second := normal(t, "second.pcap", t0+int64(120*time.Second), 120)
	b := learn(t, first)
	if len(b.Connections) != 1 || b.Connections[0].Proto != "modbus" || len(b.Connections[0].Functions) != 1 {
		t.Fatalf("baseline %+v", b.Connections)
	}
	fn := b.Connections[0].Functions[0]
	if fn.Code != 3 || fn.Action != "read" || len(fn.Ranges) != 1 || fn.Ranges[0] != (detect.Range{Space: "holding", Start: 0, End: 9}) {
		t.Fatalf("function %+v", fn)
	}
	alerts, assets := run(t, second, detect.Config{Baseline: b})
	if len(alerts) != 0 {
		t.Fatalf("clean capture after learning raised %v", names(alerts))
	}
	if len(assets) != 2 {
		t.Fatalf("assets %+v", assets)
	}
	for _, a := range assets {
		want := map[string]asset.Role{hmi.String(): asset.HMI, plc.String(): asset.Controller}[a.IP]
		if a.Role != want {
			t.Errorf("%s role %s (%s), want %s", a.IP, a.Role, a.RoleReason, want)
		}
	}
}

func TestUnauthorisedWrite(t *testing.T) {
	b := learn(t, normal(t, "learn.pcap", t0, 60))
	path := capture(t, "write.pcap", t0+int64(time.Hour), func(w *synth.Writer) {
		c, err := w.TCP(netip.AddrPortFrom(hmi, 40001), netip.AddrPortFrom(plc, 502))
		must(t, err)
		var tid uint16
		poll(t, w, c, &tid, 5)
		// The HMI, which only ever read, writes register 150.
		must(t, c.Send(true, mbap(99, 1, modbus.AppendWriteSingleRegister(nil, 150, 4242))))
		must(t, c.Send(false, mbap(99, 1, modbus.AppendWriteResponse(nil, modbus.FunctionCode(6), 150, 4242))))
		// A host never seen writes too.
		a, err := w.TCP(netip.AddrPortFrom(attacker, 50000), netip.AddrPortFrom(plc, 502))
		must(t, err)
		must(t, a.Send(true, mbap(1, 1, modbus.AppendWriteSingleRegister(nil, 3, 0))))
		must(t, a.Send(false, mbap(1, 1, modbus.AppendWriteResponse(nil, modbus.FunctionCode(6), 3, 0))))
	})
	alerts, _ := run(t, path, detect.Config{Baseline: b})
	w := wantAlert(t, alerts, "new_writer", "T0855")
	if w.Severity != detect.High || len(find(alerts, "new_writer")) != 2 {
		t.Fatalf("new_writer %v", names(find(alerts, "new_writer")))
	}
	wantAlert(t, alerts, "new_function", "T0855")
	wantAlert(t, alerts, "new_asset", "T0864")
	nc := wantAlert(t, alerts, "new_connection", "T0848")
	if nc.Assets[0] != attacker.String() {
		t.Fatalf("new connection assets %v", nc.Assets)
	}
	ev := find(alerts, "new_writer")[0].Evidence[0]
	if ev.Function != 6 || ev.Action != "write" || len(ev.Objects) != 1 || ev.Objects[0].Start != 150 {
		t.Fatalf("evidence %+v", ev)
	}
	// The same capture without a baseline raises no write alert: writes
	// are normal until learning says otherwise.
	alerts, _ = run(t, path, detect.Config{})
	if len(alerts) != 0 {
		t.Fatalf("without baseline: %v", names(alerts))
	}
}

// s7 frames an S7comm job with TPKT and COTP DT.
func s7job(pdu uint16, param []byte) []byte {
	b := []byte{3, 0, 0, 0, 2, 0xf0, 0x80, 0x32, 1, 0, 0, byte(pdu >> 8), byte(pdu), byte(len(param) >> 8), byte(len(param)), 0, 0}
	b = append(b, param...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func s7ack(pdu uint16, fn byte) []byte {
	b := []byte{3, 0, 0, 0, 2, 0xf0, 0x80, 0x32, 3, 0, 0, byte(pdu >> 8), byte(pdu), 0, 1, 0, 0, 0, 0, fn}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// s7session opens ISO-on-TCP and S7 setup from the engineering station.
func s7session(t *testing.T, w *synth.Writer, client netip.Addr) *synth.Conn {
	t.Helper()
	c, err := w.TCP(netip.AddrPortFrom(client, 49000), netip.AddrPortFrom(plc, 102))
	must(t, err)
	cr := []byte{3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 10}
	cc := slices.Clone(cr)
	cc[5] = 0xd0
	must(t, c.Send(true, cr))
	must(t, c.Send(false, cc))
	must(t, c.Send(true, s7job(1, []byte{0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0})))
	must(t, c.Send(false, []byte{3, 0, 0, 27, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0}))
	return c
}

func TestPLCStop(t *testing.T) {
	path := capture(t, "stop.pcap", 0, func(w *synth.Writer) {
		c := s7session(t, w, hmi)
		must(t, c.Send(true, s7job(2, append([]byte{0x29, 0, 0, 0, 0, 0, 9}, "P_PROGRAM"...))))
		must(t, c.Send(false, s7ack(2, 0x29)))
	})
	alerts, assets := run(t, path, detect.Config{})
	a := wantAlert(t, alerts, "plc_stop", "T0858")
	if a.Count != 1 || a.Evidence[0].Function != 0x29 || a.Assets[0] != hmi.String() || a.Assets[1] != plc.String() {
		t.Fatalf("stop alert %+v", a)
	}
	for _, x := range assets {
		if x.IP == hmi.String() && x.Role != asset.Engineering {
			t.Fatalf("engineering station role %s", x.Role)
		}
	}
	// The pcap slice holds the evidence frame.
	dir := t.TempDir()
	must(t, detect.WriteSlices(context.Background(), path, alerts, dir))
	if a.Pcap == "" {
		t.Fatal("no slice written")
	}
	sl, _ := run(t, a.Pcap, detect.Config{})
	if len(find(sl, "plc_stop")) != 1 {
		t.Fatalf("slice %s does not show the stop: %v", a.Pcap, names(sl))
	}
}

func TestProgramDownload(t *testing.T) {
	path := capture(t, "download.pcap", 0, func(w *synth.Writer) {
		c := s7session(t, w, hmi)
		// Request download of OB1: function 0x1a, then the block name.
		par := append([]byte{0x1a, 0, 1, 0, 0, 0, 0, 0, 9}, "_0800001P"...)
		par = append(par, 0x0d, '1', '0', '0', '0', '1', '2', '0', '0', '0', '0', '0', '6', '0')
		must(t, c.Send(true, s7job(2, par)))
		must(t, c.Send(false, s7ack(2, 0x1a)))
	})
	alerts, _ := run(t, path, detect.Config{})
	wantAlert(t, alerts, "program_download", "T0843")
}

func TestIdentityScan(t *testing.T) {
	path := capture(t, "ident.pcap", 0, func(w *synth.Writer) {
		for i := range 6 {
			target := netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)})
			c, err := w.TCP(netip.AddrPortFrom(attacker, uint16(51000+i)), netip.AddrPortFrom(target, 502))
			must(t, err)
			must(t, c.Send(true, mbap(1, 1, modbus.AppendReadDeviceIDRequest(nil, 1, 0))))
			must(t, c.Send(false, mbap(1, 1, modbus.AppendReadDeviceIDResponse(nil, 1, 1, false, 0,
				[]modbus.DeviceObject{{ID: 0, Value: []byte("Acme")}, {ID: 1, Value: []byte("PLC-9")}, {ID: 2, Value: []byte("v1.2")}}))))
		}
	})
	alerts, assets := run(t, path, detect.Config{})
	a := wantAlert(t, alerts, "identity_scan", "T0846")
	if !slices.Contains(a.Techniques, "T0888") || len(a.Assets) < 5 || a.Assets[0] != attacker.String() {
		t.Fatalf("identity scan %+v", a)
	}
	id := 0
	for _, x := range assets {
		if x.Identity["vendor"] == "Acme" {
			id++
		}
	}
	if id != 6 {
		t.Fatalf("identity merged into %d assets: %+v", id, assets)
	}
}

func TestPortScan(t *testing.T) {
	path := capture(t, "scan.pcap", 0, func(w *synth.Writer) {
		for port := uint16(1); port <= 30; port++ {
			c, err := w.TCP(netip.AddrPortFrom(attacker, 60000+port), netip.AddrPortFrom(plc, port))
			must(t, err)
			must(t, c.Segment(true, 0x14, c.Seq(true), c.Seq(false), nil)) // RST|ACK: a connect scan
		}
	})
	alerts, _ := run(t, path, detect.Config{})
	a := wantAlert(t, alerts, "port_scan", "T0846")
	if a.Severity != detect.High || a.Assets[0] != attacker.String() || a.Count < 20 {
		t.Fatalf("port scan %+v", a)
	}
	// An address sweep: the same host talks Modbus to ten hosts.
	path = capture(t, "sweep.pcap", 0, func(w *synth.Writer) {
		for i := range 10 {
			c, err := w.TCP(netip.AddrPortFrom(attacker, uint16(52000+i)), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)}), 502))
			must(t, err)
			must(t, c.Send(true, mbap(1, 1, modbus.AppendReadRequest(nil, modbus.FunctionCode(3), 0, 1))))
			must(t, c.Send(false, mbap(1, 1, modbus.AppendReadResponse(nil, modbus.FunctionCode(3), []byte{0, 0}))))
		}
	})
	alerts, _ = run(t, path, detect.Config{})
	wantAlert(t, alerts, "address_sweep", "T0846")
}

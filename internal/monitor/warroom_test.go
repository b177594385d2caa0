package monitor

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/monitor/view"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

var (
	hmi     = netip.MustParseAddr("10.0.0.10")
	plc     = netip.MustParseAddr("10.0.0.20")
	rogue   = netip.MustParseAddr("10.0.0.66")
	evilVen = "<script>alert(1)</script>"
	evilPrd = `"><img src=x onerror=alert(2)>`
)

// fed counts the frames written per protocol label.
type fed map[string]int

func adu(tid uint16, pdu []byte) []byte {
	return append(mb.AppendMBAP(nil, tid, 1, len(pdu)), pdu...)
}

// writeScenario writes a capture: the HMI polls the PLC (5 reads) and
// asks its identity, which the PLC answers with hostile strings; a rogue
// host writes a register; one UDP datagram goes to a port no dissector
// claims.
func writeScenario(t *testing.T, path string) fed {
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
	n := fed{}
	mark := w.Frames()
	c, err := w.TCP(netip.AddrPortFrom(hmi, 40001), netip.AddrPortFrom(plc, 502))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c.Send(true, adu(uint16(i), mb.AppendReadRequest(nil, mb.FuncReadHoldingRegisters, 100, 2)))
		c.Send(false, adu(uint16(i), mb.AppendReadResponse(nil, mb.FuncReadHoldingRegisters, []byte{0, 1, 0, 2})))
	}
	c.Send(true, adu(9, mb.AppendReadDeviceIDRequest(nil, mb.DeviceIDBasic, 0)))
	c.Send(false, adu(9, mb.AppendReadDeviceIDResponse(nil, mb.DeviceIDBasic, 0x81, false, 0, []mb.DeviceObject{
		{ID: 0, Value: []byte(evilVen)}, {ID: 1, Value: []byte(evilPrd)}, {ID: 2, Value: []byte("v1")}})))
	c.Close()
	r, err := w.TCP(netip.AddrPortFrom(rogue, 40002), netip.AddrPortFrom(plc, 502))
	if err != nil {
		t.Fatal(err)
	}
	r.Send(true, adu(1, mb.AppendWriteSingleRegister(nil, 7, 4242)))
	r.Send(false, adu(1, mb.AppendWriteResponse(nil, mb.FuncWriteSingleRegister, 7, 4242)))
	n["modbus"] = w.Frames() - mark
	mark = w.Frames()
	w.UDP(netip.AddrPortFrom(hmi, 5000), netip.AddrPortFrom(plc, 9999), []byte("hello"))
	n["udp"] = w.Frames() - mark
	return n
}

// baseline allows the HMI's reads only.
func writeBaseline(t *testing.T, path string) {
	t.Helper()
	b := `{"version":1,"assets":[{"ip":"10.0.0.10"},{"ip":"10.0.0.20"}],"connections":[{"client":"10.0.0.10","server":"10.0.0.20","proto":"modbus",
"requests":5,"peak_per_minute":100,"functions":[{"code":3,"name":"Read Holding Registers","action":"read","count":5},{"code":43,"action":"identify","count":1}]}]}`
	if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

type auditLog struct {
	mu sync.Mutex
	l  []integrity.Entry
}

func (a *auditLog) add(_ context.Context, e integrity.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.l = append(a.l, e)
	return nil
}

func (a *auditLog) has(action, object string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.l {
		if e.Action == action && e.Object == object {
			return true
		}
	}
	return false
}

// replay starts a monitor whose one interface is the capture file.
func replay(t *testing.T, pcap, base, data string, audit *auditLog) *Monitor {
	t.Helper()
	cfg := config.Monitor{Interfaces: []config.MonitorInterface{{Name: "replay"}}, Baseline: base}
	open := func(config.MonitorInterface) (capture.Source, error) { return capture.OpenFile(pcap) }
	m, err := Start(context.Background(), cfg, Options{DataDir: data, Open: open, Audit: audit.add, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitFor polls cond every 20 ms for at most 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 750 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s after 15 s", what)
}

func alertOf(l []view.Alert, det string) *view.Alert {
	for i := range l {
		if l[i].Detection == det {
			return &l[i]
		}
	}
	return nil
}

func TestReplayWarRoom(t *testing.T) {
	dir := t.TempDir()
	pcap, base := filepath.Join(dir, "s.pcap"), filepath.Join(dir, "baseline.json")
	want := writeScenario(t, pcap)
	writeBaseline(t, base)
	total := want["modbus"] + want["udp"]
	audit := &auditLog{}
	m := replay(t, pcap, base, dir, audit)
	defer m.Close()
	waitFor(t, "replayed packets", func() bool { return m.Stats().Packets == uint64(total) })
	waitFor(t, "new_writer alert", func() bool { return alertOf(m.Alerts("", 0), "new_writer") != nil })

	// Rates: every packet counted under its flow's protocol, and the
	// last minute's series holds them all.
	m.setClock(func() time.Time { return time.Now().Add(2 * time.Second) })
	r := m.Rates()
	got := map[string]view.ProtoRate{}
	for _, p := range r.Protos {
		got[p.Proto] = p
	}
	for label, n := range want {
		p := got[label]
		var s uint64
		for _, x := range p.Series {
			s += x
		}
		if p.Packets != uint64(n) || s != uint64(n) {
			t.Errorf("%s: %d packets, series sum %d, fed %d", label, p.Packets, s, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("labels %v, want %v", got, want)
	}

	// The map: two edges to the PLC in one zone, with their functions.
	mp := m.Map()
	if len(mp.Zones) != 1 || mp.Zones[0].Name != "10.0.0.0/24" || len(mp.Zones[0].Hosts) != 3 {
		t.Fatalf("zones %+v", mp.Zones)
	}
	fns := map[string]map[uint32]uint64{}
	for _, e := range mp.Edges {
		k := e.Client + ">" + e.Server + " " + strings.Join(e.Protos, ",")
		if e.Client == hmi.String() && strings.Join(e.Protos, ",") != "modbus,udp" {
			t.Errorf("HMI edge protocols %v", e.Protos)
		}
		fns[k] = map[uint32]uint64{}
		for _, f := range e.Functions {
			fns[k][f.Code] += f.Count
		}
	}
	if f := fns["10.0.0.10>10.0.0.20 modbus,udp"]; f[3] != 10 || f[43] != 2 {
		t.Errorf("HMI edge functions %v (edges %v)", f, fns)
	}
	if f := fns["10.0.0.66>10.0.0.20 modbus"]; f[6] != 2 {
		t.Errorf("rogue edge functions %v", f)
	}
	if tk := m.Talkers(1); len(tk) != 1 || tk[0].IP != plc.String() || tk[0].Peers != 2 {
		t.Errorf("top talker %+v", tk)
	}

	// The asset table carries the identity the PLC sent, as sent: the
	// page escapes it (internal/web tests).
	var plcAsset *view.Asset
	for _, a := range m.Assets() {
		if a.IP == plc.String() {
			plcAsset = &a
		}
	}
	if plcAsset == nil || plcAsset.Identity["vendor"] != evilVen || plcAsset.Flows != 3 || plcAsset.Zone != "10.0.0.0/24" {
		t.Fatalf("PLC asset %+v", plcAsset)
	}

	// Drill-down: the rogue host's flow and its PDUs.
	fl, err := m.AssetFlows(rogue.String())
	if err != nil || len(fl) != 1 || fl[0].Proto != "modbus" || fl[0].Client != "10.0.0.66:40002" {
		t.Fatalf("rogue flows %+v %v", fl, err)
	}
	_, pdus, err := m.FlowPDUs(fl[0].ID)
	if err != nil || len(pdus) != 2 || pdus[0].Function != 6 || pdus[0].Dir != "request" || pdus[0].Action != "write" ||
		len(pdus[0].Objects) != 1 || pdus[0].Objects[0].Start != 7 || pdus[1].Dir != "response" {
		t.Fatalf("rogue PDUs %+v %v", pdus, err)
	}
	if _, err := m.AssetFlows("10.9.9.9"); err == nil {
		t.Error("flows of an unknown host")
	}
	if _, err := m.AssetFlows("not-an-ip"); err == nil {
		t.Error("flows of a bad address")
	}

	// The alert: severity, techniques, assets; audited; acknowledged.
	a := alertOf(m.Alerts("", 0), "new_writer")
	if a.Severity != "high" || a.State != view.StateNew || len(a.Assets) < 1 || a.Assets[0] != rogue.String() {
		t.Fatalf("alert %+v", a)
	}
	tech := false
	for _, x := range a.Techniques {
		tech = tech || x.ID == "T0855" && x.Name != ""
	}
	if !tech {
		t.Errorf("techniques %+v", a.Techniques)
	}
	waitFor(t, "audit entry", func() bool { return audit.has("alert", a.ID) })
	if _, err := m.SetAlertState(context.Background(), a.ID, "bogus", "ana", ""); err == nil {
		t.Error("bogus state accepted")
	}
	ack, err := m.SetAlertState(context.Background(), a.ID, view.StateAcknowledged, "ana", "looking into it")
	if err != nil || ack.State != view.StateAcknowledged || len(ack.Notes) != 1 || ack.Notes[0].User != "ana" {
		t.Fatalf("ack: %+v %v", ack, err)
	}
	if _, err := m.SetAlertState(context.Background(), a.ID, view.StateAcknowledged, "ana", ""); err == nil {
		t.Error("acknowledged twice")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart keeps the state and the note, and numbers new alerts on.
	m2 := replay(t, pcap, base, dir, &auditLog{})
	defer m2.Close()
	old := alertOf(m2.Alerts(view.StateAcknowledged, 0), "new_writer")
	if old == nil || old.ID != a.ID || len(old.Notes) != 1 || old.Notes[0].Text != "looking into it" {
		t.Fatalf("after restart: %+v", m2.Alerts("", 0))
	}
	waitFor(t, "second new_writer", func() bool { return alertOf(m2.Alerts(view.StateNew, 0), "new_writer") != nil })
	if nw := alertOf(m2.Alerts(view.StateNew, 0), "new_writer"); nw.ID == a.ID {
		t.Errorf("the new alert reused id %s", a.ID)
	}
}

// TestBadAlertFileMovedAside: an unreadable alerts.json does not stop
// monitoring, and is kept for a person to look at.
func TestBadAlertFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "s.pcap")
	writeScenario(t, pcap)
	os.MkdirAll(filepath.Join(dir, "monitor"), 0o750)
	os.WriteFile(filepath.Join(dir, AlertsFile), []byte("{not json"), 0o600)
	m := replay(t, pcap, "", dir, &auditLog{})
	defer m.Close()
	aside, _ := filepath.Glob(filepath.Join(dir, AlertsFile) + ".bad-*")
	if len(aside) != 1 {
		t.Fatalf("bad file not moved aside: %v", aside)
	}
	if len(m.Alerts("", 0)) != 0 {
		t.Error("alerts from a bad file")
	}
}

// TestLiveBounded: a scan of many flows keeps at most MaxFlows (busy
// flows are not evicted for newer ones), a flow arriving once the scan's
// flows are quiet takes a place, and a chatty flow keeps its last
// RecentPDUs PDUs, newest last.
func TestLiveBounded(t *testing.T) {
	l := newLive()
	clock := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return clock }
	for i := range 3 * MaxFlows {
		tf := &flow.Flow{ID: uint64(i + 1), T: dissect.TCP, Proto: "modbus",
			Client: netip.AddrPortFrom(rogue, uint16(1024+i)), Server: netip.AddrPortFrom(plc, 502)}
		tf.Key.PA = uint16(1024 + i)
		l.pdu(tf, &dissect.PDU{Proto: "modbus", Function: 3, Name: "Read Holding Registers", Identity: map[string]string{"vendor": strings.Repeat("x", 1000)}})
		if len(l.all) > MaxFlows {
			t.Fatalf("%d flows retained", len(l.all))
		}
	}
	if len(l.all) != MaxFlows {
		t.Fatalf("%d flows retained after the scan, want %d", len(l.all), MaxFlows)
	}
	tf := &flow.Flow{ID: 99999, T: dissect.TCP, Proto: "modbus", Client: netip.AddrPortFrom(hmi, 1), Server: netip.AddrPortFrom(plc, 502)}
	tf.Key.PA = 1
	l.pdu(tf, &dissect.PDU{Proto: "modbus", Function: 3})
	if _, ok := tf.User.(*vflow); ok {
		t.Fatal("a new flow evicted a busy one")
	}
	clock = clock.Add((evictIdle + 1) * time.Second) // the scan's flows are quiet now
	for i := range 3 * RecentPDUs {
		vals := make([]float64, 100)
		l.pdu(tf, &dissect.PDU{Proto: "modbus", Function: uint32(i), Meta: dissect.Meta{Frame: uint64(i)},
			Objects: []dissect.Object{{Values: vals}, {}, {}, {}, {}, {}}})
	}
	f := tf.User.(*vflow)
	m := &Monitor{live: l}
	_, pdus, err := m.FlowPDUs(f.id)
	if err != nil || len(pdus) != RecentPDUs || pdus[len(pdus)-1].Frame != 3*RecentPDUs-1 || pdus[0].Frame != 2*RecentPDUs {
		t.Fatalf("ring: %d PDUs, %v", len(pdus), err)
	}
	if len(pdus[0].Objects) != pduObjects || len(pdus[0].Objects[0].Values) != pduValues {
		t.Errorf("objects not bounded: %d, %d values", len(pdus[0].Objects), len(pdus[0].Objects[0].Values))
	}
	if len(f.fns) != maxFunctions {
		t.Errorf("%d functions kept", len(f.fns))
	}
	for _, g := range l.all {
		for _, p := range g.ring {
			for _, v := range p.Identity {
				if len(v) > identityLen {
					t.Fatalf("identity of %d bytes kept", len(v))
				}
			}
		}
	}
}

func TestZoneOf(t *testing.T) {
	for _, c := range []struct {
		ip   string
		vlan uint16
		want string
	}{{"10.1.2.3", 0, "10.1.2.0/24"}, {"10.1.2.3", 7, "VLAN 7 10.1.2.0/24"}, {"fd00::1:2", 0, "fd00::/64"}, {"::ffff:10.1.2.3", 0, "10.1.2.0/24"}} {
		if got := ZoneOf(netip.MustParseAddr(c.ip), c.vlan); got != c.want {
			t.Errorf("%s vlan %d: %q, want %q", c.ip, c.vlan, got, c.want)
		}
	}
}

// Configured zones name hosts by their networks, the first match wins,
// and hosts in none fall back to the subnet rule.
func TestConfiguredZones(t *testing.T) {
	m := &Monitor{zones: parseZones([]config.MonitorZone{
		{Name: "cell-1", Networks: []string{"10.1.2.0/25", "fd00:1::/64"}},
		{Name: "plant", Networks: []string{"10.1.0.0/16"}},
	})}
	for ip, want := range map[string]string{
		"10.1.2.3": "cell-1", "::ffff:10.1.2.3": "cell-1", "fd00:1::9": "cell-1",
		"10.1.2.200": "plant", "10.1.9.9": "plant", "192.168.0.7": "192.168.0.0/24",
	} {
		if got := m.zoneOf(netip.MustParseAddr(ip), 0); got != want {
			t.Errorf("%s: zone %q, want %q", ip, got, want)
		}
	}
}

var _ = detect.StateNew

// BenchmarkLivePacket reports the read model's cost per packet (the
// flow table's, then the retained flow's counters) on the scenario's
// frames.
func BenchmarkLivePacket(b *testing.B) {
	path := filepath.Join(b.TempDir(), "s.pcap")
	writeScenario(&testing.T{}, path)
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	var infos []capture.Info
	for {
		d, ci, err := src.Next()
		if err != nil {
			break
		}
		frames, infos = append(frames, append([]byte(nil), d...)), append(infos, ci)
	}
	src.Close()
	l := newLive()
	t := flow.NewTable(flow.Config{}, nopHandler{})
	b.ResetTimer()
	for i := range b.N {
		j := i % len(frames)
		tf, dir := t.PacketFlow(frames[j], infos[j], uint64(i+1))
		l.packet(tf, dir, infos[j])
	}
}

type nopHandler struct{}

func (nopHandler) PDU(*flow.Flow, *dissect.PDU) {}
func (nopHandler) FlowEnd(*flow.Flow)           {}

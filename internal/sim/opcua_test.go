package sim_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	_ "github.com/otlink/otlink/internal/driver/modbus"    // registers "modbus" for config.Validate
	_ "github.com/otlink/otlink/internal/driver/mtconnect" // registers "mtconnect"
	"github.com/otlink/otlink/internal/driver/opcua"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/uatrust"
)

// startUA starts a simulated OPC UA press at 50× speed that trusts the
// client certificate of the otlink data folder data, and makes that
// folder trust the press — the exchange `otlink certs trust` does.
func startUA(t *testing.T, data string, trust bool) *sim.UAMachine {
	t.Helper()
	st, err := uatrust.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	own, err := st.Own()
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := sim.UACert(t.TempDir(), "press-ua01")
	if err != nil {
		t.Fatal(err)
	}
	u := sim.NewUAMachine(sim.UAConfig{Name: "press-ua01", Line: "line1", Machine: sim.MachineConfig{Kind: sim.KindPress, Seed: 7},
		Speed: 50, Certificate: der, Key: key, TrustedClients: [][]byte{own.DER}})
	if err := u.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	if trust {
		if _, err := st.Add(u.Certificate(), uatrust.DirTrusted); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// connect opens the otlink OPC UA driver on the press, Basic256Sha256
// SignAndEncrypt, with the given data folder's certificate.
func connect(t *testing.T, u *sim.UAMachine, data string, tags map[string]model.Type) (*opcua.Driver, driver.Conn, []driver.Item, error) {
	t.Helper()
	opcua.SetDataDir(data)
	d := opcua.New()
	dev, _ := u.DemoMachine()
	spec := driver.DeviceSpec{Name: dev.Name, Endpoint: dev.Endpoint, Timeout: 5 * time.Second, Options: dev.Options}
	var items []driver.Item
	for name, typ := range tags {
		addr := u.NodeID(name)
		p, err := d.Resolve(spec, driver.TagSpec{Name: name, Address: addr, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, driver.Item{Point: p, Tag: name, Address: addr, Interval: 100 * time.Millisecond})
	}
	c, err := d.Open(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return d, nil, items, err
	}
	t.Cleanup(func() { c.Close() })
	return d, c, items, nil
}

// TestUAMachineSubscribeAndWrite: otlink's OPC UA client, on a
// SignAndEncrypt channel with certificates trusted both ways, receives
// changing values of the simulated press by subscription, and its write
// of the FeedOverride setpoint reaches the machine; values outside the
// range are refused by the server.
func TestUAMachineSubscribeAndWrite(t *testing.T) {
	data := t.TempDir()
	u := startUA(t, data, true)
	tags := map[string]model.Type{"State": model.Uint16, "Energy": model.Float64, "AmbientTemp": model.Float64, "FeedOverride": model.Uint16}
	_, c, items, err := connect(t, u, data, tags)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	sub, ok := c.(driver.Subscriber)
	if !ok {
		t.Fatal("opcua connection is not a Subscriber")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]map[model.Value]bool{}
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, items, func(up driver.Update) {
			if up.Quality != model.Good {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			tag := items[up.Item].Tag
			if seen[tag] == nil {
				seen[tag] = map[model.Value]bool{}
			}
			seen[tag][up.Value] = true
		})
	}()
	// Every tag arrives; the ambient temperature and the energy meter
	// change (at 50× speed each step of 100 ms is 5 s of the machine).
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		ok := len(seen) == len(tags) && len(seen["AmbientTemp"]) >= 3
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("after 15 s: %v", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}

	w, ok := c.(driver.Writer)
	if !ok {
		t.Fatal("opcua connection is not a Writer")
	}
	var fo driver.Item
	for _, it := range items {
		if it.Tag == "FeedOverride" {
			fo = it
		}
	}
	if err := w.Write(ctx, fo.Point, model.UintValue(model.Uint16, 120)); err != nil {
		t.Fatalf("write 120: %v", err)
	}
	if got := u.Values().FeedOverride; got != 120 {
		t.Fatalf("feed override %d after writing 120", got)
	}
	if err := w.Write(ctx, fo.Point, model.UintValue(model.Uint16, 250)); errcode.Of(err) != errcode.UANotWritable {
		t.Fatalf("write 250: %v, want %s", err, errcode.UANotWritable)
	}
	if got := u.Values().FeedOverride; got != 120 {
		t.Fatalf("feed override %d after a refused write", got)
	}
	// The write reaches subscribers too.
	deadline = time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ok := seen["FeedOverride"][model.UintValue(model.Uint16, 120)]
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the written override did not come back by subscription")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe did not return after its context ended")
	}
}

// TestUAMachineTrust: the client refuses the press until its certificate
// is trusted, and the press refuses a client whose certificate it does
// not trust.
func TestUAMachineTrust(t *testing.T) {
	data := t.TempDir()
	u := startUA(t, data, false)
	tags := map[string]model.Type{"State": model.Uint16}
	if _, _, _, err := connect(t, u, data, tags); errcode.Of(err) != errcode.UACertUntrusted {
		t.Fatalf("untrusted server: %v, want %s", err, errcode.UACertUntrusted)
	}

	other := t.TempDir() // a client the press does not know, which trusts the press
	st, err := uatrust.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(u.Certificate(), uatrust.DirTrusted); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = connect(t, u, other, tags)
	if err == nil {
		t.Fatal("the press accepted a client certificate it does not trust")
	}
	if c := errcode.Of(err); c != errcode.UASecurityRejected && c != errcode.UAConnection {
		t.Fatalf("untrusted client: %v", err)
	}
}

// TestUACertKept: UACert keeps the certificate, so a peer's trust lasts.
func TestUACertKept(t *testing.T) {
	dir := t.TempDir()
	a, _, err := sim.UACert(dir, "m1")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := sim.UACert(dir, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if uatrust.Thumbprint(a) != uatrust.Thumbprint(b) {
		t.Fatal("a second call made a new certificate")
	}
}

// TestPlantExtras: a plant with MTConnect CNCs and an OPC UA press gives
// a demo config that validates, with their devices on their lines, and
// Close frees their ports.
func TestPlantExtras(t *testing.T) {
	p, err := sim.Start(context.Background(), sim.PlantConfig{Lines: 2, Machines: 2, Seed: 3, CNCs: 1, UAMachines: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.CNCs()) != 2 || len(p.UAMachines()) != 1 {
		t.Fatalf("%d cncs, %d opcua machines", len(p.CNCs()), len(p.UAMachines()))
	}
	cfg := sim.DemoConfig(p)
	config.Defaults(cfg)
	if err := config.Validate(cfg); err != nil {
		t.Fatalf("demo config: %v", err)
	}
	drivers := map[string]string{}
	for _, d := range cfg.Devices {
		drivers[d.Name] = d.Driver
	}
	if drivers["mtc01"] != "mtconnect" || drivers["mtc02"] != "mtconnect" || drivers["press-ua01"] != "opcua" || len(drivers) != 7 {
		t.Fatalf("devices: %v", drivers)
	}
	lines := cfg.Plant.Sites[0].Areas[0].Lines
	if n := len(lines[1].Machines); n != 3 || lines[1].Machines[2].Name != "mtc02" {
		t.Fatalf("line2 machines: %+v", lines[1].Machines)
	}
	addrs := []string{p.UAMachines()[0].Addr(), p.CNCs()[0].Addr()}
	p.Close()
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s not free after Close: %v", a, err)
			continue
		}
		ln.Close()
	}
	if _, err := sim.Start(context.Background(), sim.PlantConfig{UAMachines: 11}); errcode.Of(err) != errcode.SimConfig {
		t.Fatalf("11 opcua machines: %v", err)
	}
}

// TestUAMachineDeterministic: the press's values depend only on the seed
// and the clock.
func TestUAMachineDeterministic(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(seed uint64) (*sim.UAMachine, *sim.ManualClock) {
		c := sim.NewManualClock(t0)
		return sim.NewUAMachine(sim.UAConfig{Name: "m", Machine: sim.MachineConfig{Kind: sim.KindPress, Seed: seed}, Clock: c}), c
	}
	a, ca := mk(5)
	b, cb := mk(5)
	o, co := mk(6)
	for _, c := range []*sim.ManualClock{ca, cb, co} {
		c.Advance(30 * time.Minute)
	}
	va, vb, vo := a.Values(), b.Values(), o.Values()
	if va != vb {
		t.Fatalf("same seed, different values:\n%+v\n%+v", va, vb)
	}
	if va == vo {
		t.Fatal("different seeds, same values")
	}
}

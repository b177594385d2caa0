package sim

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/proto/modbus"
)

func TestPlantAndDemoConfig(t *testing.T) {
	p, err := Start(t.Context(), PlantConfig{Lines: 2, Machines: 5, Seed: 3,
		Faults: map[string]Fault{"lathe02": {MaxBlock: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	devs := p.Devices()
	want := []string{"cnc01", "cnc02", "lathe01", "press01", "cnc03", "cnc04", "cnc05", "lathe02", "press02", "cnc06"}
	if len(devs) != len(want) {
		t.Fatalf("%d devices", len(devs))
	}
	addrs := map[string]bool{}
	for i, d := range devs {
		if d.Name() != want[i] {
			t.Errorf("device %d is %s, want %s", i, d.Name(), want[i])
		}
		if wantLine := []string{"line1", "line2"}[i/5]; d.Line() != wantLine {
			t.Errorf("%s on %s, want %s", d.Name(), d.Line(), wantLine)
		}
		if addrs[d.Addr()] {
			t.Errorf("address %s used twice", d.Addr())
		}
		addrs[d.Addr()] = true
	}
	if p.Device("lathe02").Fault().MaxBlock != 10 {
		t.Error("configured fault not applied")
	}
	c := dial(t, p.Device("press02").Addr())
	r, err := c.do(modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDIndividual, 6))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Objects() {
		if string(v) != "press02" {
			t.Errorf("press02 says it is %q", v)
		}
	}

	cfg := DemoConfig(p)
	if cfg.Plant.Enterprise != "acme" || cfg.Plant.Sites[0].Name != "taichung" || cfg.Plant.Sites[0].Areas[0].Name != "machining" {
		t.Errorf("hierarchy %+v", cfg.Plant)
	}
	lines := cfg.Plant.Sites[0].Areas[0].Lines
	if len(lines) != 2 || lines[1].Name != "line2" || len(lines[1].Machines) != 5 || lines[1].Machines[0].Name != "cnc04" {
		t.Fatalf("%d lines, second %s", len(lines), lines[len(lines)-1].Name)
	}
	if len(cfg.Devices) != 10 {
		t.Fatalf("%d devices in config", len(cfg.Devices))
	}
	for i, dc := range cfg.Devices {
		if dc.Driver != "modbus" || dc.Endpoint != "tcp://"+devs[i].Addr() || dc.Budget.MaxInFlight != 1 || len(dc.Poll) != 2 {
			t.Errorf("device %+v", dc)
		}
	}
	writable := 0
	for _, tag := range lines[0].Machines[0].Tags {
		e, ok := Lookup(tag.Name)
		if !ok || e.Address != tag.Address || e.Type != tag.Type {
			t.Errorf("tag %+v not as in the map", tag)
		}
		if tag.Poll != "fast" && tag.Poll != "slow" {
			t.Errorf("tag %s poll %q", tag.Name, tag.Poll)
		}
		if tag.Writable {
			writable++
			if tag.Name != "feed_override" || tag.Limits == nil || tag.Limits.Min != 50 || tag.Limits.Max != 150 {
				t.Errorf("writable tag %+v", tag)
			}
		}
	}
	if writable != 1 {
		t.Errorf("%d writable tags, want 1", writable)
	}

	// Close frees every port.
	p.Close()
	for a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port %s not released: %v", a, err)
			continue
		}
		ln.Close()
	}
}

func TestPlantStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p, err := Start(ctx, PlantConfig{Lines: 1, Machines: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Devices()[0].Addr()
	cancel()
	eventually(t, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	p.Close()
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig("testdata/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Lines != 2 || c.Machines != 4 || c.BasePort != 15020 || c.Seed != 42 || c.Step != 100*time.Millisecond ||
		c.Faults["cnc02"].Delay != 150*time.Millisecond || c.Faults["press02"].Exceptions[0].Start != 600 {
		t.Errorf("loaded %+v", c)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":    {"lines: 1\nmachnes: 2\n", "machnes"},
		"bad device":     {"faults:\n  cnc99: {hang: true}\n", "cnc99"},
		"bad fault":      {"faults:\n  cnc01: {malformed: sideways}\n", "sideways"},
		"too many lines": {"lines: 1000\n", "lines 1000"},
		"port overflow":  {"base_port: 65530\nmachines: 10\n", "base_port"},
		"not yaml":       {"lines: [1\n", "sim config"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if err == nil || errcode.Of(err) != errcode.SimConfig || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want OTL-8000 mentioning %q", name, err, tc.want)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuf
	done := make(chan error, 1)
	go func() { done <- Run(ctx, RunOptions{Lines: 2, Machines: 2, Seed: 1, Out: &out}) }()
	eventually(t, "4 device lines", func() bool { return strings.Count(out.String(), "\n") == 4 })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	f := strings.Fields(lines[3])
	if f[0] != "line2" || f[1] != "cnc04" || f[2] != "mill" || !strings.HasPrefix(f[4], "tcp://127.0.0.1:") {
		t.Errorf("line %q", lines[3])
	}
	c := dial(t, strings.TrimPrefix(f[4], "tcp://"))
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 10); err != nil {
		t.Error(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := Run(t.Context(), RunOptions{ConfigPath: "testdata/nonexistent.yaml"}); errcode.Of(err) != errcode.SimConfig {
		t.Errorf("missing config: %v", err)
	}
}

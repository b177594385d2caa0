package acquire

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/modbus"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

// Integration tests against the simulator (internal/sim) through the real
// Modbus driver: the device's own accounting judges the engine.

func startSim(t *testing.T, name string, bench int, fault sim.Fault) *sim.Device {
	t.Helper()
	d := sim.NewDevice(sim.DeviceConfig{Name: name, Bench: bench, Fault: fault})
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); d.Close() })
	return d
}

func simDevCfg(name string, d *sim.Device, interval time.Duration) config.Device {
	return config.Device{Name: name, Driver: "modbus", Endpoint: "tcp://" + d.Addr(), Unit: 1,
		Timeout: config.Duration(500 * time.Millisecond), Budget: config.Budget{MaxInFlight: 1},
		Poll: []config.PollClass{{Name: "fast", Interval: config.Duration(interval)}}, Coalesce: config.Coalesce{MaxGap: 16}}
}

// benchTags returns n uint16 tags on the bench pattern registers hr:1000+i*step.
func benchTags(n, step int) []config.Tag {
	out := make([]config.Tag, n)
	for i := range out {
		out[i] = config.Tag{Name: fmt.Sprintf("t%d", i), Address: fmt.Sprintf("hr:%d", sim.BenchBase+i*step), Type: "uint16"}
	}
	return out
}

func simOpts(sink Sink) Options {
	return Options{Sink: sink, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, StopGrace: 2 * time.Second}
}

func TestSimBudget(t *testing.T) {
	d := startSim(t, "press", 400, sim.Fault{})
	dc := simDevCfg("press", d, 10*time.Millisecond)
	dc.Budget = config.Budget{MaxInFlight: 1, MinGap: config.Duration(20 * time.Millisecond)}
	dc.Coalesce.MaxGap = 0
	dc.Poll = append(dc.Poll, config.PollClass{Name: "mid", Interval: config.Duration(30 * time.Millisecond)},
		config.PollClass{Name: "slow", Interval: config.Duration(50 * time.Millisecond)})
	tags := benchTags(9, 40) // nine reads
	for i := range tags {
		tags[i].Poll = dc.Poll[i%3].Name
	}
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"press": tags}), simOpts(newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "25 requests", func() bool { return d.Stats().Requests >= 25 })
	stop()
	st := d.Stats()
	if st.MaxInFlight > 1 {
		t.Errorf("device saw %d requests in flight, budget 1", st.MaxInFlight)
	}
	if st.MinGap < 20*time.Millisecond {
		t.Errorf("device saw requests %v apart, budget min gap 20ms", st.MinGap)
	}
	for _, tv := range e.Snapshot() {
		if tv.Quality != model.Good {
			t.Errorf("%s: %v", tv.Path, tv.Quality)
		}
	}
	h := e.Health()[0]
	// Identity reads (two FC 43/14 requests) pass the same budget.
	if h.Identity == nil || h.Identity.Vendor != "otlink-sim" {
		t.Errorf("identity not read under the budget: %+v", h.Identity)
	}
	t.Logf("device stats: %d requests, max in flight %d, min gap %v; engine overruns %d", st.Requests, st.MaxInFlight, st.MinGap, h.Overruns)
}

func TestSimIsolation(t *testing.T) {
	hung := startSim(t, "hung", 10, sim.Fault{Hang: true})
	devs := []config.Device{simDevCfg("hung", hung, 20*time.Millisecond)}
	devs[0].Timeout = config.Duration(500 * time.Millisecond)
	tags := map[string][]config.Tag{"hung": benchTags(3, 1)}
	for i := range 3 {
		n := fmt.Sprintf("ok%d", i)
		devs = append(devs, simDevCfg(n, startSim(t, n, 10, sim.Fault{}), 20*time.Millisecond))
		tags[n] = benchTags(3, 1)
	}
	sink := newRecSink()
	e, err := New(plantWith(devs, tags), simOpts(sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "40 cycles of every healthy device", func() bool {
		for i := range 3 {
			if sink.count(fmt.Sprintf("ok%d/fast", i)) < 40 {
				return false
			}
		}
		return true
	})
	stop()
	for i := range 3 {
		key := fmt.Sprintf("ok%d/fast", i)
		for j, b := range sink.get(key) {
			if b.Seq != uint64(j+1) {
				t.Fatalf("%s: seq %d at %d", key, b.Seq, j)
			}
			if b.Missed >= 15 { // the hung device's timeout is 25 cycles
				t.Errorf("%s: seq %d missed %d cycles while another device hung", key, b.Seq, b.Missed)
			}
		}
	}
	if tv, _ := snapshotOf(e, tagPath("ok0", "t0")); tv.Quality != model.Good {
		t.Errorf("healthy device tag %+v", tv)
	}
	if h := e.Health()[1]; h.Identity == nil || h.Identity.Vendor != "otlink-sim" {
		t.Errorf("identity in health: %+v", h.Identity)
	}
}

func TestSimLearnedLimit(t *testing.T) {
	d := startSim(t, "old", 100, sim.Fault{MaxBlock: 10})
	dc := simDevCfg("old", d, 10*time.Millisecond)
	opts := simOpts(newRecSink())
	opts.DataDir = t.TempDir()
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"old": benchTags(60, 1)}), opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "all tags good", func() bool {
		for _, tv := range e.Snapshot() {
			if tv.Quality != model.Good {
				return false
			}
		}
		return true
	})
	stop()
	h := e.Health()[0]
	var lim uint32
	for _, n := range h.LearnedLimits {
		lim = n
	}
	if len(h.LearnedLimits) != 1 || lim == 0 || lim > 10 {
		t.Fatalf("learned limits %v, want one space limited to at most 10", h.LearnedLimits)
	}
	t.Logf("learned %v", h.LearnedLimits)
}

func TestSimMalformedRecovers(t *testing.T) {
	d := startSim(t, "noisy", 10, sim.Fault{})
	dc := simDevCfg("noisy", d, 10*time.Millisecond)
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"noisy": benchTags(3, 1)}), simOpts(newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	path := tagPath("noisy", "t0")
	waitFor(t, "good", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality == model.Good })
	if err := d.SetFault(sim.Fault{Malformed: sim.MalformedGarbage}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bad quality with a code", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality.IsBad() && tv.Code != 0 })
	tv, _ := snapshotOf(e, path)
	t.Logf("while malformed: %v code OTL-%04d", tv.Quality, tv.Code)
	if err := d.ClearFault(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality == model.Good })
}

// TestSimFromYAML runs a config as a user writes it, through config.Parse
// (defaults, paths, validation) and the registered Modbus driver.
func TestSimFromYAML(t *testing.T) {
	d := startSim(t, "cnc", 20, sim.Fault{})
	yaml := fmt.Sprintf(`version: 1
plant:
  enterprise: acme
  sites:
    - name: tc
      areas:
        - name: machining
          lines:
            - name: line1
              cells:
                - name: cell1
                  machines:
                    - name: cnc01
                      device: cnc
                      tags:
                        - {name: p0, address: "hr:%d", type: uint16}
                        - {name: p1, address: "hr:%d", type: uint16, scale: {gain: 0.5}, unit: mm}
devices:
  - name: cnc
    driver: modbus
    endpoint: tcp://%s
    poll:
      - {name: fast, interval: 20ms}
`, sim.BenchBase, sim.BenchBase+1, d.Addr())
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	sink := newRecSink()
	e, err := New(cfg, Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	path := "acme/tc/machining/line1/cell1/cnc01/p1"
	waitFor(t, "values", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality == model.Good })
	tv, _ := snapshotOf(e, path)
	if tv.Unit != "mm" || tv.Value.T != model.Float64 {
		t.Errorf("%+v", tv)
	}
	if h := e.Health()[0]; h.PollClasses[0].Reads != 1 || h.Endpoint != "tcp://"+d.Addr() {
		t.Errorf("health %+v", h)
	}
}

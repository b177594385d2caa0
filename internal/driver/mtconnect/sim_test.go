package mtconnect

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// startCNC starts a simulated CNC on a manual clock.
func startCNC(t *testing.T, buffer int) (*sim.CNC, *sim.ManualClock) {
	t.Helper()
	clk := sim.NewManualClock(t0)
	c := sim.NewCNC(sim.CNCConfig{Name: "cnc01", Machine: sim.MachineConfig{Seed: 7}, Clock: clk, BufferSize: buffer})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// recorder collects updates.
type recorder struct {
	mu  sync.Mutex
	ups []driver.Update
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) report(u driver.Update) {
	r.mu.Lock()
	r.ups = append(r.ups, u)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []driver.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]driver.Update(nil), r.ups...)
}

// waitFor waits until cond holds on the updates, or fails.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]driver.Update) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if cond(r.all()) {
			return
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; %d updates", what, len(r.all()))
		}
	}
}

func items(t *testing.T, d *Driver, spec driver.DeviceSpec, specs ...driver.TagSpec) []driver.Item {
	t.Helper()
	var out []driver.Item
	for _, s := range specs {
		p, err := d.Resolve(spec, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, driver.Item{Point: p, Tag: "m/" + s.Name, Address: s.Address, Interval: 20 * time.Millisecond})
	}
	return out
}

func open(t *testing.T, d *Driver, spec driver.DeviceSpec) *Conn {
	t.Helper()
	c, err := d.Open(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.(*Conn)
}

func TestCurrentThenStream(t *testing.T) {
	cnc, clk := startCNC(t, 4096)
	d := New()
	spec := driver.DeviceSpec{Name: "cnc01", Endpoint: cnc.URL(), Timeout: time.Second}
	c := open(t, d, spec)
	defer c.Close()
	id, err := c.Identify(context.Background())
	if err != nil || id.Vendor != "otlink-sim" || id.Product != "OTL-SIM-MILL" || id.Extra["serial_number"] == "" {
		t.Fatalf("identity %+v %v", id, err)
	}
	its := items(t, d, spec,
		driver.TagSpec{Name: "speed", Address: sim.CNCSpindleSpeed, Type: model.Float64},
		driver.TagSpec{Name: "exec", Address: sim.CNCExecution, Type: model.String},
		driver.TagSpec{Name: "good", Address: "part_count", Type: model.Uint32},
		driver.TagSpec{Name: "system", Address: sim.CNCSystem, Type: model.Int16},
		driver.TagSpec{Name: "nope", Address: "no_such_item", Type: model.Float64},
		driver.TagSpec{Name: "badtype", Address: sim.CNCProgram, Type: model.Float32},
	)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(ctx, its, rec.report) }()
	// Initial values from /current, and the two configuration errors.
	rec.waitFor(t, "current", func(us []driver.Update) bool {
		seen := map[int]bool{}
		for _, u := range us {
			seen[u.Item] = true
		}
		return len(seen) == len(its)
	})
	for _, u := range rec.all() {
		switch u.Item {
		case 4:
			if u.Quality != model.BadNodeIDUnknown || u.Code != uint16(errcode.MTConnectUnknownItem) {
				t.Errorf("unknown item: %+v", u)
			}
		case 5:
			if u.Quality != model.BadConfigurationError || u.Code != uint16(errcode.MTConnectTypeMismatch) {
				t.Errorf("type mismatch: %+v", u)
			}
		case 1:
			if u.Quality != model.Good || u.Value.T != model.String || u.Value.Str() == "" {
				t.Errorf("execution: %+v", u)
			}
		case 2:
			if u.Quality != model.Good || u.Value.Uint() != uint64(cnc.Values().Good) {
				t.Errorf("part count %+v, machine has %d", u, cnc.Values().Good)
			}
		}
	}
	n := len(rec.all())
	clk.Advance(5 * time.Second)
	cnc.Sync()
	rec.waitFor(t, "streamed samples", func(us []driver.Update) bool { return len(us) > n })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Subscribe after cancel: %v", err)
	}
}

package sim

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/mtconnect"
)

func cncSample(t *testing.T, seed uint64) (string, *CNC) {
	t.Helper()
	clk := NewManualClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	c := NewCNC(CNCConfig{Name: "cnc09", Machine: MachineConfig{Seed: seed}, Clock: clk, BufferSize: 4096})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	clk.Advance(20 * time.Second)
	resp, err := http.Get(c.URL() + "/sample?from=1&count=4096")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), c
}

// TestCNCDeterministic: the same seed and clock give the same documents,
// sequence numbers included; another seed does not.
func TestCNCDeterministic(t *testing.T) {
	a, c := cncSample(t, 11)
	b, _ := cncSample(t, 11)
	o, _ := cncSample(t, 12)
	if a != b { // creation times come from the manual clock too
		t.Fatal("same seed, different samples")
	}
	if a == o {
		t.Fatal("different seeds, same samples")
	}
	doc, err := mtconnect.Parse([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	n := 0
	doc.Streams.Each(func(_ *mtconnect.DeviceStream, cat string, o *mtconnect.Observation) {
		types[o.Element()] = true
		n++
	})
	for _, want := range []string{"Execution", "ControllerMode", "Program", "PartCount", "RotaryVelocity", "PathFeedrate", "Position", "Load", "Temperature", "Availability"} {
		if !types[want] {
			t.Errorf("no %s observation in %v", want, types)
		}
	}
	if _, next := c.Sequences(); n != int(next-1) {
		t.Fatalf("%d observations, agent next %d", n, next)
	}
	d, m := c.DemoMachine()
	if d.Driver != "mtconnect" || !strings.HasSuffix(d.Endpoint, "/cnc09") || len(m.Tags) < 10 {
		t.Fatalf("demo machine %+v %d tags", d, len(m.Tags))
	}
}

// TestCNCFaults: a restart changes the instance id and starts the
// sequences again; a small buffer moves on.
func TestCNCFaults(t *testing.T) {
	clk := NewManualClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	c := NewCNC(CNCConfig{Name: "cnc01", Machine: MachineConfig{Seed: 3}, Clock: clk, BufferSize: 16})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.Agent().InstanceID()
	clk.Advance(10 * time.Second)
	c.Sync()
	if first, next := c.Sequences(); first <= 1 || next-first != 16 {
		t.Fatalf("small buffer: first %d next %d", first, next)
	}
	c.Restart(64)
	if c.Agent().InstanceID() == id || c.Agent().BufferSize() != 64 {
		t.Fatal("restart kept the instance or the size")
	}
	if first, next := c.Sequences(); first != 1 || next > 40 {
		t.Fatalf("after restart: first %d next %d", first, next)
	}
}

package sim

import (
	"math"
	"testing"
	"time"
)

func TestMachineDeterministic(t *testing.T) {
	cfg := MachineConfig{Name: "m", Kind: KindMill, Seed: 42}
	a, b := NewMachine(cfg), NewMachine(cfg)
	cfg.Seed = 43
	c := NewMachine(cfg)
	differ := false
	for i := range 20000 {
		if i == 5000 {
			// Writes are part of the step sequence: the same write at the
			// same step keeps the twins equal.
			if err := a.SetFeedOverride(120); err != nil {
				t.Fatal(err)
			}
			if err := b.SetFeedOverride(120); err != nil {
				t.Fatal(err)
			}
		}
		a.Step()
		b.Step()
		c.Step()
		if a.Values() != b.Values() {
			t.Fatalf("step %d: same seed, different values:\n%+v\n%+v", i, a.Values(), b.Values())
		}
		if a.Values().SpindleTemp != c.Values().SpindleTemp {
			differ = true
		}
	}
	if !differ {
		t.Fatal("seeds 42 and 43 gave the same spindle temperatures")
	}
}

// TestMachineReachesEveryState runs machines for three simulated days and
// checks the invariants of every signal on the way.
func TestMachineReachesEveryState(t *testing.T) {
	for _, kind := range []Kind{KindMill, KindLathe, KindPress} {
		for seed := uint64(1); seed <= 2; seed++ {
			m := NewMachine(MachineConfig{Kind: kind, Seed: seed, Step: 2 * time.Second})
			seen := map[State]time.Duration{}
			prev := m.Values()
			var faultsWithWarning, faults int
			for range 72 * 3600 / 2 {
				m.Step()
				v := m.Values()
				if _, ok := seen[v.State]; !ok {
					seen[v.State] = v.SimTime
				}
				if v.Energy < prev.Energy || v.Good < prev.Good || v.Scrap < prev.Scrap {
					t.Fatalf("%s seed %d at %s: a counter went down: %+v -> %+v", kind, seed, v.SimTime, prev, v)
				}
				if (v.State == StateFault) != (v.Alarms != 0) {
					t.Fatalf("%s seed %d: state %s with alarm word %#x", kind, seed, v.State, v.Alarms)
				}
				if v.SpindleSpeed < 0 || v.Feed < 0 || v.SpindleLoad < 0 || v.Vibration < 0 || v.Power <= 0 {
					t.Fatalf("%s seed %d: negative signal %+v", kind, seed, v)
				}
				for _, temp := range []float64{v.SpindleTemp, v.CoolantTemp, v.AmbientTemp} {
					if temp < 10 || temp > 70 || math.IsNaN(temp) {
						t.Fatalf("%s seed %d: implausible temperature %+v", kind, seed, v)
					}
				}
				if v.State != StateRunning && v.State != StateSetup && v.SpindleSpeed > m.p.rpm[1] {
					t.Fatalf("%s seed %d: spindle above nominal while %s", kind, seed, v.State)
				}
				if v.State == StateFault && prev.State == StateRunning {
					faults++
					if prev.Vibration > 1.5*(0.8+1.6*prev.SpindleSpeed/m.p.rpm[1]+2.5*m.runSec/pmInterval) {
						faultsWithWarning++
					}
				}
				if v.Program == "" || len(v.Program) > 16 {
					t.Fatalf("bad program name %q", v.Program)
				}
				prev = v
			}
			for _, s := range States {
				if _, ok := seen[s]; !ok {
					t.Errorf("%s seed %d: never %s in 72 h (seen %v)", kind, seed, s, seen)
				}
			}
			if faults > 0 && faultsWithWarning == 0 {
				t.Errorf("%s seed %d: %d faults from running, none preceded by high vibration", kind, seed, faults)
			}
		}
	}
}

func TestFeedOverrideScalesFeed(t *testing.T) {
	m := NewMachine(MachineConfig{Kind: KindMill, Seed: 7})
	// Find a running stretch long enough to settle twice.
	for i := 0; ; i++ {
		if i > 10_000_000 {
			t.Fatal("no long running stretch")
		}
		if m.v.State == StateRunning && m.left > 60 {
			break
		}
		m.Step()
	}
	settle := func() float64 {
		var sum float64
		for range 100 { // 10 s
			m.Step()
		}
		for range 50 {
			m.Step()
			sum += m.Values().Feed
		}
		return sum / 50
	}
	at100 := settle()
	if err := m.SetFeedOverride(150); err != nil {
		t.Fatal(err)
	}
	at150 := settle()
	if r := at150 / at100; r < 1.45 || r > 1.55 {
		t.Errorf("feed %g at 100%%, %g at 150%%: ratio %g, want 1.5", at100, at150, r)
	}
	if err := m.SetFeedOverride(201); err == nil {
		t.Error("override 201 accepted")
	}
}

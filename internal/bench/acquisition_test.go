package bench

import (
	"testing"
	"time"
)

// TestAcquisitionSmall runs the benchmark harness on a small plant and
// checks that what it reports is consistent; it asserts no speed.
func TestAcquisitionSmall(t *testing.T) {
	r, runs, err := Acquisition(t.Context(), AcquisitionOptions{Devices: 4, Tags: 2000, Interval: 200 * time.Millisecond, Duration: time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	if r.Samples == 0 || r.SamplesPerSec <= 0 || r.RequestsPerSec <= 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
	if r.NaiveRequestsPerCycle != 500 {
		t.Errorf("naive = %v, want one request per tag (500)", r.NaiveRequestsPerCycle)
	}
	if r.OptimalRequestsPerCycle <= 0 || r.OptimalRequestsPerCycle > r.NaiveRequestsPerCycle/50 {
		t.Errorf("optimal = %v of %v naive", r.OptimalRequestsPerCycle, r.NaiveRequestsPerCycle)
	}
	if r.RequestsPerCycle < r.OptimalRequestsPerCycle-0.01 {
		t.Errorf("the engine did fewer requests (%v) than the optimum (%v): the optimum is wrong", r.RequestsPerCycle, r.OptimalRequestsPerCycle)
	}
	// 500 uint16/uint32 tags with a gap every 8 fit in 125-register reads.
	_, _, regs := layout(500)
	if min := float64((regs + 124) / 125); r.OptimalRequestsPerCycle < min {
		t.Errorf("optimal %v below the %v reads the registers need", r.OptimalRequestsPerCycle, min)
	}
	if r.RSSMB <= 0 || r.CPUSecPerMillion <= 0 || r.LatencyP99MS < r.LatencyP50MS {
		t.Errorf("resource figures: %+v", r)
	}
}

func TestLayout(t *testing.T) {
	addr, types, regs := layout(9)
	// 8 tags (6 uint16 + 2 uint32 = 10 registers), a gap, then the 9th.
	if addr[8] != addr[0]+11 || regs != 12 || types[3].Bits() != 32 {
		t.Fatalf("addr %v types %v regs %d", addr, types, regs)
	}
}

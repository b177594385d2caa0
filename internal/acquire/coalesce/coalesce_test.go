package coalesce

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// check verifies every constraint of a plan and returns its cost.
func check(t *testing.T, pts []Span, max, gap uint32, reads []Read) cost {
	t.Helper()
	served := make([]int, len(pts))
	var c cost
	for _, r := range reads {
		if r.Count == 0 || r.Count > max {
			t.Fatalf("read %+v: count outside 1..%d", r, max)
		}
		if len(r.Points) == 0 {
			t.Fatalf("read %+v serves no point", r)
		}
		for _, i := range r.Points {
			served[i]++
			if pts[i].Start < r.Start || pts[i].End() > r.Start+r.Count {
				t.Fatalf("read %d+%d does not contain point %d %+v", r.Start, r.Count, i, pts[i])
			}
		}
		if g := maxHole(pts, r.Start, r.Start+r.Count); g > gap {
			t.Fatalf("read %d+%d has a gap of %d > %d (points %v)", r.Start, r.Count, g, gap, pts)
		}
		c.reads++
		c.units += uint64(r.Count)
	}
	for i, n := range served {
		if n != 1 {
			t.Fatalf("point %d %+v served %d times", i, pts[i], n)
		}
	}
	return c
}

// maxHole returns the longest run of units in [s, e) that no point lying
// entirely in [s, e) occupies; -1 (as max uint) if the ends are not occupied.
func maxHole(pts []Span, s, e uint32) uint32 {
	occ := make([]bool, e-s)
	for _, p := range pts {
		if p.Start >= s && p.End() <= e {
			for u := p.Start; u < p.End(); u++ {
				occ[u-s] = true
			}
		}
	}
	if !occ[0] || !occ[len(occ)-1] {
		return ^uint32(0)
	}
	var best, run uint32
	for _, o := range occ {
		if o {
			run = 0
			continue
		}
		run++
		if run > best {
			best = run
		}
	}
	return best
}

// brute finds the optimum by exhaustive set cover over every feasible
// window [start of a point, end of a point).
func brute(pts []Span, max, gap uint32) cost {
	type win struct {
		mask  uint32
		units uint32
	}
	var wins []win
	for _, a := range pts {
		for _, b := range pts {
			s, e := a.Start, b.End()
			if e <= s || e-s > max {
				continue
			}
			if maxHole(pts, s, e) > gap {
				continue
			}
			var m uint32
			for i, p := range pts {
				if p.Start >= s && p.End() <= e {
					m |= 1 << i
				}
			}
			wins = append(wins, win{m, e - s})
		}
	}
	full := uint32(1)<<len(pts) - 1
	inf := cost{reads: 1 << 30}
	f := make([]cost, full+1)
	for m := range f {
		f[m] = inf
	}
	f[0] = cost{}
	for m := uint32(0); m <= full; m++ {
		if f[m] == inf {
			continue
		}
		if m == full {
			break
		}
		low := uint32(1) << bits.TrailingZeros32(^m)
		for _, w := range wins {
			if w.mask&low == 0 {
				continue
			}
			nm := m | w.mask
			c := cost{f[m].reads + 1, f[m].units + uint64(w.units)}
			if c.less(f[nm]) {
				f[nm] = c
			}
		}
	}
	return f[full]
}

func TestPlanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 4000 {
		n := 1 + rng.IntN(9)
		spread := uint32(5 + rng.IntN(40))
		base := uint32(0)
		if rng.IntN(4) == 0 {
			base = 65000
		}
		var max, gap uint32
		switch rng.IntN(10) {
		case 0: // the real Modbus limits, with points far apart or close
			if rng.IntN(2) == 0 {
				max = 125
			} else {
				max = 2000
			}
			spread = uint32(rng.IntN(int(max) * 3))
			gap = uint32(rng.IntN(6))
			if rng.IntN(3) == 0 {
				gap = uint32(rng.IntN(200))
			}
		default:
			max = uint32(4 + rng.IntN(17))
			gap = uint32(rng.IntN(6))
		}
		pts := make([]Span, n)
		for i := range pts {
			pts[i] = Span{Start: base + uint32(rng.IntN(int(spread)+1)), Count: uint32(1 + rng.IntN(4))}
			if pts[i].Count > max {
				pts[i].Count = max
			}
		}
		reads, err := Plan(pts, max, gap)
		if err != nil {
			t.Fatalf("case %d: %v", iter, err)
		}
		got := check(t, pts, max, gap, reads)
		want := brute(pts, max, gap)
		if got != want {
			t.Fatalf("case %d: points %v max %d gap %d: plan %+v costs %+v, optimum %+v", iter, pts, max, gap, reads, got, want)
		}
	}
}

func TestPlanDisjointMatchesBruteForce(t *testing.T) {
	// Points that never overlap take the fast path; it must be as optimal.
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := range 3000 {
		max := uint32(1 + rng.IntN(20))
		gap := uint32(rng.IntN(6))
		var pts []Span
		addr := uint32(rng.IntN(3))
		for range 1 + rng.IntN(9) {
			c := uint32(1 + rng.IntN(4))
			if c > max {
				c = max
			}
			pts = append(pts, Span{Start: addr, Count: c})
			addr += c + uint32(rng.IntN(8))
		}
		rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
		if _, ok := planDisjoint(pts, max, gap); !ok {
			t.Fatalf("disjoint points %v not planned by the fast path", pts)
		}
		reads, err := Plan(pts, max, gap)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := check(t, pts, max, gap, reads), brute(pts, max, gap); got != want {
			t.Fatalf("case %d: points %v max %d gap %d: %+v costs %+v, optimum %+v", iter, pts, max, gap, reads, got, want)
		}
		// The general planner agrees.
		p := planner{pts: pts, max: max, gap: gap}
		if got := check(t, pts, max, gap, p.plan()); got != brute(pts, max, gap) {
			t.Fatalf("case %d: general planner %+v", iter, got)
		}
	}
}

func TestPlanSmallMax(t *testing.T) {
	// max 1..3 with points of width 1 only, the limits a learned device may force.
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 1000 {
		max := uint32(1 + rng.IntN(3))
		gap := uint32(rng.IntN(3))
		pts := make([]Span, 1+rng.IntN(8))
		for i := range pts {
			pts[i] = Span{Start: uint32(rng.IntN(12)), Count: 1 + uint32(rng.IntN(int(max)))}
		}
		reads, err := Plan(pts, max, gap)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := check(t, pts, max, gap, reads), brute(pts, max, gap); got != want {
			t.Fatalf("case %d: points %v max %d gap %d: %+v vs optimum %+v", iter, pts, max, gap, got, want)
		}
	}
}

func TestPlanWorkedExample(t *testing.T) {
	// The example of docs/acquisition.md: hr 0, 1, 3 (float32 at 3..4), 40,
	// 41 and bit 2 of 41, with max 125 and gap 16: two reads.
	pts := []Span{{0, 1}, {1, 1}, {3, 2}, {40, 1}, {41, 1}, {41, 1}}
	reads, err := Plan(pts, 125, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(reads) != 2 || reads[0].Start != 0 || reads[0].Count != 5 || reads[1].Start != 40 || reads[1].Count != 2 {
		t.Fatalf("got %+v", reads)
	}
	// Raising the gap to 35 joins them into one read of 42 registers.
	if reads, _ = Plan(pts, 125, 35); len(reads) != 1 || reads[0].Count != 42 {
		t.Fatalf("gap 35: got %+v", reads)
	}
	// A limit of 4 splits the first group: 0..1 and the float at 3..4.
	if reads, _ = Plan(pts, 4, 16); len(reads) != 3 {
		t.Fatalf("max 4: got %+v", reads)
	}
}

func TestPlanErrors(t *testing.T) {
	var tl *ErrTooLarge
	if _, err := Plan([]Span{{0, 1}, {10, 8}}, 4, 0); !errors.As(err, &tl) || tl.Index != 1 {
		t.Fatalf("want ErrTooLarge for point 1, got %v", err)
	}
	if _, err := Plan([]Span{{0, 0}}, 4, 0); err == nil {
		t.Fatal("zero-width point accepted")
	}
	if _, err := Plan([]Span{{0, 1}}, 0, 0); err == nil {
		t.Fatal("max 0 accepted")
	}
	if r, err := Plan(nil, 10, 0); r != nil || err != nil {
		t.Fatal("empty input")
	}
}

func BenchmarkPlan10k(b *testing.B) {
	for _, bc := range []struct {
		name     string
		max, gap uint32
		unit     uint32
		overlap  bool
	}{{"registers", 125, 16, 2, false}, {"bits", 2000, 16, 1, false}, {"registers_overlapping", 125, 16, 2, true}, {"bits_overlapping", 2000, 16, 4, true}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			pts := make([]Span, 10000)
			addr := uint32(0)
			for i := range pts {
				pts[i] = Span{Start: addr, Count: 1 + uint32(rng.IntN(int(bc.unit)))}
				if bc.overlap {
					addr += uint32(rng.IntN(6)) // the next point may start inside this one
				} else {
					addr += pts[i].Count + uint32(rng.IntN(5))
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Plan(pts, bc.max, bc.gap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

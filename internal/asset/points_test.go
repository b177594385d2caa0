package asset

import (
	"math/rand/v2"
	"testing"
)

// TestPointsMatchSet checks the range set against a plain set of
// addresses on random ranges that overlap, touch and nest.
func TestPointsMatchSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s points
		ref := map[[2]uint64]bool{}
		for range 1 + r.IntN(60) {
			key := uint64(r.IntN(3))
			start, count := uint32(r.IntN(200)), uint32(r.IntN(20))
			s.add(key, start, count)
			for a := uint64(start); a < uint64(start)+uint64(count); a++ {
				ref[[2]uint64{key, a}] = true
			}
			if s.len() != len(ref) {
				t.Fatalf("round %d: %d addresses, want %d", round, s.len(), len(ref))
			}
		}
		for i := 1; i < len(s.spans); i++ {
			a, b := s.spans[i-1], s.spans[i]
			if a.key > b.key || a.key == b.key && a.hi >= b.lo || a.lo >= a.hi {
				t.Fatalf("round %d: spans %v and %v out of order or touching", round, a, b)
			}
		}
	}
}

func TestPointsEdges(t *testing.T) {
	var s points
	s.add(1, 0xffffffff, 2) // past the 32-bit range: no wrap to 0
	s.add(1, 0, 1)
	if s.len() != 3 || len(s.spans) != 2 {
		t.Fatalf("len %d spans %v", s.len(), s.spans)
	}
	s.add(1, 1, 0) // empty
	if s.len() != 3 {
		t.Fatalf("empty range changed the set: %d", s.len())
	}
}

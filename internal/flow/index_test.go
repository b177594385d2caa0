package flow

import (
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap inserts and deletes random keys, many of them
// colliding on few bits, and checks every lookup against a map.
func TestIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var x index
	ref := map[Key]*Flow{}
	key := func() Key {
		var k Key
		k.A[15], k.B[15] = byte(r.IntN(8)), byte(r.IntN(8))
		k.PA, k.PB, k.Proto, k.IPv = uint16(r.IntN(40)), 502, 6, 4
		return k
	}
	for step := range 20000 {
		k := key()
		h := k.hash()
		f := x.get(&k, h)
		if f != ref[k] {
			t.Fatalf("step %d: get %v, want %v", step, f, ref[k])
		}
		if f == nil && r.IntN(3) > 0 {
			f = &Flow{Key: k}
			x.put(f, h)
			ref[k] = f
		} else if f != nil {
			if !x.del(f, h) {
				t.Fatalf("step %d: del of a present flow failed", step)
			}
			delete(ref, k)
			if x.del(f, h) {
				t.Fatalf("step %d: second del succeeded", step)
			}
		}
		if x.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, x.len(), len(ref))
		}
	}
	for k, f := range ref {
		if g := x.get(&k, k.hash()); g != f {
			t.Fatalf("final: %v missing", k)
		}
	}
}

// TestKeyHashSpreads: keys differing in one port or one address byte
// land in different home slots nearly always.
func TestKeyHashSpreads(t *testing.T) {
	seen := map[uint64]int{}
	var k Key
	k.Proto, k.IPv, k.PB = 6, 4, 502
	for i := range 4096 {
		k.A[14], k.A[15] = byte(i>>8), byte(i)
		k.PA = uint16(40000 + i)
		seen[k.hash()&8191]++
	}
	if len(seen) < 2800 { // 4096 balls in 8192 bins: ~3,200 distinct expected
		t.Fatalf("%d distinct slots of 8192 for 4096 keys", len(seen))
	}
}

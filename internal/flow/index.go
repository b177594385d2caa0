package flow

import (
	"encoding/binary"
	"math/bits"
)

// index finds flows by key: an open-addressing hash table with linear
// probing that keeps each key's hash beside its flow, so that a probe
// compares a word before it touches a flow. It replaced a Go map behind a
// direct-mapped cache: with a few thousand interleaved flows half the
// packets missed the cache (two flows sharing a slot evict each other on
// every packet) and paid the map's hashing of the 42-byte key as well.
type index struct {
	slots []islot // len is a power of two, at most half full
	n     int
}

type islot struct {
	h uint64 // hash of the key, 0 = empty
	f *Flow
}

const indexMin = 1024

// hash mixes the key's words; it is never 0.
func (k *Key) hash() uint64 {
	ne := binary.NativeEndian
	h := ne.Uint64(k.A[:]) ^ bits.RotateLeft64(ne.Uint64(k.A[8:]), 17)
	h = mix(h ^ ne.Uint64(k.B[:])*0x9e3779b97f4a7c15)
	h ^= ne.Uint64(k.B[8:]) ^ uint64(k.PA)<<48 ^ uint64(k.PB)<<32 ^ uint64(k.Proto)<<24 ^ uint64(k.IPv)<<16
	h ^= uint64(k.VLAN[0])<<40 ^ uint64(k.VLAN[1])
	return mix(h) | 1<<63 // the top bit: the low bits pick the slot
}

// shardOf picks the shard of a decoded packet, 0 ≤ shard < n, from its
// two addresses in either order: both directions of a conversation, all
// its ports and its IP fragments land in the same shard.
func shardOf(p *Packet, n int) int {
	ne := binary.NativeEndian
	fold := func(a *[16]byte) uint64 {
		return mix(ne.Uint64(a[:]) ^ bits.RotateLeft64(ne.Uint64(a[8:]), 29))
	}
	h := mix(fold(&p.Src) + fold(&p.Dst)) // + is symmetric
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// mix is the finaliser of splitmix64.
func mix(h uint64) uint64 {
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	return h ^ h>>31
}

func (x *index) len() int { return x.n }

// get returns the flow of k, nil when none.
func (x *index) get(k *Key, h uint64) *Flow {
	if x.slots == nil {
		return nil
	}
	m := uint64(len(x.slots) - 1)
	for i := h & m; ; i = (i + 1) & m {
		s := &x.slots[i]
		if s.h == 0 {
			return nil
		}
		if s.h == h && s.f.Key.equal(k) {
			return s.f
		}
	}
}

// put adds f under its key (which is not in the index).
func (x *index) put(f *Flow, h uint64) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	m := uint64(len(x.slots) - 1)
	i := h & m
	for x.slots[i].h != 0 {
		i = (i + 1) & m
	}
	x.slots[i] = islot{h, f}
	x.n++
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]islot, max(indexMin, 2*len(old)))
	m := uint64(len(x.slots) - 1)
	for _, s := range old {
		if s.h == 0 {
			continue
		}
		i := s.h & m
		for x.slots[i].h != 0 {
			i = (i + 1) & m
		}
		x.slots[i] = s
	}
}

// del removes f (found under hash h) if it is in the index; the probe
// chain is closed by shifting later entries back, so no tombstones build
// up on a long capture.
func (x *index) del(f *Flow, h uint64) bool {
	if x.slots == nil {
		return false
	}
	m := uint64(len(x.slots) - 1)
	i := h & m
	for {
		s := &x.slots[i]
		if s.h == 0 {
			return false
		}
		if s.f == f {
			break
		}
		i = (i + 1) & m
	}
	// Backward shift: move each following entry of the chain into the
	// hole unless its home slot lies cyclically after the hole.
	j := i
	for {
		j = (j + 1) & m
		s := x.slots[j]
		if s.h == 0 {
			break
		}
		home := s.h & m
		if (j-home)&m >= (j-i)&m {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = islot{}
	x.n--
	return true
}

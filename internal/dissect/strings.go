package dissect

import "sync/atomic"

// Names is a process-wide cache of strings built from numbers, for names
// whose variety outlives one flow (a CIP "class C instance I" for every
// instance a plant uses). One table per process, not per flow: a per-flow
// table would build the names again in every new flow, and its memory,
// touched by every PDU, pushed the hot state of thousands of interleaved
// flows out of the processor's caches. A dissector package declares one as a package variable,
// so keys need only be unique within the package. It is a direct-mapped
// table of atomic pointers, safe for parsers on different goroutines: a Get
// is one atomic load, a Put allocates one entry and a collision replaces
// the older entry. The zero value is ready.
type Names struct {
	slots [nameSlots]atomic.Pointer[nameEntry]
}

type nameEntry struct {
	key uint64
	s   string
}

const nameSlots = 1024

func nameSlot(key uint64) uint64 { return (key * 0x9e3779b97f4a7c15) >> 54 }

// Get returns the string cached for key, "" when there is none.
func (n *Names) Get(key uint64) string {
	if e := n.slots[nameSlot(key)].Load(); e != nil && e.key == key {
		return e.s
	}
	return ""
}

// Put caches s for key and returns s.
func (n *Names) Put(key uint64, s string) string {
	n.slots[nameSlot(key)].Store(&nameEntry{key: key, s: s})
	return s
}

// Intern returns b as a string, the cached one when the slot of b's hash
// holds the same bytes: for names a device repeats in every reply (a
// product name). A Names used for Intern must not be used with Put.
func (n *Names) Intern(b []byte) string {
	h := uint64(14695981039346656037) // FNV-1a
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	if e := n.slots[nameSlot(h)].Load(); e != nil && e.key == h && e.s == string(b) {
		return e.s
	}
	return n.Put(h, string(b))
}

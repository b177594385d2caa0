package dissect

// Strings caches strings a dissector builds from numbers ("class 4
// instance 1", "ns=2", "analog-input present-value"), so that naming the
// objects of a PDU does not allocate once the flow has named them before.
// It is a small direct-mapped cache, one per parser (parsers run on one
// goroutine): a collision replaces the older entry. Its 768 bytes are
// allocated on the first Put, so a flow that names nothing pays a pointer.
// The zero value is ready.
type Strings struct{ t *stringTable }

type stringTable struct {
	keys [stringSlots]uint64
	vals [stringSlots]string
}

const stringSlots = 32

func stringSlot(key uint64) uint64 { return (key * 0x9e3779b97f4a7c15) >> 59 }

// Get returns the string cached for key, "" when there is none.
func (c *Strings) Get(key uint64) string {
	if c.t == nil {
		return ""
	}
	i := stringSlot(key)
	if c.t.keys[i] == key {
		return c.t.vals[i]
	}
	return ""
}

// Put caches s for key and returns s.
func (c *Strings) Put(key uint64, s string) string {
	if c.t == nil {
		c.t = &stringTable{}
	}
	i := stringSlot(key)
	c.t.keys[i], c.t.vals[i] = key, s
	return s
}

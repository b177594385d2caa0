package asset

import "sort"

// points is a set of object addresses kept as sorted, disjoint ranges per
// (server, address space): a poller reading 100 registers adds one range,
// not 100 set entries, and reading them again changes nothing.
type points struct {
	spans []span
	n     int // addresses in the set
}

type span struct {
	key    uint64 // server and address space (see pointKey)
	lo, hi uint64 // addresses lo..hi-1
}

// add inserts the addresses start..start+count-1 of key.
func (s *points) add(key uint64, start, count uint32) {
	if count == 0 {
		return
	}
	lo, hi := uint64(start), uint64(start)+uint64(count)
	less := func(i int) bool { // span i is at or after (key, lo)
		x := &s.spans[i]
		return x.key > key || x.key == key && x.hi >= lo
	}
	i := sort.Search(len(s.spans), less)
	// Merge every span of key that touches lo..hi.
	j := i
	for j < len(s.spans) && s.spans[j].key == key && s.spans[j].lo <= hi {
		lo, hi = min(lo, s.spans[j].lo), max(hi, s.spans[j].hi)
		s.n -= int(s.spans[j].hi - s.spans[j].lo)
		j++
	}
	s.n += int(hi - lo)
	if j == i+1 {
		s.spans[i] = span{key, lo, hi}
		return
	}
	if j == i {
		s.spans = append(s.spans, span{})
		copy(s.spans[i+1:], s.spans[i:])
		s.spans[i] = span{key, lo, hi}
		return
	}
	s.spans[i] = span{key, lo, hi}
	s.spans = append(s.spans[:i+1], s.spans[j:]...)
}

// len is the number of addresses in the set.
func (s *points) len() int { return s.n }

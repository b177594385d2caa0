package flow

import (
	"bytes"
	"slices"
)

// IP fragment reassembly (IPv4 and IPv6) with bounded memory.
//
// Overlap policy: the first bytes received for an offset win, as in
// Windows and in Snort's "first" policy; later bytes for the same offset
// are dropped. A fragment whose bytes differ from bytes already held, or
// that contradicts the datagram's end, is what IDS evasion (Ptacek &
// Newsham 1998) and teardrop-style attacks send and what ordinary
// networks do not (a resent fragment carries the same bytes): it is counted in Stats.FragOverlaps and
// Flow.FragOverlaps, and PDUs completed by such a datagram are marked
// malformed so that the indicator detections see them.

// maxDatagram is the largest IP payload a fragment may reach: beyond
// 65535 bytes is the ping of death, not a datagram.
const maxDatagram = 65535

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8 // IPv4 only: IPv6 keys on addresses and id
	ipv      uint8
	vlan     [2]uint16
}

type span struct{ lo, hi int }

type datagram struct {
	key     fragKey
	first   int64 // capture time of its first fragment
	buf     []byte
	have    []span // bytes held: sorted, disjoint, not adjacent
	total   int    // datagram length once the last fragment is in, else -1
	proto   uint8  // transport, from the offset-0 fragment
	overlap bool   // an overlapping or inconsistent fragment was seen
	done    bool   // completed or dropped: only waits in the queue
}

// defrag is the reassembly state of a table.
type defrag struct {
	m     map[fragKey]*datagram
	queue []*datagram // by creation time; done entries are skipped
	bytes int         // buffer bytes held by incomplete datagrams
	free  [][]byte    // buffers of finished datagrams, for reuse
}

// fragment adds the fragment in p (Decode returned Fragment) and returns
// the datagram it completes, or nil. The caller decodes d.buf, then
// gives d back with release.
func (t *Table) fragment(p *Packet) *datagram {
	r := &t.frag
	if r.m == nil {
		r.m = make(map[fragKey]*datagram)
	}
	t.expireFrags()
	off, data := p.FragOff, p.Payload
	end := off + len(data)
	if len(data) == 0 || end > maxDatagram || (p.FragMore && len(data)%8 != 0) {
		// Empty, past 64 KiB or a middle fragment not a multiple of 8
		// bytes: no host reassembles it; a sender means harm or is broken.
		t.stats.FragBad++
		return nil
	}
	k := fragKey{src: p.Src, dst: p.Dst, id: p.FragID, ipv: p.IPv, vlan: p.VLAN}
	if p.IPv == 4 {
		k.proto = p.Proto
	}
	d := r.m[k]
	if d == nil {
		for len(r.m) >= t.cfg.MaxFragDatagrams && t.oldestFrag() != nil {
			t.dropOldestFrag()
		}
		d = r.alloc()
		d.key, d.first, d.total = k, t.now, -1
		r.m[k] = d
		if len(r.queue) >= 4*t.cfg.MaxFragDatagrams {
			// Completed datagrams wait behind an old incomplete one: drop them.
			r.queue = slices.DeleteFunc(r.queue, func(d *datagram) bool { return d.done })
		}
		r.queue = append(r.queue, d)
	}
	if off == 0 {
		d.proto = p.Proto
	}
	if !p.FragMore {
		switch {
		case d.total < 0 && (len(d.have) == 0 || d.have[len(d.have)-1].hi <= end):
			d.total = end
		case d.total != end:
			d.overlap = true // a second, different end: first wins
			t.stats.FragOverlaps++
			return nil
		}
	}
	if d.total >= 0 && end > d.total {
		d.overlap = true // bytes past the end
		t.stats.FragOverlaps++
		return nil
	}
	if grow := end - len(d.buf); grow > 0 {
		for r.bytes+grow > t.cfg.MaxFragBytes {
			o := t.oldestFrag()
			if o == nil || o == d {
				break
			}
			t.stats.FragDropped++
			t.dropFrag(o)
		}
		if r.bytes+grow > t.cfg.MaxFragBytes {
			t.stats.FragDropped++
			t.dropFrag(d)
			return nil
		}
		r.bytes += grow
		if end <= cap(d.buf) {
			d.buf = d.buf[:end]
		} else {
			d.buf = append(d.buf[:cap(d.buf)], make([]byte, end-cap(d.buf))...)
		}
	}
	if t.place(d, off, data) {
		t.stats.FragOverlaps++
		d.overlap = true
	}
	if d.total < 0 || len(d.have) != 1 || d.have[0].lo != 0 || d.have[0].hi != d.total {
		return nil
	}
	t.stats.Reassembled++
	r.bytes -= len(d.buf)
	delete(r.m, d.key)
	d.done = true
	d.buf = d.buf[:d.total]
	return d
}

// place copies the bytes of data not yet held into d (first wins) and
// records the span. It reports an inconsistent overlap: bytes that differ
// from those held. Overlapping bytes that agree (a fragment sent again,
// or cut differently) are only counted as duplicates.
func (t *Table) place(d *datagram, off int, data []byte) (inconsistent bool) {
	end := off + len(data)
	pos := off
	i := 0
	for ; i < len(d.have) && d.have[i].hi < off; i++ {
	}
	j := i
	dup := false
	for ; j < len(d.have) && d.have[j].lo <= end; j++ {
		h := d.have[j]
		lo, hi := max(h.lo, off), min(h.hi, end)
		if lo < hi {
			if bytes.Equal(d.buf[lo:hi], data[lo-off:hi-off]) {
				dup = true
			} else {
				inconsistent = true
			}
		}
		if pos < h.lo {
			copy(d.buf[pos:h.lo], data[pos-off:])
		}
		pos = max(pos, h.hi)
	}
	if pos < end {
		copy(d.buf[pos:end], data[pos-off:])
	}
	if dup && !inconsistent {
		t.stats.FragDuplicates++
	}
	// Spans i..j-1 touch [off, end): merge them into one.
	merged := span{off, end}
	if i < j {
		merged.lo = min(merged.lo, d.have[i].lo)
		merged.hi = max(merged.hi, d.have[j-1].hi)
	}
	d.have = slices.Replace(d.have, i, j, merged)
	return inconsistent
}

// expireFrags drops datagrams older than Config.FragTimeout.
func (t *Table) expireFrags() {
	r := &t.frag
	for len(r.queue) > 0 {
		d := r.queue[0]
		if !d.done && t.now-d.first <= int64(t.cfg.FragTimeout) {
			return
		}
		if !d.done {
			t.stats.FragTimeouts++
			t.dropFrag(d)
		}
		r.queue[0] = nil
		r.queue = r.queue[1:]
	}
}

// oldestFrag returns the oldest incomplete datagram, nil when none,
// after taking the finished ones off the front of the queue.
func (t *Table) oldestFrag() *datagram {
	r := &t.frag
	for len(r.queue) > 0 && r.queue[0].done {
		r.queue[0] = nil
		r.queue = r.queue[1:]
	}
	if len(r.queue) == 0 {
		return nil
	}
	return r.queue[0]
}

// dropOldestFrag drops the oldest incomplete datagram (the table's bounds).
func (t *Table) dropOldestFrag() {
	if d := t.oldestFrag(); d != nil {
		t.stats.FragDropped++
		t.dropFrag(d)
	}
}

func (t *Table) dropFrag(d *datagram) {
	r := &t.frag
	r.bytes -= len(d.buf)
	delete(r.m, d.key)
	d.done = true
	t.release(d)
}

// release keeps the buffer of a datagram that is done (dropped, or
// completed and delivered) for the next one.
func (t *Table) release(d *datagram) {
	r := &t.frag
	if d.buf != nil && cap(d.buf) <= maxDatagram && len(r.free) < 16 {
		r.free = append(r.free, d.buf[:0])
	}
	d.buf, d.have = nil, nil
}

func (r *defrag) alloc() *datagram {
	d := &datagram{}
	if n := len(r.free); n > 0 {
		d.buf = r.free[n-1]
		r.free = r.free[:n-1]
	}
	return d
}

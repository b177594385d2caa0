package flow

import (
	"sort"

	"github.com/otlink/otlink/internal/dissect"
)

// stream is the reassembly state of one TCP direction: 16 bytes, so that
// both directions share a cache line with the flow's other per-packet
// fields; out-of-order segments, rare, live behind a pointer.
type stream struct {
	nxt    uint32 // next expected sequence number
	acked  uint32 // highest ACK the peer sent for this direction
	init   bool
	hasAck bool
	ooo    *queue // out-of-order segments; nil when none
}

// queue holds the out-of-order segments of one direction.
type queue struct {
	segs     []seg // sorted by seq
	buffered int   // bytes in segs
}

// held is the number of segments held out of order.
func (s *stream) held() int {
	if s.ooo == nil {
		return 0
	}
	return len(s.ooo.segs)
}

// buffered is the number of bytes held out of order.
func (s *stream) buffered() int {
	if s.ooo == nil {
		return 0
	}
	return s.ooo.buffered
}

type seg struct {
	seq  uint32
	data []byte
}

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

func (t *Table) tcp(f *Flow, dir dissect.Dir, p *Packet) {
	s := &f.st[dir]
	if p.Flags&ACK != 0 {
		o := &f.st[1-dir]
		if !o.hasAck || seqLT(o.acked, p.Ack) {
			o.acked, o.hasAck = p.Ack, true
		}
		// The peer acknowledged bytes we never saw: capture loss. Skip the
		// hole now rather than wait for a retransmission that will not come.
		if o.held() > 0 && seqLT(o.nxt, o.ooo.segs[0].seq) && seqLEQ(o.ooo.segs[0].seq, p.Ack) {
			t.skipTo(f, 1-dir, o.ooo.segs[0].seq)
			t.drain(f, 1-dir)
		}
	}
	if p.Flags&SYN != 0 {
		s.init, s.nxt = true, p.Seq+1
		if p.Flags&ACK != 0 {
			f.oriented = true
		}
		return // data on a SYN (TCP Fast Open) is not delivered
	}
	if p.Flags&RST != 0 {
		t.close(f)
		return
	}
	if n := len(p.Payload); n > 0 {
		if !s.init {
			s.init, s.nxt = true, p.Seq
		}
		t.segment(f, dir, p.Seq, p.Payload)
	}
	if p.Flags&FIN != 0 {
		f.fin[dir] = true
		if f.fin[0] && f.fin[1] {
			t.close(f)
		}
	}
}

// segment places the bytes of seq..seq+len(b) in direction dir.
func (t *Table) segment(f *Flow, dir dissect.Dir, seq uint32, b []byte) {
	s := &f.st[dir]
	end := seq + uint32(len(b))
	if seqLEQ(end, s.nxt) {
		t.stats.Retransmits++
		return
	}
	if seqLEQ(seq, s.nxt) {
		b = b[s.nxt-seq:] // overlap with bytes already delivered
		s.nxt = end
		t.deliver(f, dir, b)
		if s.held() > 0 {
			t.drain(f, dir)
		}
		return
	}
	// A hole before seq. If the peer already acknowledged seq, the hole's
	// bytes were lost by the capture: skip it at once.
	if s.hasAck && seqLEQ(seq, s.acked) && s.held() == 0 {
		t.skipTo(f, dir, seq)
		s.nxt = end
		t.deliver(f, dir, b)
		return
	}
	t.stats.OutOfOrder++
	if s.buffered()+len(b) > t.cfg.MaxFlowBuffer || t.stats.Buffered+len(b) > t.cfg.MaxBuffer || s.held() >= t.cfg.MaxSegments {
		// Full: give up on the hole and everything buffered before seq.
		t.stats.Overflows++
		t.insert(s, seq, b, false)
		t.skipTo(f, dir, s.ooo.segs[0].seq)
		t.drainAll(f, dir)
		return
	}
	t.insert(s, seq, b, true)
}

func (t *Table) insert(s *stream, seq uint32, b []byte, cp bool) {
	if s.ooo == nil {
		s.ooo = &queue{}
	}
	q := s.ooo
	i := sort.Search(len(q.segs), func(i int) bool { return !seqLT(q.segs[i].seq, seq) })
	if i < len(q.segs) && q.segs[i].seq == seq && len(q.segs[i].data) >= len(b) {
		t.stats.Retransmits++
		return
	}
	if cp {
		b = append([]byte(nil), b...)
	}
	q.segs = append(q.segs, seg{})
	copy(q.segs[i+1:], q.segs[i:])
	q.segs[i] = seg{seq: seq, data: b}
	q.buffered += len(b)
	t.stats.Buffered += len(b)
}

// skipTo declares the bytes up to seq of direction dir lost.
func (t *Table) skipTo(f *Flow, dir dissect.Dir, seq uint32) {
	s := &f.st[dir]
	if !seqLT(s.nxt, seq) {
		return
	}
	t.stats.Gaps++
	t.stats.GapBytes += uint64(seq - s.nxt)
	f.Gaps++
	s.nxt = seq
	if f.parser != nil {
		f.parser.Gap(dir)
	}
}

// drain delivers buffered segments that have become in order.
func (t *Table) drain(f *Flow, dir dissect.Dir) {
	s := &f.st[dir]
	q := s.ooo
	if q == nil {
		return
	}
	i := 0
	for ; i < len(q.segs) && seqLEQ(q.segs[i].seq, s.nxt); i++ {
		sg := q.segs[i]
		q.buffered -= len(sg.data)
		t.stats.Buffered -= len(sg.data)
		end := sg.seq + uint32(len(sg.data))
		if seqLEQ(end, s.nxt) {
			t.stats.Retransmits++
			continue
		}
		b := sg.data[s.nxt-sg.seq:]
		s.nxt = end
		t.deliver(f, dir, b)
	}
	n := copy(q.segs, q.segs[i:])
	clear(q.segs[n:])
	q.segs = q.segs[:n]
	if n == 0 && s.ooo == q {
		s.ooo = nil
	}
}

// drainAll delivers every buffered segment, skipping holes between them.
func (t *Table) drainAll(f *Flow, dir dissect.Dir) {
	s := &f.st[dir]
	for s.held() > 0 {
		t.drain(f, dir)
		if s.held() > 0 {
			t.skipTo(f, dir, s.ooo.segs[0].seq)
		}
	}
}

// flush delivers what is buffered in both directions of f.
func (t *Table) flush(f *Flow) {
	cur := t.cur
	t.cur = f
	for d := range f.st {
		if f.st[d].held() > 0 {
			t.drainAll(f, dissect.Dir(d))
		}
	}
	t.cur = cur
}

package flow

import (
	"sort"

	"github.com/otlink/otlink/internal/dissect"
)

// stream is the reassembly state of one TCP direction.
type stream struct {
	init     bool
	nxt      uint32 // next expected sequence number
	acked    uint32 // highest ACK the peer sent for this direction
	hasAck   bool
	ooo      []seg // out-of-order segments, sorted by seq
	buffered int
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
		if len(o.ooo) > 0 && seqLT(o.nxt, o.ooo[0].seq) && seqLEQ(o.ooo[0].seq, p.Ack) {
			t.skipTo(f, 1-dir, o.ooo[0].seq)
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
		if len(s.ooo) > 0 {
			t.drain(f, dir)
		}
		return
	}
	// A hole before seq. If the peer already acknowledged seq, the hole's
	// bytes were lost by the capture: skip it at once.
	if s.hasAck && seqLEQ(seq, s.acked) && len(s.ooo) == 0 {
		t.skipTo(f, dir, seq)
		s.nxt = end
		t.deliver(f, dir, b)
		return
	}
	t.stats.OutOfOrder++
	if s.buffered+len(b) > t.cfg.MaxFlowBuffer || t.stats.Buffered+len(b) > t.cfg.MaxBuffer || len(s.ooo) >= t.cfg.MaxSegments {
		// Full: give up on the hole and everything buffered before seq.
		t.stats.Overflows++
		t.insert(s, seq, b, false)
		t.skipTo(f, dir, s.ooo[0].seq)
		t.drainAll(f, dir)
		return
	}
	t.insert(s, seq, b, true)
}

func (t *Table) insert(s *stream, seq uint32, b []byte, cp bool) {
	i := sort.Search(len(s.ooo), func(i int) bool { return !seqLT(s.ooo[i].seq, seq) })
	if i < len(s.ooo) && s.ooo[i].seq == seq && len(s.ooo[i].data) >= len(b) {
		t.stats.Retransmits++
		return
	}
	if cp {
		b = append([]byte(nil), b...)
	}
	s.ooo = append(s.ooo, seg{})
	copy(s.ooo[i+1:], s.ooo[i:])
	s.ooo[i] = seg{seq: seq, data: b}
	s.buffered += len(b)
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
	i := 0
	for ; i < len(s.ooo) && seqLEQ(s.ooo[i].seq, s.nxt); i++ {
		sg := s.ooo[i]
		s.buffered -= len(sg.data)
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
	n := copy(s.ooo, s.ooo[i:])
	clear(s.ooo[n:])
	s.ooo = s.ooo[:n]
	if n == 0 {
		s.ooo = nil
	}
}

// drainAll delivers every buffered segment, skipping holes between them.
func (t *Table) drainAll(f *Flow, dir dissect.Dir) {
	s := &f.st[dir]
	for len(s.ooo) > 0 {
		t.drain(f, dir)
		if len(s.ooo) > 0 {
			t.skipTo(f, dir, s.ooo[0].seq)
		}
	}
}

// flush delivers what is buffered in both directions of f.
func (t *Table) flush(f *Flow) {
	cur := t.cur
	t.cur = f
	for d := range f.st {
		if len(f.st[d].ooo) > 0 {
			t.drainAll(f, dissect.Dir(d))
		}
	}
	t.cur = cur
}

package coalesce

import (
	"fmt"
	"math"
	"sort"
)

// Span is the units a point occupies: [Start, Start+Count).
type Span struct {
	Start uint32
	Count uint32
}

// End returns the first unit after the span.
func (s Span) End() uint32 { return s.Start + s.Count }

// Read is one block read: Count units from Start. Points lists the indexes
// (into the slice given to Plan) of the points this read serves; every
// point is served by exactly one read, although an overlapping read may
// contain it too.
type Read struct {
	Start  uint32
	Count  uint32
	Points []int
}

// ErrTooLarge is returned (wrapped) when a point does not fit in one read.
type ErrTooLarge struct {
	Index int
	Span  Span
	Max   uint32
}

func (e *ErrTooLarge) Error() string {
	return fmt.Sprintf("point %d (%d units at %d) is larger than the %d units one read may cover", e.Index, e.Span.Count, e.Span.Start, e.Max)
}

// Plan returns the fewest reads that cover every point entirely, each at
// most max units long and with no run of more than gap units inside a read
// that no point contained in the read occupies. Among plans with the fewest
// reads it returns one that reads the fewest units in total. Points may
// overlap (bits of one register); points of Count 0 are invalid.
//
// The plan is optimal, not greedy. Let the points still unread be those
// ending after some unit E (at the start: all). The unread point that starts
// first, P, must be in some read; that read can start no later than P and
// serves every unread point ending within it, so what remains unread is
// again "the points ending after E'" for the read's end E'. A dynamic
// programme over the distinct ends therefore finds the optimum; a read
// starts at P or, to bridge a gap with units that already-read points
// occupy, at the start of an already-read point that spans P's start.
// Feasibility of all ends for one start is found in O(max) with the
// earliest end at which each unit becomes occupied.
//
// The cost is O(n·max) time for n points; points that do not overlap (the
// usual case) take a simpler programme over runs of consecutive points.
// Either is fast enough to re-plan 10,000 points at every reload.
func Plan(points []Span, max, gap uint32) ([]Read, error) {
	n := len(points)
	if n == 0 {
		return nil, nil
	}
	if max == 0 {
		return nil, fmt.Errorf("coalesce: max units per read is 0")
	}
	for i, p := range points {
		if p.Count == 0 {
			return nil, fmt.Errorf("coalesce: point %d has no units", i)
		}
		if p.Count > max {
			return nil, &ErrTooLarge{Index: i, Span: p, Max: max}
		}
		if uint64(p.Start)+uint64(p.Count) > math.MaxUint32 {
			return nil, fmt.Errorf("coalesce: point %d runs past the end of the address space", i)
		}
	}
	if r, ok := planDisjoint(points, max, gap); ok {
		return r, nil
	}
	p := planner{pts: points, max: max, gap: gap}
	return p.plan(), nil
}

// planDisjoint is the common case of points that do not overlap: sorted by
// start, a read serves a run of consecutive points, so f[i] (the cost of
// reading points i..n-1) is the least, over the last point j of the run
// starting at i, of one read plus f[j+1]. It reports false, without a plan,
// when points overlap.
func planDisjoint(points []Span, max, gap uint32) ([]Read, bool) {
	n := len(points)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return points[idx[a]].Start < points[idx[b]].Start })
	for k := 1; k < n; k++ {
		if points[idx[k]].Start < points[idx[k-1]].End() {
			return nil, false
		}
	}
	f := make([]cost, n+1)
	last := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		f[i] = cost{reads: math.MaxInt}
		start := points[idx[i]].Start
		for j := i; j < n; j++ {
			p := points[idx[j]]
			if p.End()-start > max {
				break
			}
			if j > i && p.Start-points[idx[j-1]].End() > gap {
				break
			}
			c := cost{reads: f[j+1].reads + 1, units: f[j+1].units + uint64(p.End()-start)}
			if c.less(f[i]) {
				f[i], last[i] = c, j
			}
		}
	}
	var reads []Read
	for i := 0; i < n; i = last[i] + 1 {
		j := last[i]
		r := Read{Start: points[idx[i]].Start, Count: points[idx[j]].End() - points[idx[i]].Start, Points: make([]int, 0, j-i+1)}
		for k := i; k <= j; k++ {
			r.Points = append(r.Points, idx[k])
		}
		sort.Ints(r.Points)
		reads = append(reads, r)
	}
	return reads, true
}

type cost struct {
	reads int
	units uint64
}

func (a cost) less(b cost) bool {
	return a.reads < b.reads || (a.reads == b.reads && a.units < b.units)
}

type planner struct {
	pts      []Span
	max, gap uint32

	byStart []int    // point indexes sorted by start, then end
	byEnd   []int    // point indexes sorted by end, then start
	ends    []uint32 // distinct ends, ascending; state k>0 means "ends <= ends[k-1] are read"
	// scratch, sized max
	occ  []uint32 // earliest end at which unit s+u is occupied by a point starting >= s
	endM []bool   // a point starting >= s ends at s+u+1
	tmin []uint32 // min of occ over [u, u+gap]
	deq  []uint32
	out  []uint32
}

func (p *planner) plan() []Read {
	n := len(p.pts)
	p.byStart = make([]int, n)
	p.byEnd = make([]int, n)
	for i := range p.byStart {
		p.byStart[i] = i
		p.byEnd[i] = i
	}
	pts := p.pts
	sort.Slice(p.byStart, func(a, b int) bool {
		x, y := pts[p.byStart[a]], pts[p.byStart[b]]
		if x.Start != y.Start {
			return x.Start < y.Start
		}
		return x.End() < y.End()
	})
	sort.Slice(p.byEnd, func(a, b int) bool {
		x, y := pts[p.byEnd[a]], pts[p.byEnd[b]]
		if x.End() != y.End() {
			return x.End() < y.End()
		}
		return x.Start < y.Start
	})
	for _, i := range p.byEnd {
		e := pts[i].End()
		if len(p.ends) == 0 || p.ends[len(p.ends)-1] != e {
			p.ends = append(p.ends, e)
		}
	}
	k := len(p.ends)
	// firstUnread[s] = index into byEnd of the first point unread in state s.
	firstUnread := make([]int, k+1)
	for s, j := 1, 0; s <= k; s++ {
		for j < n && pts[p.byEnd[j]].End() <= p.ends[s-1] {
			j++
		}
		firstUnread[s] = j
	}
	// lead[s] = the unread point with the least start (then least end) in state s.
	lead := make([]int, k+1)
	best := -1
	for s, j := k-1, n-1; s >= 0; s-- {
		for ; j >= firstUnread[s]; j-- {
			i := p.byEnd[j]
			if best < 0 || pts[i].Start < pts[best].Start || (pts[i].Start == pts[best].Start && pts[i].End() <= pts[best].End()) {
				best = i
			}
		}
		lead[s] = best
	}

	p.occ = make([]uint32, p.max)
	p.endM = make([]bool, p.max)
	p.tmin = make([]uint32, p.max)

	f := make([]cost, k+1)
	next := make([]int, k+1) // state after the chosen read
	from := make([]uint32, k+1)
	for s := k - 1; s >= 0; s-- {
		f[s] = cost{reads: math.MaxInt}
		ld := pts[lead[s]]
		var covered uint32 // ends <= covered are read
		if s > 0 {
			covered = p.ends[s-1]
		}
		try := func(start uint32) {
			// ends[t-1] walks up with the offered ends, which ascend.
			t := sort.Search(k, func(i int) bool { return p.ends[i] >= ld.End() }) + 1
			for _, end := range p.scan(start, ld.End()) {
				for p.ends[t-1] < end {
					t++
				}
				c := cost{reads: f[t].reads + 1, units: f[t].units + uint64(end-start)}
				if c.less(f[s]) {
					f[s], next[s], from[s] = c, t, start
				}
			}
		}
		try(ld.Start)
		if s > 0 {
			// Already-read points that span the lead's start may bridge gaps.
			lo := sort.Search(n, func(i int) bool { return pts[p.byStart[i]].Start+p.max >= ld.End() })
			tried, any := uint32(0), false
			for i := lo; i < n; i++ {
				q := pts[p.byStart[i]]
				if q.Start >= ld.Start {
					break
				}
				if q.End() > ld.Start && q.End() <= covered && (!any || tried != q.Start) {
					tried, any = q.Start, true
					try(q.Start)
				}
			}
		}
	}

	var reads []Read
	for s := 0; s < k; s = next[s] {
		start := from[s]
		t := next[s]
		r := Read{Start: start, Count: p.ends[t-1] - start}
		for j := firstUnread[s]; j < n && pts[p.byEnd[j]].End() <= p.ends[t-1]; j++ {
			r.Points = append(r.Points, p.byEnd[j])
		}
		sort.Ints(r.Points)
		reads = append(reads, r)
	}
	return reads
}

// scan returns, ascending, every end >= minEnd at which a read from start
// (a point's start) is within max and has no gap over the limit. Only ends
// of points starting at or after start are offered. The slice is reused.
func (p *planner) scan(start, minEnd uint32) []uint32 {
	pts := p.pts
	L := p.max
	if last := p.ends[len(p.ends)-1]; last-start < L {
		L = last - start
	}
	out := p.out[:0]
	occ, endM := p.occ[:L], p.endM[:L]
	for u := range occ {
		occ[u] = math.MaxUint32
		endM[u] = false
	}
	lo := sort.Search(len(p.byStart), func(i int) bool { return pts[p.byStart[i]].Start >= start })
	for i := lo; i < len(p.byStart); i++ {
		q := pts[p.byStart[i]]
		if q.Start-start >= L {
			break
		}
		e := q.End()
		if e-start > L {
			continue
		}
		endM[e-start-1] = true
		for u := q.Start - start; u < e-start; u++ {
			if e < occ[u] {
				occ[u] = e
			}
		}
	}
	// tmin[u] = min(occ[u..u+gap]): the end at which the window of gap+1
	// units from u stops being all empty. A read to end has a gap over the
	// limit iff some window lying inside it has tmin > end.
	w := p.gap + 1
	var prefMax uint32 // max of tmin[0..u-w] over windows inside [start, end)
	// Sliding minimum over occ with a deque of indexes dq[h:].
	if cap(p.deq) < int(L) {
		p.deq = make([]uint32, L)
	}
	dq, h := p.deq[:0], 0
	var nWin uint32
	if L >= w {
		nWin = L - w + 1
	}
	var win, pushed uint32 // next window to fold into prefMax; next unit to push
	for u := uint32(0); u < L; u++ {
		end := start + u + 1
		// Fold in the windows lying fully inside [start, end).
		for win < nWin && win+w <= u+1 {
			for ; pushed < win+w; pushed++ {
				for len(dq) > h && occ[dq[len(dq)-1]] >= occ[pushed] {
					dq = dq[:len(dq)-1]
				}
				dq = append(dq, pushed)
			}
			for dq[h] < win {
				h++
			}
			if m := occ[dq[h]]; m > prefMax {
				prefMax = m
			}
			win++
		}
		if prefMax > start+L {
			break // a gap no later point fills: no longer read is feasible
		}
		if !endM[u] || end < minEnd {
			continue
		}
		if prefMax <= end {
			out = append(out, end)
		}
	}
	p.out = out
	return out
}

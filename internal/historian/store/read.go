package store

import (
	"context"
	"math"
	"path"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/model"
)

// Raw iterates tag's samples with from <= Source < to in source-time
// order, merging sealed chunks, amending segments and the open chunk (on
// equal times: in the order they were stored). Chunks are decoded lazily,
// one at a time unless they overlap, without allocating per sample.
func (s *Store) Raw(ctx context.Context, tag string, from, to int64) (historian.Iterator, error) {
	if err := ctx.Err(); err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "read %s", tag)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errcode.New(errcode.StoreClosed, "read %s: store closed", tag)
	}
	m := &merge{from: from, to: to}
	sr := s.series[tag]
	if sr == nil || from >= to {
		return m, nil
	}
	// The open chunk is newer than everything stored, so it is a last
	// source that starts where the stored ones end.
	for i := range sr.open {
		if t := sr.open[i].src; t >= from && t < to {
			m.open = append(m.open, openSample(sr, i))
		}
	}
	lo := satSub(from, s.maxSpan-1)
	for _, p := range []byte{prefixChunk, prefixAmend} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: chunkBound(p, sr.id, lo), UpperBound: chunkBound(p, sr.id, to)})
		if err != nil {
			m.Close()
			return nil, errcode.Wrap(errcode.StoreRead, err, "read %s", tag)
		}
		it.First()
		m.lists = append(m.lists, it)
	}
	return m, nil
}

// merge is the Raw iterator: a heap of active chunk iterators, fed from
// the pebble iterators in minT order.
type merge struct {
	from, to int64
	lists    []*pebble.Iterator
	open     []model.Sample
	openI    int
	heap     []*source
	ord      int
	cur      *model.Sample // in the top source's iterator or in open
	err      error
	started  bool
	free     []*source
	// nmT and nmI cache nextMin: the lists move only in activate.
	nmT   int64
	nmI   int
	nmSet bool
}

type source struct {
	it  chunk.Iter
	buf []byte // the chunk bytes (pebble's are valid only until Next)
	ord int
	t   int64 // source time of it.Current()
}

func (m *merge) less(a, b *source) bool {
	return a.t < b.t || a.t == b.t && a.ord < b.ord
}

func (m *merge) push(x *source) {
	m.heap = append(m.heap, x)
	i := len(m.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !m.less(m.heap[i], m.heap[p]) {
			break
		}
		m.heap[i], m.heap[p] = m.heap[p], m.heap[i]
		i = p
	}
}

func (m *merge) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && m.less(h[r], h[l]) {
			j = r
		}
		if !m.less(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// nextMin is the smallest minT of the chunks not yet activated.
func (m *merge) nextMin() (int64, int) {
	if !m.nmSet {
		m.nmT, m.nmI = m.scanMin()
		m.nmSet = true
	}
	return m.nmT, m.nmI
}

func (m *merge) scanMin() (int64, int) {
	best, bi := int64(math.MaxInt64), -1
	for i, it := range m.lists {
		if it.Valid() {
			if t := keyMinT(it.Key()); t < best || bi < 0 {
				best, bi = t, i
			}
		}
	}
	return best, bi
}

// activate decodes the chunk under list i and pushes it when it has
// samples in range.
func (m *merge) activate(i int) bool {
	it := m.lists[i]
	var src *source
	if n := len(m.free); n > 0 {
		src, m.free = m.free[n-1], m.free[:n-1]
	} else {
		src = &source{}
	}
	src.buf = append(src.buf[:0], it.Value()...)
	it.Next()
	m.nmSet = false
	r, err := chunk.Decode(src.buf)
	if err != nil {
		m.err = errcode.Wrap(errcode.StoreRead, err, "read chunk")
		return false
	}
	if r.MaxT() < m.from {
		m.free = append(m.free, src)
		return true
	}
	src.it.Reset(r)
	for src.it.Next() {
		if s := src.it.Current(); s.Source >= m.from {
			if s.Source >= m.to {
				break
			}
			src.t = s.Source
			m.ord++
			src.ord = m.ord
			m.push(src)
			return true
		}
	}
	if err := src.it.Err(); err != nil {
		m.err = errcode.Wrap(errcode.StoreRead, err, "read chunk")
		return false
	}
	m.free = append(m.free, src)
	return true
}

func (m *merge) Next() bool {
	if m.err != nil {
		return false
	}
	if m.started && len(m.heap) > 0 {
		// Advance the source the last sample came from.
		top := m.heap[0]
		if top.it.Next() && top.it.Current().Source < m.to {
			top.t = top.it.Current().Source
			if len(m.heap) > 1 {
				m.down(0)
			}
		} else {
			if err := top.it.Err(); err != nil {
				m.err = errcode.Wrap(errcode.StoreRead, err, "read chunk")
				return false
			}
			n := len(m.heap) - 1
			m.heap[0] = m.heap[n]
			m.heap = m.heap[:n]
			m.free = append(m.free, top)
			if n > 0 {
				m.down(0)
			}
		}
	}
	m.started = true
	for {
		t, i := m.nextMin()
		if i < 0 || len(m.heap) > 0 && t > m.heap[0].t {
			break
		}
		if !m.activate(i) {
			return false
		}
	}
	if len(m.heap) > 0 {
		m.cur = m.heap[0].it.Current()
		return true
	}
	// Stored chunks are done; the open chunk is newer than all of them.
	m.started = false
	if m.openI < len(m.open) {
		m.cur = &m.open[m.openI]
		m.openI++
		return true
	}
	return false
}

func (m *merge) At() model.Sample {
	if m.cur == nil {
		return model.Sample{}
	}
	return *m.cur
}
func (m *merge) Err() error { return m.err }

func (m *merge) Close() error {
	for _, it := range m.lists {
		_ = it.Close()
	}
	m.lists = nil
	m.heap = nil
	return nil
}

// Before returns the last sample of tag with Source < t.
func (s *Store) Before(ctx context.Context, tag string, t int64) (model.Sample, bool, error) {
	if err := ctx.Err(); err != nil {
		return model.Sample{}, false, errcode.Wrap(errcode.StoreRead, err, "read %s", tag)
	}
	s.mu.RLock()
	sr := s.series[tag]
	if s.closed || sr == nil {
		s.mu.RUnlock()
		return model.Sample{}, false, nil
	}
	if i := sort.Search(len(sr.open), func(i int) bool { return sr.open[i].src >= t }); i > 0 {
		smp := openSample(sr, i-1)
		s.mu.RUnlock()
		return smp, true, nil
	}
	var its []*pebble.Iterator
	for _, p := range []byte{prefixChunk, prefixAmend} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: chunkBound(p, sr.id, math.MinInt64), UpperBound: chunkBound(p, sr.id, t)})
		if err != nil {
			s.mu.RUnlock()
			return model.Sample{}, false, errcode.Wrap(errcode.StoreRead, err, "read %s", tag)
		}
		its = append(its, it)
	}
	s.mu.RUnlock()
	var best model.Sample
	found := false
	for _, it := range its {
		for it.Last(); it.Valid(); it.Prev() {
			if found && keyMinT(it.Key()) <= satSub(best.Source, s.maxSpan) {
				break
			}
			r, err := chunk.Decode(it.Value())
			if err != nil {
				for _, it := range its {
					it.Close()
				}
				return model.Sample{}, false, errcode.Wrap(errcode.StoreRead, err, "read %s", tag)
			}
			ci := r.Iter()
			for ci.Next() {
				smp := ci.At()
				if smp.Source >= t {
					break
				}
				if !found || smp.Source >= best.Source {
					best, found = smp, true
					best.Value = cloneValue(best.Value)
				}
			}
		}
		it.Close()
	}
	return best, found, nil
}

// cloneValue copies a string value out of a chunk's buffer.
func cloneValue(v model.Value) model.Value {
	if v.T == model.String {
		return model.StringValue(string([]byte(v.Str())))
	}
	return v
}

// Latest returns the newest sample of each tag from memory: O(tags).
func (s *Store) Latest(ctx context.Context, tags []string) ([]model.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "read latest")
	}
	out := make([]model.Sample, len(tags))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, tag := range tags {
		sr := s.series[tag]
		switch {
		case sr != nil && len(sr.open) > 0:
			out[i] = openSample(sr, len(sr.open)-1)
		case sr != nil && sr.stored.count > 0:
			out[i] = sr.stored.latest
			out[i].Tag = tag
		default:
			out[i] = model.Sample{Tag: tag, Quality: model.BadWaitingForInitialData}
		}
	}
	return out, nil
}

// Tags lists the stored tags matching glob (path.Match; "" matches all).
func (s *Store) Tags(ctx context.Context, glob string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "list tags")
	}
	if glob != "" {
		if _, err := path.Match(glob, ""); err != nil {
			return nil, errcode.Wrap(errcode.StoreRead, err, "list tags matching %q", glob)
		}
	}
	s.mu.RLock()
	out := make([]string, 0, len(s.series))
	for tag := range s.series {
		if ok, _ := path.Match(glob, tag); glob == "" || ok {
			out = append(out, tag)
		}
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

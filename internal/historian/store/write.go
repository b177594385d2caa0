package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/model"
)

// Write stores samples. It returns when they are in the WAL: durable
// against a killed process, and with SyncAlways against a power cut.
// Concurrent writers are committed together (one write, one fsync).
// Samples already stored (same tag, source time, value and quality) are
// dropped; samples older than their tag's open chunk go to an amending
// segment. Source and server times are truncated to TimePrecision.
//
// Write does not keep samples after it returns. Once it has started
// writing, it finishes even when ctx is cancelled, so that the WAL and
// memory agree.
func (s *Store) Write(ctx context.Context, samples []model.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return errcode.Wrap(errcode.StoreWrite, err, "write %d samples", len(samples))
	}
	for i := range samples {
		if samples[i].Tag == "" || samples[i].Value.T > model.String {
			return errcode.New(errcode.StoreWrite, "write sample %d of %d: no tag or value type %d", i, len(samples), samples[i].Value.T)
		}
	}
	req := &request{samples: samples, done: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	if s.leading {
		s.qmu.Unlock()
		<-req.done
		return req.err
	}
	s.leading = true
	for len(s.queue) > 0 {
		q := s.queue
		s.queue = nil
		s.qmu.Unlock()
		err := s.commit(q)
		for _, r := range q {
			r.err = err
			close(r.done)
		}
		s.qmu.Lock()
	}
	s.leading = false
	s.qmu.Unlock()
	return req.err
}

// norm applies the time precision.
func (s *Store) norm(smp *model.Sample) {
	p := int64(s.opts.TimePrecision)
	smp.Source = floorTo(smp.Source, p)
	smp.Server = floorTo(smp.Server, p)
}

// commit writes a group of requests to the WAL as one record and applies
// it to the open chunks.
func (s *Store) commit(q []*request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errcode.New(errcode.StoreClosed, "write samples: store closed")
	}
	total := 0
	for _, r := range q {
		total += len(r.samples)
	}
	refs := s.refs[:0]
	defs := s.defs[:0]
	var created []*series
	b := append(s.buf[:0], make([]byte, recHeaderSize)...)
	b = append(b, recSamples)
	b = appendUvarint(b, uint64(total))
	for _, r := range q {
		for i := range r.samples {
			smp := r.samples[i]
			s.norm(&smp)
			sr := s.series[smp.Tag]
			if sr == nil {
				sr = &series{id: uint32(len(s.byID) + 1), tag: smp.Tag, typ: smp.Value.T}
				s.addSeries(sr)
				created = append(created, sr)
				defs = appendSeriesRecord(defs, sr)
			}
			refs = append(refs, sr)
			b = appendUvarint(b, uint64(sr.id))
			b = appendWALSample(b, &smp)
		}
	}
	frame(b, 0)
	s.buf, s.refs = b, refs
	out := b
	if len(defs) > 0 {
		defs = append(defs, b...)
		out = defs
	}
	s.defs = defs[:0]
	pos, err := s.wal.append(out, s.opts.Sync == SyncAlways)
	if err != nil {
		for _, sr := range created {
			delete(s.series, sr.tag)
			s.byID = s.byID[:sr.id-1]
		}
		return err
	}
	pos.off += int64(len(out) - len(b))
	for _, sr := range created {
		k, v := encodeSeries(sr)
		s.batchSet(k, v)
	}
	k := 0
	for _, r := range q {
		for i := range r.samples {
			smp := r.samples[i]
			s.norm(&smp)
			if err := s.apply(refs[k], &smp, pos); err != nil {
				return err
			}
			k++
		}
	}
	if err := s.writeLate(pos); err != nil {
		return err
	}
	if err := s.commitBatch(false); err != nil {
		return err
	}
	if s.wal.size >= s.opts.SegmentSize {
		return s.checkpoint()
	}
	return nil
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendSeriesRecord(b []byte, sr *series) []byte {
	hdr := len(b)
	b = append(b, make([]byte, recHeaderSize)...)
	b = append(b, recSeries)
	b = appendUvarint(b, uint64(sr.id))
	b = append(b, byte(sr.typ))
	b = appendUvarint(b, uint64(len(sr.tag)))
	b = append(b, sr.tag...)
	frame(b, hdr)
	return b
}

func (s *Store) batchSet(k, v []byte) {
	if s.batch == nil {
		s.batch = s.db.NewIndexedBatch()
	}
	_ = s.batch.Set(k, v, nil)
}

// commitBatch commits what sealing wrote. It syncs when asked or when a
// ledger is set (a ledger entry must never name a chunk a crash can lose);
// otherwise the WAL keeps the samples until a synced commit (checkpoint).
func (s *Store) commitBatch(sync bool) error {
	if s.batch == nil {
		if sync {
			if err := s.db.LogData(nil, pebble.Sync); err != nil {
				return errcode.Wrap(errcode.StoreWrite, err, "sync store")
			}
		}
		return nil
	}
	wo := pebble.NoSync
	if sync || s.opts.Ledger != nil {
		wo = pebble.Sync
	}
	err := s.batch.Commit(wo)
	s.batch.Close()
	s.batch = nil
	if err != nil {
		return errcode.Wrap(errcode.StoreWrite, err, "commit sealed chunks")
	}
	if len(s.pending) > 0 {
		if err := s.flushLedger(context.Background()); err != nil {
			s.log.Warn("store ledger pending", "code", errcode.StoreLedger.String(), "err", err)
		}
	}
	return nil
}

// checkpoint starts a new WAL segment and deletes the segments whose
// samples are all sealed, sealing early the open chunks that hold the
// oldest segments when there are more than MaxSegments.
func (s *Store) checkpoint() error {
	if err := s.wal.rotate(); err != nil {
		return err
	}
	end := walPos{s.wal.seg, walHeaderSize}
	if n := len(s.wal.segs); n > s.opts.MaxSegments {
		keep := s.wal.segs[n-s.opts.MaxSegments+1]
		for _, sr := range s.byID {
			if sr != nil && len(sr.open) > 0 && sr.openSeg < keep {
				if err := s.seal(sr, end); err != nil {
					return err
				}
			}
		}
	}
	if err := s.commitBatch(true); err != nil {
		return err
	}
	minSeg := s.wal.seg
	for _, sr := range s.byID {
		if sr != nil && len(sr.open) > 0 {
			minSeg = min(minSeg, sr.openSeg)
		}
	}
	s.wal.removeBefore(minSeg)
	return nil
}

// apply adds one sample to its series: dropped as a duplicate, into the
// open chunk (sealing it when full), or to the group's late samples.
func (s *Store) apply(sr *series, smp *model.Sample, pos walPos) error {
	v := smp.Value
	if v.IsValid() && v.T != sr.typ {
		if sr.valued > 0 {
			if err := s.seal(sr, pos); err != nil {
				return err
			}
		}
		sr.typ = v.T
	}
	if s.isDup(sr, smp) {
		s.stats.Duplicates++
		return nil
	}
	// Hook (rollup.go): the sample's rollup intervals need (re)computing.
	s.markRollups(sr, smp.Source)
	if sr.stored.count > 0 && smp.Source <= sr.stored.max {
		s.addLate(sr, smp)
		return nil
	}
	span := int64(s.opts.MaxSpan)
	n := len(sr.open)
	switch {
	case n == 0:
		s.push(sr, smp, 0)
		sr.openSeg = pos.seg
	case smp.Source >= sr.open[n-1].src:
		if smp.Source-sr.open[0].src >= span {
			if err := s.seal(sr, pos); err != nil {
				return err
			}
			sr.openSeg = pos.seg
			n = 0
		}
		s.push(sr, smp, n)
	default:
		if sr.open[n-1].src-min(smp.Source, sr.open[0].src) >= span {
			// It would stretch the open chunk too far: seal it, and the
			// sample is then older than what is stored.
			if err := s.seal(sr, pos); err != nil {
				return err
			}
			s.addLate(sr, smp)
			return nil
		}
		at := sort.Search(n, func(i int) bool { return sr.open[i].src > smp.Source })
		s.push(sr, smp, at)
	}
	s.stats.Samples++
	if len(sr.open) >= s.opts.MaxSamples {
		return s.seal(sr, pos)
	}
	return nil
}

func toOpen(smp *model.Sample) osample {
	o := osample{src: smp.Source, srv: smp.Server, q: smp.Quality, code: smp.Code, t: smp.Value.T}
	if smp.Value.IsValid() && smp.Value.T != model.String {
		o.bits = valueBits(smp.Value)
	}
	return o
}

func (s *Store) push(sr *series, smp *model.Sample, at int) {
	o := toOpen(smp)
	if o.t != model.TypeInvalid {
		sr.valued++
	}
	str := ""
	if smp.Value.T == model.String {
		str = smp.Value.Str()
	}
	if at == len(sr.open) {
		sr.open = append(sr.open, o)
		if sr.typ == model.String || sr.strs != nil {
			sr.strs = append(sr.strs, str)
		}
		return
	}
	sr.open = slices.Insert(sr.open, at, o)
	if sr.typ == model.String || sr.strs != nil {
		for len(sr.strs) < len(sr.open)-1 {
			sr.strs = append(sr.strs, "")
		}
		sr.strs = slices.Insert(sr.strs, at, str)
	}
}

// openSample returns open sample i of sr as a model.Sample.
func openSample(sr *series, i int) model.Sample {
	o := &sr.open[i]
	str := ""
	if o.t == model.String && i < len(sr.strs) {
		str = sr.strs[i]
	}
	return model.Sample{Tag: sr.tag, Value: valueOf(o.t, o.bits, str), Quality: o.q, Source: o.src, Server: o.srv, Code: o.code}
}

func sameSample(a, b *model.Sample) bool {
	return a.Source == b.Source && a.Quality == b.Quality && a.Value.Equal(b.Value)
}

// isDup reports whether smp is stored already. The common case, a sample
// newer than anything stored, costs two comparisons; a redelivered sample
// of the open chunk a binary search; an older one a lookup of the stored
// chunks, cached per series.
func (s *Store) isDup(sr *series, smp *model.Sample) bool {
	n := len(sr.open)
	last := sr.stored.max
	if n > 0 {
		last = max(last, sr.open[n-1].src)
	}
	if (n == 0 && sr.stored.count == 0) || smp.Source > last {
		return false
	}
	for _, l := range s.late[sr] {
		if sameSample(&l, smp) {
			return true
		}
	}
	if n > 0 && smp.Source >= sr.open[0].src {
		i := sort.Search(n, func(i int) bool { return sr.open[i].src >= smp.Source })
		for ; i < n && sr.open[i].src == smp.Source; i++ {
			o := openSample(sr, i)
			if sameSample(&o, smp) {
				return true
			}
		}
		return false
	}
	if sr.stored.count > 0 && smp.Source <= sr.stored.max {
		return s.isStored(sr, smp)
	}
	return false
}

// isStored looks smp up in the stored chunks of sr. It caches the samples
// of the chunks that overlap smp's time, valid up to the next chunk's
// start, so that a redelivered run of samples costs one lookup per chunk.
func (s *Store) isStored(sr *series, smp *model.Sample) bool {
	t := smp.Source
	if !sr.cacheSet || t < sr.cacheLo || t > sr.cacheHi {
		if err := s.loadCache(sr, t); err != nil {
			s.log.Error("store dedupe lookup failed", "code", errcode.Of(err).String(), "tag", sr.tag, "err", err)
			return false // storing twice is better than losing it
		}
	}
	c := sr.cache
	i := sort.Search(len(c), func(i int) bool { return c[i].Source >= t })
	for ; i < len(c) && c[i].Source == t; i++ {
		if sameSample(&c[i], smp) {
			return true
		}
	}
	return false
}

func (s *Store) newIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	if s.batch != nil {
		return s.batch.NewIter(o)
	}
	return s.db.NewIter(o)
}

func (s *Store) loadCache(sr *series, t int64) error {
	sr.cache = sr.cache[:0]
	sr.cacheSet = false
	hi := int64(math.MaxInt64)
	for _, p := range []byte{prefixChunk, prefixAmend} {
		it, err := s.newIter(&pebble.IterOptions{LowerBound: chunkBound(p, sr.id, satSub(t, s.maxSpan-1)), UpperBound: chunkBound(p, sr.id+1, math.MinInt64)})
		if err != nil {
			return errcode.Wrap(errcode.StoreRead, err, "look up %s", sr.tag)
		}
		for it.First(); it.Valid(); it.Next() {
			if minT := keyMinT(it.Key()); minT > t {
				hi = min(hi, minT-1)
				break
			}
			r, err := chunk.Decode(it.Value())
			if err != nil {
				it.Close()
				return err
			}
			if r.MaxT() < t {
				continue
			}
			ci := r.Iter()
			for ci.Next() {
				sr.cache = append(sr.cache, ci.At())
			}
			if err := ci.Err(); err != nil {
				it.Close()
				return err
			}
		}
		if err := it.Close(); err != nil {
			return errcode.Wrap(errcode.StoreRead, err, "look up %s", sr.tag)
		}
	}
	slices.SortStableFunc(sr.cache, func(a, b model.Sample) int { return cmp.Compare(a.Source, b.Source) })
	sr.cacheLo, sr.cacheHi, sr.cacheSet = t, hi, true
	return nil
}

func satSub(t, d int64) int64 {
	if t < math.MinInt64+d {
		return math.MinInt64
	}
	return t - d
}

func (s *Store) addLate(sr *series, smp *model.Sample) {
	if s.late == nil {
		s.late = map[*series][]model.Sample{}
	}
	l := *smp
	l.Tag = sr.tag
	s.late[sr] = append(s.late[sr], l)
	s.stats.Samples++
	s.stats.Late++
}

// seal encodes sr's open chunk and puts it, with the series metadata, in
// the pending batch. pos is the WAL record being applied: every earlier
// record of sr is now sealed.
func (s *Store) seal(sr *series, pos walPos) error {
	n := len(sr.open)
	if n == 0 {
		return nil
	}
	typ := sr.typ
	if typ == model.TypeInvalid {
		typ = model.Float64 // only samples without a value
	}
	s.enc.Reset(sr.tag, typ)
	for i := range n {
		if err := s.enc.Append(openSample(sr, i)); err != nil {
			return errcode.Wrap(errcode.StoreWrite, err, "seal chunk of %s", sr.tag)
		}
	}
	minT, maxT := sr.open[0].src, sr.open[n-1].src
	if err := s.putChunk(sr, prefixChunk, minT, maxT, n); err != nil {
		return err
	}
	if sr.stored.count == 0 || maxT >= sr.stored.latest.Source {
		sr.stored.latest = openSample(sr, n-1)
	}
	sr.sealedPos = pos
	sr.open, sr.strs, sr.valued = sr.open[:0], sr.strs[:0], 0
	s.stats.Sealed++
	k, v := encodeSeries(sr)
	s.batchSet(k, v)
	return nil
}

// putChunk writes the encoder's chunk under a new key of sr and updates
// the stored metadata (not latest) and the ledger.
func (s *Store) putChunk(sr *series, prefix byte, minT, maxT int64, n int) error {
	s.cbuf = s.enc.AppendTo(s.cbuf[:0])
	sr.seq++
	key := chunkKey(prefix, sr.id, minT, sr.seq)
	s.batchSet(key, s.cbuf)
	if sr.stored.count == 0 {
		sr.stored.first, sr.stored.max = minT, maxT
	} else {
		sr.stored.first, sr.stored.max = min(sr.stored.first, minT), max(sr.stored.max, maxT)
	}
	sr.stored.count += uint64(n)
	sr.cache, sr.cacheSet = sr.cache[:0], false
	if s.opts.Ledger == nil {
		return nil
	}
	r, err := chunk.Decode(s.cbuf)
	if err != nil {
		return errcode.Wrap(errcode.StoreWrite, err, "re-read sealed chunk of %s", sr.tag)
	}
	h := chunk.NewLeafHasher(sr.tag, n)
	it := r.Iter()
	for it.Next() {
		h.Add(it.At())
	}
	if it.Err() != nil {
		return errcode.Wrap(errcode.StoreWrite, it.Err(), "re-read sealed chunk of %s", sr.tag)
	}
	e := LedgerEntry{Amend: prefix == prefixAmend, Tag: sr.tag, Seq: uint64(sr.seq), Key: keyString(key),
		From: minT, To: maxT, Count: uint64(n), DataHash: h.Sum()}
	s.batchSet(pendingKey(sr.id, sr.seq), encodePending(&e))
	s.pending = append(s.pending, e)
	return nil
}

// keyString renders a chunk key for people and the ledger:
// c/<series id>/<min time ns>/<seq>.
func keyString(k []byte) string {
	return fmt.Sprintf("%c/%d/%d/%d", k[0], be32(k[1:]), keyMinT(k), be32(k[13:]))
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// writeLate writes the group's late samples as amending segments: sorted,
// split by MaxSamples, MaxSpan and value type.
func (s *Store) writeLate(pos walPos) error {
	span := int64(s.opts.MaxSpan)
	for sr, ls := range s.late {
		slices.SortStableFunc(ls, func(a, b model.Sample) int {
			switch {
			case a.Source < b.Source:
				return -1
			case a.Source > b.Source:
				return 1
			}
			return 0
		})
		for len(ls) > 0 {
			typ := model.TypeInvalid
			n := 0
			for n < len(ls) && n < s.opts.MaxSamples && ls[n].Source-ls[0].Source < span {
				if t := ls[n].Value.T; t != model.TypeInvalid {
					if typ == model.TypeInvalid {
						typ = t
					} else if t != typ {
						break
					}
				}
				n++
			}
			if typ == model.TypeInvalid {
				typ = model.Float64
			}
			s.enc.Reset(sr.tag, typ)
			for i := range n {
				if err := s.enc.Append(ls[i]); err != nil {
					return errcode.Wrap(errcode.StoreWrite, err, "write amending segment of %s", sr.tag)
				}
			}
			if err := s.putChunk(sr, prefixAmend, ls[0].Source, ls[n-1].Source, n); err != nil {
				return err
			}
			s.stats.Amends++
			ls = ls[n:]
		}
		k, v := encodeSeries(sr)
		s.batchSet(k, v)
		delete(s.late, sr)
	}
	return nil
}

// replay reads the WAL into the open chunks at Open, truncating a torn
// tail, then starts a new segment.
func (s *Store) replay() error {
	dir := filepath.Join(s.dir, "wal")
	segs, err := listSegments(dir)
	if err != nil {
		return errcode.Wrap(errcode.StoreOpen, err, "list wal segments")
	}
	s.wal = &wal{dir: dir}
	for _, seg := range segs {
		name := filepath.Join(dir, segName(seg))
		data, err := os.ReadFile(name)
		if err != nil {
			return errcode.Wrap(errcode.StoreOpen, err, "read wal segment %d", seg)
		}
		end, err := readSegment(data, func(off int64, p []byte) error {
			return s.replayRecord(walPos{seg, off}, p)
		})
		if err != nil {
			return err
		}
		if end < int64(len(data)) {
			s.stats.TornBytes += int64(len(data)) - end
			s.log.Warn("store wal tail truncated", "code", errcode.StoreWAL.String(), "segment", seg, "bytes", int64(len(data))-end)
			if end == 0 {
				err = os.Remove(name)
			} else {
				err = os.Truncate(name, end)
			}
			if err != nil {
				return errcode.Wrap(errcode.StoreOpen, err, "truncate wal segment %d", seg)
			}
			if end == 0 {
				continue
			}
		}
		s.wal.segs = append(s.wal.segs, seg)
	}
	if err := s.commitBatch(true); err != nil {
		return err
	}
	next := uint64(1)
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	if err := s.wal.create(next); err != nil {
		return err
	}
	minSeg := s.wal.seg
	for _, sr := range s.byID {
		if sr != nil && len(sr.open) > 0 {
			minSeg = min(minSeg, sr.openSeg)
		}
	}
	s.wal.removeBefore(minSeg)
	return nil
}

func (s *Store) replayRecord(pos walPos, p []byte) error {
	rec, err := decodeRecord(p)
	if err != nil {
		// The CRC matched, so this is not a torn write: log and go on.
		s.log.Error("store wal record skipped", "code", errcode.StoreCorrupt.String(), "segment", pos.seg, "offset", pos.off, "err", err)
		return nil
	}
	switch rec.kind {
	case recSeries:
		if int(rec.id) <= len(s.byID) && s.byID[rec.id-1] != nil {
			return nil
		}
		if old := s.series[rec.tag]; old != nil {
			s.log.Error("store wal series redefined", "code", errcode.StoreCorrupt.String(), "tag", rec.tag)
			return nil
		}
		sr := &series{id: rec.id, tag: rec.tag, typ: rec.typ}
		s.addSeries(sr)
		k, v := encodeSeries(sr)
		s.batchSet(k, v)
	case recSamples:
		for i := range rec.samples {
			if int(rec.ids[i]) > len(s.byID) || s.byID[rec.ids[i]-1] == nil {
				continue
			}
			sr := s.byID[rec.ids[i]-1]
			if pos.less(sr.sealedPos) {
				continue
			}
			smp := rec.samples[i]
			smp.Tag = sr.tag
			if err := s.apply(sr, &smp, pos); err != nil {
				return err
			}
			s.stats.Replayed++
		}
		if err := s.writeLate(pos); err != nil {
			return err
		}
	}
	return nil
}

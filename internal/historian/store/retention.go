package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// RetentionRule says how long a class of tags is kept (docs/retention.md).
// A zero duration keeps that kind of data forever.
type RetentionRule struct {
	// Match is a path.Match glob on the tag path ("*" stops at "/");
	// "" matches every tag.
	Match string
	// Raw: sealed chunks and amending segments whose newest sample is
	// older than now - Raw are deleted, whole.
	Raw time.Duration
	// Rollup1m, Rollup1h: rollup rows whose interval ended before
	// now - Rollup1m (Rollup1h) are deleted.
	Rollup1m time.Duration
	Rollup1h time.Duration
	// Name is the policy name recorded in the integrity log.
	Name string
}

// PurgeEntry announces a retention purge of one tag to the ledger, before
// anything is deleted.
type PurgeEntry struct {
	Tag      string
	From, To int64    // source times: first sample of the oldest, last of the newest purged chunk
	Policy   string   // RetentionRule.Name
	Actor    string   // who ran the purge
	Chunks   uint64   // sealed chunks and amending segments removed
	Leaves   []uint64 // ledger leaf indexes of their entries, increasing; those it knows
	Samples  uint64   // samples in them (not recorded in an integrity log)
	Segments uint64   // of Chunks, how many were amending segments
}

// PurgeLedger is a Ledger that can say where entries landed and record
// purges. A store whose Ledger is not a PurgeLedger refuses to purge, so
// that no deletion goes unrecorded.
type PurgeLedger interface {
	Ledger
	// RecordIndexed records entries like Record and returns the leaf
	// index of the first; the others follow it.
	RecordIndexed(ctx context.Context, entries []LedgerEntry) (first uint64, err error)
	// RecordPurge records a purge.
	RecordPurge(ctx context.Context, p PurgeEntry) error
}

func (il integrityLedger) RecordIndexed(ctx context.Context, entries []LedgerEntry) (uint64, error) {
	es := make([]integrity.Entry, len(entries))
	for i, e := range entries {
		k := integrity.KindChunk
		if e.Amend {
			k = integrity.KindAmend
		}
		es[i] = integrity.Entry{Kind: k, Tag: e.Tag, Seq: e.Seq, Key: e.Key, Count: e.Count,
			From: time.Unix(0, e.From).UTC(), To: time.Unix(0, e.To).UTC(), DataHash: integrity.Hash(e.DataHash)}
	}
	return il.l.Append(ctx, es...)
}

func (il integrityLedger) RecordPurge(ctx context.Context, p PurgeEntry) error {
	_, err := il.l.Append(ctx, integrity.Entry{Kind: integrity.KindPurge, Tag: p.Tag, From: time.Unix(0, p.From).UTC(),
		To: time.Unix(0, p.To).UTC(), Policy: p.Policy, Actor: p.Actor, Count: p.Chunks, Leaves: p.Leaves})
	return err
}

var _ PurgeLedger = integrityLedger{}

// PurgeReport says what one Purge deleted.
type PurgeReport struct {
	Tags       int           // tags with something deleted
	Chunks     uint64        // sealed chunks and amending segments deleted
	Samples    uint64        // samples in them
	RollupRows uint64        // rollup rows deleted
	Entries    int           // purge entries recorded in the ledger
	Ranges     []PurgedRange // one per purge entry
}

// PurgedRange is one recorded purge.
type PurgedRange struct {
	Tag, Policy string
	From, To    int64
	Chunks      uint64
	Samples     uint64
	Leaves      int // how many leaf indexes the entry names
}

// maxPurgeChunks bounds the chunks of one purge entry (and one batch), well
// under the integrity log's limit of leaf indexes per entry.
const maxPurgeChunks = 100_000

func (o *Options) checkRetention() error {
	for i, r := range o.Retention {
		if r.Match != "" {
			if _, err := path.Match(r.Match, ""); err != nil {
				return errcode.Wrap(errcode.StoreRetention, err, "retention rule %d (%q): match %q", i, r.Name, r.Match)
			}
		}
		if r.Raw < 0 || r.Rollup1m < 0 || r.Rollup1h < 0 {
			return errcode.New(errcode.StoreRetention, "retention rule %d (%q): negative duration", i, r.Name)
		}
		if r.Name == "" {
			return errcode.New(errcode.StoreRetention, "retention rule %d (match %q): no policy name", i, r.Match)
		}
	}
	return o.Rollup.check()
}

// rule returns the retention rule of tag, nil when none matches.
func (s *Store) rule(tag string) *RetentionRule {
	for i := range s.opts.Retention {
		r := &s.opts.Retention[i]
		if r.Match == "" {
			return r
		}
		if ok, _ := path.Match(r.Match, tag); ok {
			return r
		}
	}
	return nil
}

// Purge applies the retention rules at time now: for each tag it deletes
// the sealed chunks and amending segments whose newest sample is older
// than now - Raw (whole chunks; a chunk that straddles the cut stays),
// and the rollup rows past their retention. Before deleting chunks it
// records one purge entry per tag in the ledger, naming the leaves of the
// chunks removed, so that verification reports a purge and not a gap; a
// failed record deletes nothing. Pending rollups of the data about to go
// are computed first. who is recorded as the actor.
func (s *Store) Purge(ctx context.Context, now time.Time, who string) (PurgeReport, error) {
	var rep PurgeReport
	if len(s.opts.Retention) == 0 {
		return rep, nil
	}
	if s.opts.Ledger != nil {
		if _, ok := s.opts.Ledger.(PurgeLedger); !ok {
			return rep, errcode.New(errcode.StorePurgeLedger, "purge: the ledger cannot record purges")
		}
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return rep, errcode.New(errcode.StoreClosed, "purge: store closed")
	}
	all := slices.Clone(s.byID)
	s.mu.RUnlock()
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	t := now.UnixNano()
	for _, sr := range all {
		if sr == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, errcode.Wrap(errcode.StorePurge, err, "purge")
		}
		r := s.rule(sr.tag)
		if r == nil {
			continue
		}
		did := false
		if r.Raw > 0 {
			cut := satSub(t, int64(r.Raw))
			if s.opts.Rollup.Enable {
				// Roll up what is about to go, lateness or not.
				if err := s.rollupBefore(ctx, sr, cut); err != nil {
					return rep, err
				}
			}
			n := len(rep.Ranges)
			if err := s.purgeRaw(ctx, sr, r, cut, who, &rep); err != nil {
				return rep, err
			}
			did = len(rep.Ranges) > n
		}
		for l, keep := range []time.Duration{r.Rollup1m, r.Rollup1h} {
			if keep <= 0 {
				continue
			}
			n, err := s.purgeRollups(sr, level(l), satSub(t, int64(keep)))
			if err != nil {
				return rep, err
			}
			rep.RollupRows += n
			did = did || n > 0
		}
		if did {
			rep.Tags++
		}
	}
	return rep, nil
}

// expired is a chunk or segment to purge.
type expired struct {
	key        []byte
	minT, maxT int64
	n          uint64
}

// purgeRaw purges the chunks of sr whose newest sample is before cut, in
// entries of at most maxPurgeChunks.
func (s *Store) purgeRaw(ctx context.Context, sr *series, r *RetentionRule, cut int64, who string, rep *PurgeReport) error {
	for range math.MaxInt32 / maxPurgeChunks { // bounded: each round removes maxPurgeChunks or ends
		more, err := s.purgeRound(ctx, sr, r, cut, who, rep)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (s *Store) purgeRound(ctx context.Context, sr *series, r *RetentionRule, cut int64, who string, rep *PurgeReport) (more bool, err error) {
	// The write lock keeps sealing and ledger flushes out while the
	// chunks, their leaves and the purge entry are gathered and recorded.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errcode.New(errcode.StoreClosed, "purge %s: store closed", sr.tag)
	}
	if err := s.flushLedger(ctx); err != nil {
		// A chunk not yet in the log would show up after its own purge.
		return false, errcode.Wrap(errcode.StorePurge, err, "purge %s", sr.tag)
	}
	var ex []expired
	segs := uint64(0)
	for _, p := range []byte{prefixChunk, prefixAmend} {
		it, err := s.newIter(&pebble.IterOptions{LowerBound: chunkBound(p, sr.id, math.MinInt64), UpperBound: chunkBound(p, sr.id, cut)})
		if err != nil {
			return false, errcode.Wrap(errcode.StorePurge, err, "purge %s", sr.tag)
		}
		for it.First(); it.Valid() && len(ex) < maxPurgeChunks; it.Next() {
			v := it.Value()
			if len(v) < chunk.HeaderSize {
				continue // damaged: leave it for verify to report
			}
			// The header alone: the newest time and the count.
			maxT := int64(binary.LittleEndian.Uint64(v[20:]))
			if maxT >= cut {
				continue
			}
			ex = append(ex, expired{key: slices.Clone(it.Key()), minT: keyMinT(it.Key()), maxT: maxT, n: uint64(binary.LittleEndian.Uint32(v[8:]))})
			if p == prefixAmend {
				segs++
			}
		}
		more = more || it.Valid()
		if err := it.Close(); err != nil {
			return false, errcode.Wrap(errcode.StorePurge, err, "purge %s", sr.tag)
		}
	}
	if len(ex) == 0 {
		return false, nil
	}
	pe := PurgeEntry{Tag: sr.tag, From: math.MaxInt64, To: math.MinInt64, Policy: r.Name, Actor: who, Chunks: uint64(len(ex)), Segments: segs}
	gone := make(map[string]bool, len(ex))
	for _, e := range ex {
		pe.From, pe.To = min(pe.From, e.minT), max(pe.To, e.maxT)
		pe.Samples += e.n
		gone[string(e.key)] = true
	}
	// Leaf indexes: the l keys of this series below the cut, filtered.
	var leafKeys [][]byte
	for _, p := range []byte{prefixChunk, prefixAmend} {
		lo := append([]byte{prefixLeaf}, chunkBound(p, sr.id, math.MinInt64)...)
		hi := append([]byte{prefixLeaf}, chunkBound(p, sr.id, cut)...)
		it, err := s.newIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return false, errcode.Wrap(errcode.StorePurge, err, "purge %s", sr.tag)
		}
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()
			if len(k) != 1+17+8 || !gone[string(k[1:18])] {
				continue
			}
			pe.Leaves = append(pe.Leaves, binary.BigEndian.Uint64(k[18:]))
			leafKeys = append(leafKeys, slices.Clone(k))
		}
		if err := it.Close(); err != nil {
			return false, errcode.Wrap(errcode.StorePurge, err, "purge %s", sr.tag)
		}
	}
	slices.Sort(pe.Leaves)
	pe.Leaves = slices.Compact(pe.Leaves)
	if s.opts.Ledger != nil {
		if err := s.opts.Ledger.(PurgeLedger).RecordPurge(ctx, pe); err != nil {
			return false, errcode.Wrap(errcode.StorePurgeLedger, err, "record purge of %d chunks of %s", len(ex), sr.tag)
		}
	}
	b := s.db.NewBatch()
	for _, e := range ex {
		_ = b.Delete(e.key, nil)
	}
	for _, k := range leafKeys {
		_ = b.Delete(k, nil)
	}
	// The horizon keeps rollups of purged time from being recomputed
	// from what is left.
	hz := s.horizon(sr.id)
	if cut > hz {
		_ = b.Set(horizonKey(sr.id), binary.BigEndian.AppendUint64(nil, uint64(cut)), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return false, errcode.Wrap(errcode.StorePurge, err, "delete %d chunks of %s", len(ex), sr.tag)
	}
	sr.cache, sr.cacheSet = sr.cache[:0], false
	s.stats.PurgedChunks += uint64(len(ex))
	s.stats.PurgedSamples += pe.Samples
	rep.Chunks += uint64(len(ex))
	rep.Samples += pe.Samples
	if s.opts.Ledger != nil {
		rep.Entries++
	}
	rep.Ranges = append(rep.Ranges, PurgedRange{Tag: sr.tag, Policy: r.Name, From: pe.From, To: pe.To, Chunks: pe.Chunks, Samples: pe.Samples, Leaves: len(pe.Leaves)})
	s.log.Info("store purge", "tag", sr.tag, "policy", r.Name, "chunks", len(ex), "samples", pe.Samples, "leaves", len(pe.Leaves))
	return more, nil
}

// RunRetention runs Purge every interval until ctx ends, logging what it
// does; it returns nil when ctx ends or the store closes.
func (s *Store) RunRetention(ctx context.Context, every time.Duration, who string) error {
	if every <= 0 {
		return errcode.New(errcode.StoreRetention, "retention interval %v, want > 0", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.Purge(ctx, time.Now(), who); err != nil {
			if errcode.Of(err) == errcode.StoreClosed || ctx.Err() != nil {
				return nil
			}
			s.log.Error("store retention failed", "code", errcode.Of(err).String(), "err", err)
		}
	}
}

func horizonKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixHorizon}, id)
}

// horizon is the time before which raw data of series id was purged.
func (s *Store) horizon(id uint32) int64 {
	v, c, err := s.db.Get(horizonKey(id))
	if err != nil {
		return math.MinInt64
	}
	defer c.Close()
	if len(v) != 8 {
		return math.MinInt64
	}
	return int64(binary.BigEndian.Uint64(v))
}

// putLeafIndexes notes in b where the ledger recorded s.pending, the
// first at leaf index first.
func (s *Store) putLeafIndexes(b *pebble.Batch, first uint64) {
	for i, e := range s.pending {
		sr := s.series[e.Tag]
		if sr == nil {
			continue
		}
		p := byte(prefixChunk)
		if e.Amend {
			p = prefixAmend
		}
		k := append([]byte{prefixLeaf}, chunkKey(p, sr.id, e.From, uint32(e.Seq))...)
		k = binary.BigEndian.AppendUint64(k, first+uint64(i))
		_ = b.Set(k, nil, nil)
	}
}

// RecomputeLeaf re-reads the chunk or amending segment of a ledger entry
// and returns the hash of its samples; integrity.ErrNoData (wrapped) when
// it is gone. It is what integrity.VerifyOptions.Recompute expects.
func (s *Store) RecomputeLeaf(ctx context.Context, e integrity.Entry) (integrity.Hash, error) {
	var h *chunk.LeafHasher
	err := s.chunkByKey(ctx, e.Key, func(r *chunk.Reader) error {
		h = chunk.NewLeafHasher(e.Tag, r.Len())
		it := r.Iter()
		for it.Next() {
			h.Add(it.At())
		}
		return it.Err()
	})
	if err != nil {
		return integrity.Hash{}, err
	}
	return integrity.Hash(h.Sum()), nil
}

// ChunkSamples returns the samples of the chunk or amending segment that
// a ledger entry names by its key, exactly as stored: what an evidence
// bundle carries. integrity.ErrNoData (wrapped) when it is gone.
func (s *Store) ChunkSamples(ctx context.Context, key string) ([]model.Sample, error) {
	var out []model.Sample
	err := s.chunkByKey(ctx, key, func(r *chunk.Reader) (err error) {
		out, err = r.Samples(make([]model.Sample, 0, r.Len()))
		return err
	})
	return out, err
}

// chunkByKey decodes the stored chunk of a ledger key and hands it to fn
// while its bytes are valid.
func (s *Store) chunkByKey(ctx context.Context, key string, fn func(*chunk.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k, err := parseKeyString(key)
	if err != nil {
		return err
	}
	v, c, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return errcode.Wrap(errcode.StoreRead, integrity.ErrNoData, "chunk %s", key)
	}
	if err != nil {
		return errcode.Wrap(errcode.StoreRead, err, "chunk %s", key)
	}
	defer c.Close()
	r, err := chunk.Decode(v)
	if err != nil {
		return err
	}
	return fn(r)
}

// parseKeyString is the inverse of keyString.
func parseKeyString(s string) ([]byte, error) {
	f := strings.Split(s, "/")
	if len(f) != 4 || (f[0] != "c" && f[0] != "a") {
		return nil, errcode.New(errcode.StoreCorrupt, "chunk key %q", s)
	}
	id, err1 := strconv.ParseUint(f[1], 10, 32)
	minT, err2 := strconv.ParseInt(f[2], 10, 64)
	seq, err3 := strconv.ParseUint(f[3], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errcode.New(errcode.StoreCorrupt, "chunk key %q", s)
	}
	k := chunkKey(f[0][0], uint32(id), minT, uint32(seq))
	if !bytes.Equal([]byte(keyString(k)), []byte(s)) {
		return nil, errcode.New(errcode.StoreCorrupt, "chunk key %q", s)
	}
	return k, nil
}

package store

import (
	"context"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// level is a rollup resolution.
type level uint8

const (
	level1m   level = 0
	level1h   level = 1
	numLevels       = 2
)

var levelIntervals = [numLevels]int64{int64(time.Minute), int64(time.Hour)}
var levelNames = [numLevels]string{"1m", "1h"}

func (l level) interval() int64 { return levelIntervals[l] }

// Defaults of RollupOptions.
const (
	DefaultRollupLateness = time.Minute
	DefaultRollupMaxMarks = 4096
	maxRollupRun          = 1440 // intervals aggregated in one pass over the raw data
	maxLookback           = 64   // samples read back for the value at a run's start
	maxRollupRows         = agg.MaxBuckets
)

// RollupOptions configure the rollups. They are off by default: with
// Enable false nothing is marked and RollupPass does nothing.
type RollupOptions struct {
	Enable bool
	// Lateness is how long after an interval's end its rollup waits for
	// late samples before it is first computed (default 1 min). Later
	// samples still recompute it.
	Lateness time.Duration
	// MaxMarks bounds the dirty marks one RollupPass looks at (default 4096).
	MaxMarks int
	// AggOptions gives a tag's Part 13 options (stepped, uncertain as
	// bad, percent good/bad), as the query layer uses them; nil: defaults.
	AggOptions func(tag string) agg.Options
}

func (o *RollupOptions) check() error {
	if o.Lateness == 0 {
		o.Lateness = DefaultRollupLateness
	}
	if o.MaxMarks == 0 {
		o.MaxMarks = DefaultRollupMaxMarks
	}
	if o.Lateness < 0 || o.MaxMarks < 0 {
		return errcode.New(errcode.StoreBadOption, "rollup lateness %v or max marks %d negative", o.Lateness, o.MaxMarks)
	}
	return nil
}

// rollupState is the Store's rollup bookkeeping.
type rollupState struct {
	mu     sync.Mutex // one pass or purge at a time
	cursor []byte     // where the next pass resumes its scan of the marks
}

// rollMark is what a series remembers of its marks at one level: the
// interval marked last (so a run of samples marks once), and the lowest
// interval marked since a pass took this level's marks (see commitRun).
type rollMark struct {
	last    int64
	lastSet bool
	low     int64
}

// RollupRow is one rollup interval [Start, End) of a tag, computed by
// agg.Aggregate over the raw samples with the tag's options. Numeric
// fields are NaN where agg's are (no good sample). A row exists only for
// intervals that hold at least one sample.
type RollupRow struct {
	Start, End       int64
	Status           model.Quality // agg.Result.Status
	Samples          int           // samples in the interval, good or not
	Count            int           // good samples
	Min, Max         float64
	MinTime, MaxTime int64
	First, Last      float64 // first and last good values
	FirstTime        int64
	LastTime         int64
	Sum              float64 // of good values
	Average          float64
	TimeAverage      float64
	Total            float64 // time integral, value × seconds
	StdDevPopulation float64
	PercentGood      float64
	DurationGood     int64
	Transitions      int
}

const rollupVersion = 1

func rollupKey(p byte, l level, id uint32, start int64) []byte {
	k := make([]byte, 14)
	k[0] = p
	k[1] = byte(l)
	binary.BigEndian.PutUint32(k[2:], id)
	binary.BigEndian.PutUint64(k[6:], timeKey(start))
	return k
}

func rollupKeyStart(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[6:]) ^ 1<<63) }

func encodeRollup(r *RollupRow) []byte {
	v := make([]byte, 0, 1+4*4+16*8)
	v = append(v, rollupVersion)
	v = binary.BigEndian.AppendUint32(v, uint32(r.Status))
	v = binary.BigEndian.AppendUint32(v, uint32(r.Samples))
	v = binary.BigEndian.AppendUint32(v, uint32(r.Count))
	v = binary.BigEndian.AppendUint32(v, uint32(r.Transitions))
	v = binary.BigEndian.AppendUint64(v, uint64(r.End-r.Start))
	for _, f := range []float64{r.Min, r.Max, r.First, r.Last, r.Sum, r.Average, r.TimeAverage, r.Total, r.StdDevPopulation, r.PercentGood} {
		v = binary.BigEndian.AppendUint64(v, math.Float64bits(f))
	}
	for _, t := range []int64{r.MinTime, r.MaxTime, r.FirstTime, r.LastTime, r.DurationGood} {
		v = binary.BigEndian.AppendUint64(v, uint64(t))
	}
	return v
}

func decodeRollup(start int64, v []byte) (RollupRow, error) {
	var r RollupRow
	if len(v) != 1+4*4+16*8 || v[0] != rollupVersion {
		return r, errcode.New(errcode.StoreCorrupt, "rollup row at %d: %d bytes, version %d", start, len(v), v[0])
	}
	r.Start = start
	r.Status = model.Quality(binary.BigEndian.Uint32(v[1:]))
	r.Samples = int(binary.BigEndian.Uint32(v[5:]))
	r.Count = int(binary.BigEndian.Uint32(v[9:]))
	r.Transitions = int(binary.BigEndian.Uint32(v[13:]))
	r.End = start + int64(binary.BigEndian.Uint64(v[17:]))
	p := v[25:]
	for _, f := range []*float64{&r.Min, &r.Max, &r.First, &r.Last, &r.Sum, &r.Average, &r.TimeAverage, &r.Total, &r.StdDevPopulation, &r.PercentGood} {
		*f = math.Float64frombits(binary.BigEndian.Uint64(p))
		p = p[8:]
	}
	for _, t := range []*int64{&r.MinTime, &r.MaxTime, &r.FirstTime, &r.LastTime, &r.DurationGood} {
		*t = int64(binary.BigEndian.Uint64(p))
		p = p[8:]
	}
	return r, nil
}

func rowOf(r *agg.Result, samples int) RollupRow {
	row := RollupRow{Start: r.Start, End: r.End, Status: r.Status, Samples: samples, Count: r.Count,
		Min: r.Minimum, Max: r.Maximum, MinTime: r.MinimumTime, MaxTime: r.MaximumTime,
		First: math.NaN(), Last: math.NaN(), Sum: math.NaN(), Average: r.Average, TimeAverage: r.TimeAverage,
		Total: r.Total, StdDevPopulation: r.StdDevPopulation, PercentGood: r.PercentGood,
		DurationGood: r.DurationGood, Transitions: r.Transitions}
	if r.Count > 0 {
		row.First, row.FirstTime = r.First.Value.Float(), r.First.Source
		row.Last, row.LastTime = r.Last.Value.Float(), r.Last.Source
		row.Sum = r.Average * float64(r.Count)
	}
	return row
}

// markRollups is the write path's hook: sample time t of sr landed, so
// its intervals and their neighbours (whose bounds it may change: the
// value at an interval's end is interpolated towards the next sample, and
// NumberOfTransitions looks at the previous one) need (re)computing. The
// marks go into the same pebble batch as the samples' chunks; samples
// still only in the WAL mark again on replay.
func (s *Store) markRollups(sr *series, t int64) {
	if !s.opts.Rollup.Enable || sr.typ == model.String {
		return
	}
	for l := range level(numLevels) {
		iv := l.interval()
		st := floorTo(t, iv)
		m := &sr.roll[l]
		if m.lastSet && m.last == st {
			continue
		}
		m.last, m.lastSet = st, true
		m.low = min(m.low, st-iv)
		for k := int64(-1); k <= 1; k++ {
			s.batchSet(rollupKey(prefixDirty, l, sr.id, st+k*iv), nil)
		}
	}
}

// RollupReport says what one RollupPass did.
type RollupReport struct {
	Marks    int  // dirty marks looked at
	Computed int  // intervals computed (a row written or removed)
	Rows     int  // rows written
	Dropped  int  // marks dropped: before the purge horizon, or of a string tag
	More     bool // the scan stopped at MaxMarks: call again
}

// RollupPass computes the rollup intervals marked dirty whose end plus
// Lateness is before now, looking at no more than MaxMarks marks. Passes
// resume where the previous one stopped, so marks that are not ready yet
// cannot starve the others.
func (s *Store) RollupPass(ctx context.Context, now time.Time) (RollupReport, error) {
	var rep RollupReport
	if !s.opts.Rollup.Enable {
		return rep, nil
	}
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return rep, err
	}
	lo, hi := []byte{prefixDirty}, []byte{prefixDirty + 1}
	start := lo
	if s.roll.cursor != nil {
		start = s.roll.cursor
	}
	type group struct {
		l      level
		id     uint32
		starts []int64
	}
	var groups []group
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: hi})
	if err != nil {
		return rep, errcode.Wrap(errcode.StoreRollup, err, "read rollup marks")
	}
	n := 0
	for it.First(); it.Valid() && n < s.opts.Rollup.MaxMarks; it.Next() {
		k := it.Key()
		n++
		if len(k) != 14 || k[1] >= numLevels {
			continue
		}
		l, id, st := level(k[1]), binary.BigEndian.Uint32(k[2:]), rollupKeyStart(k)
		if len(groups) == 0 || groups[len(groups)-1].l != l || groups[len(groups)-1].id != id {
			groups = append(groups, group{l: l, id: id})
		}
		g := &groups[len(groups)-1]
		g.starts = append(g.starts, st)
	}
	if it.Valid() {
		s.roll.cursor = append(s.roll.cursor[:0], it.Key()...)
		rep.More = true
	} else {
		s.roll.cursor = nil
	}
	if err := it.Close(); err != nil {
		return rep, errcode.Wrap(errcode.StoreRollup, err, "read rollup marks")
	}
	rep.Marks = n
	ready := now.UnixNano() - int64(s.opts.Rollup.Lateness)
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return rep, errcode.Wrap(errcode.StoreRollup, err, "rollup pass")
		}
		s.mu.RLock()
		var sr *series
		if int(g.id) <= len(s.byID) {
			sr = s.byID[g.id-1]
		}
		s.mu.RUnlock()
		var starts []int64
		for _, st := range g.starts {
			if st+g.l.interval() <= ready {
				starts = append(starts, st)
			}
		}
		if len(starts) == 0 {
			continue
		}
		if sr == nil {
			continue
		}
		r, err := s.rollupMarks(ctx, sr, g.l, starts)
		rep.Computed += r.Computed
		rep.Rows += r.Rows
		rep.Dropped += r.Dropped
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errcode.New(errcode.StoreClosed, "rollups: store closed")
	}
	return nil
}

// rollupBefore computes the marked intervals of sr, both levels, that
// start before the cut, ready or not: Purge calls it before the raw data
// under them goes. s.roll.mu must be held.
func (s *Store) rollupBefore(ctx context.Context, sr *series, cut int64) error {
	for l := range level(numLevels) {
		lo := rollupKey(prefixDirty, l, sr.id, math.MinInt64)
		hi := rollupKey(prefixDirty, l, sr.id, cut)
		var starts []int64
		for range math.MaxInt32 / maxRollupRows { // bounded: each round takes maxRollupRows marks or ends
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
			if err != nil {
				return errcode.Wrap(errcode.StoreRollup, err, "read rollup marks of %s", sr.tag)
			}
			starts = starts[:0]
			for it.First(); it.Valid() && len(starts) < maxRollupRows; it.Next() {
				starts = append(starts, rollupKeyStart(it.Key()))
			}
			more := it.Valid()
			if err := it.Close(); err != nil {
				return errcode.Wrap(errcode.StoreRollup, err, "read rollup marks of %s", sr.tag)
			}
			if _, err := s.rollupMarks(ctx, sr, l, starts); err != nil {
				return err
			}
			if !more {
				break
			}
			lo = rollupKey(prefixDirty, l, sr.id, starts[len(starts)-1]+1)
		}
	}
	return nil
}

// rollupMarks computes the marked intervals starts (sorted) of sr at level
// l, in runs of consecutive intervals, and drops their marks.
func (s *Store) rollupMarks(ctx context.Context, sr *series, l level, starts []int64) (RollupReport, error) {
	var rep RollupReport
	if len(starts) == 0 {
		return rep, nil
	}
	iv := l.interval()
	s.mu.Lock()
	typ := sr.typ
	// From here on a write into these intervals marks them again (low).
	sr.roll[l].lastSet = false
	sr.roll[l].low = math.MaxInt64
	hz := s.horizon(sr.id)
	s.mu.Unlock()
	if typ == model.String {
		rep.Dropped += len(starts)
		return rep, s.commitRun(sr, l, nil, starts, nil)
	}
	var keep, drop []int64
	for _, st := range starts {
		if st < hz {
			drop = append(drop, st)
		} else {
			keep = append(keep, st)
		}
	}
	if len(drop) > 0 {
		rep.Dropped += len(drop)
		if err := s.commitRun(sr, l, nil, drop, nil); err != nil {
			return rep, err
		}
	}
	for len(keep) > 0 {
		n := 1
		for n < len(keep) && n < maxRollupRun && keep[n] == keep[n-1]+iv {
			n++
		}
		a, b := keep[0], keep[n-1]+iv
		rs, counts, err := s.aggregateRun(ctx, sr.tag, a, b, iv)
		if err != nil {
			return rep, err
		}
		var rows []RollupRow
		var empty []int64
		for i := range rs {
			if counts[i] > 0 {
				rows = append(rows, rowOf(&rs[i], counts[i]))
			} else {
				empty = append(empty, rs[i].Start)
			}
		}
		if err := s.commitRun(sr, l, rows, keep[:n], empty); err != nil {
			return rep, err
		}
		rep.Computed += n
		rep.Rows += len(rows)
		keep = keep[n:]
	}
	return rep, nil
}

// commitRun writes rows, removes the rows of intervals found empty, and
// drops the marks of starts unless a write marked this level again at or
// below them since rollupMarks began (then the next pass recomputes).
func (s *Store) commitRun(sr *series, l level, rows []RollupRow, starts, empty []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errcode.New(errcode.StoreClosed, "rollups of %s: store closed", sr.tag)
	}
	b := s.db.NewBatch()
	for i := range rows {
		_ = b.Set(rollupKey(prefixRollup, l, sr.id, rows[i].Start), encodeRollup(&rows[i]), nil)
	}
	for _, st := range empty {
		_ = b.Delete(rollupKey(prefixRollup, l, sr.id, st), nil)
	}
	dropped := 0
	if sr.roll[l].low > starts[len(starts)-1] {
		for _, st := range starts {
			_ = b.Delete(rollupKey(prefixDirty, l, sr.id, st), nil)
		}
		dropped = len(starts)
	}
	// Rollups are derived data: a lost commit leaves the marks, and the
	// next pass computes the same rows again.
	if err := b.Commit(pebble.NoSync); err != nil {
		return errcode.Wrap(errcode.StoreRollup, err, "write rollups of %s", sr.tag)
	}
	s.stats.RollupsWritten += uint64(len(rows))
	s.stats.RollupMarks += uint64(dropped)
	return nil
}

// aggregateRun runs agg.Aggregate over [a, b) by iv on tag's raw samples,
// led in as the query layer does (back to the last good sample before a)
// and read on to the first sample at or after b. counts are the samples,
// good or not, in each interval.
func (s *Store) aggregateRun(ctx context.Context, tag string, a, b, iv int64) ([]agg.Result, []int, error) {
	opt := agg.Options{}
	if f := s.opts.Rollup.AggOptions; f != nil {
		opt = f(tag)
	}
	lead, err := s.lead(ctx, tag, a, &opt)
	if err != nil {
		return nil, nil, err
	}
	raw, err := s.Raw(ctx, tag, a, math.MaxInt64)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.StoreRollup, err, "roll up %s", tag)
	}
	defer raw.Close()
	counts := make([]int, (b-a)/iv)
	li := 0
	it := &agg.FuncIter{F: func() (model.Sample, bool) {
		if li < len(lead) {
			li++
			return lead[li-1], true
		}
		if !raw.Next() {
			return model.Sample{}, false
		}
		smp := raw.At()
		if smp.Source < b {
			counts[(smp.Source-a)/iv]++
		}
		return smp, true
	}}
	rs, err := agg.Aggregate(it, a, b, iv, opt, nil)
	if err == nil {
		err = raw.Err()
	}
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.StoreRollup, err, "roll up %s", tag)
	}
	return rs, counts, nil
}

// lead returns the samples before t back to the last good one (at most
// maxLookback steps), oldest first: what bounds the first interval.
func (s *Store) lead(ctx context.Context, tag string, t int64, o *agg.Options) ([]model.Sample, error) {
	var out []model.Sample
	for range maxLookback {
		smp, ok, err := s.Before(ctx, tag, t)
		if err != nil || !ok {
			return out, err
		}
		// Every sample at that time: Before gives only the last one.
		it, err := s.Raw(ctx, tag, smp.Source, t)
		if err != nil {
			return nil, err
		}
		var at []model.Sample
		for it.Next() {
			at = append(at, it.At())
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return nil, err
		}
		if len(at) == 0 {
			at = []model.Sample{smp}
		}
		out = append(at, out...)
		for _, x := range at {
			if goodSample(x, o) {
				return out, nil
			}
		}
		t = smp.Source
	}
	return out, nil
}

func goodSample(s model.Sample, o *agg.Options) bool {
	if !s.Value.IsValid() || s.Quality.IsBad() || (s.Quality.IsUncertain() && o.TreatUncertainAsBad) {
		return false
	}
	return s.Value.T == model.String || !math.IsNaN(s.Value.Float())
}

// purgeRollups deletes the rows of sr at level l whose interval ended
// before cut, and their marks.
func (s *Store) purgeRollups(sr *series, l level, cut int64) (uint64, error) {
	iv := l.interval()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errcode.New(errcode.StoreClosed, "purge rollups of %s: store closed", sr.tag)
	}
	// Rows with start + iv <= cut, i.e. start < cut - iv + 1.
	hi := satSub(cut, iv-1)
	var n uint64
	b := s.db.NewBatch()
	for _, p := range []byte{prefixRollup, prefixDirty} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: rollupKey(p, l, sr.id, math.MinInt64), UpperBound: rollupKey(p, l, sr.id, hi)})
		if err != nil {
			return 0, errcode.Wrap(errcode.StorePurge, err, "purge rollups of %s", sr.tag)
		}
		for it.First(); it.Valid(); it.Next() {
			if p == prefixRollup {
				n++
			}
		}
		if err := it.Close(); err != nil {
			return 0, errcode.Wrap(errcode.StorePurge, err, "purge rollups of %s", sr.tag)
		}
		if p == prefixRollup && n == 0 {
			continue
		}
		_ = b.DeleteRange(rollupKey(p, l, sr.id, math.MinInt64), rollupKey(p, l, sr.id, hi), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, errcode.Wrap(errcode.StorePurge, err, "purge rollups of %s", sr.tag)
	}
	s.stats.PurgedRollups += n
	return n, nil
}

// Rollups returns the rollup rows of tag at level "1m" or "1h" with
// from <= Start < to, oldest first. Intervals without samples have no
// row; intervals not computed yet (still within the lateness window, or
// marked dirty by late data) have none or the previous one.
func (s *Store) Rollups(ctx context.Context, tag, lvl string, from, to int64) ([]RollupRow, error) {
	if err := ctx.Err(); err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "read rollups of %s", tag)
	}
	l := level(numLevels)
	for i, n := range levelNames {
		if n == lvl {
			l = level(i)
		}
	}
	if l == numLevels {
		return nil, errcode.New(errcode.StoreRollupArgs, "rollup level %q, want 1m or 1h", lvl)
	}
	// The read lock keeps Close from closing pebble under the reader.
	s.mu.RLock()
	defer s.mu.RUnlock()
	sr := s.series[tag]
	if s.closed {
		return nil, errcode.New(errcode.StoreClosed, "read rollups of %s: store closed", tag)
	}
	if sr == nil || from >= to {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: rollupKey(prefixRollup, l, sr.id, from), UpperBound: rollupKey(prefixRollup, l, sr.id, to)})
	if err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "read rollups of %s", tag)
	}
	defer it.Close()
	var out []RollupRow
	for it.First(); it.Valid(); it.Next() {
		if len(out) >= maxRollupRows {
			return nil, errcode.New(errcode.StoreRollupArgs, "rollups of %s over [%d, %d): more than %d rows", tag, from, to, maxRollupRows)
		}
		r, err := decodeRollup(rollupKeyStart(it.Key()), it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := it.Error(); err != nil {
		return nil, errcode.Wrap(errcode.StoreRead, err, "read rollups of %s", tag)
	}
	return out, nil
}

// RunRollups runs RollupPass every interval until ctx ends (again at once
// while a pass reports More, at most 16 times in a row); it returns nil
// when ctx ends or the store closes.
func (s *Store) RunRollups(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return errcode.New(errcode.StoreRollupArgs, "rollup interval %v, want > 0", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for range 16 {
			rep, err := s.RollupPass(ctx, time.Now())
			if err != nil {
				if errcode.Of(err) == errcode.StoreClosed || ctx.Err() != nil {
					return nil
				}
				s.log.Error("store rollup failed", "code", errcode.Of(err).String(), "err", err)
				break
			}
			if !rep.More {
				break
			}
		}
	}
}

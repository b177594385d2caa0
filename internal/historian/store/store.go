package store

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/model"
)

// SyncMode says when Write's samples reach stable storage.
type SyncMode int

const (
	// SyncBatch (the default) writes the WAL with write(2) before Write
	// returns and fsyncs it every SyncInterval. A killed process (SIGKILL,
	// panic, OOM) loses nothing: the data is in the kernel's page cache. A
	// power cut or kernel crash can lose what was written in the last
	// SyncInterval; the bus then still holds it, unless its own consumer
	// state (synced on its own interval, docs/bus.md) was lost as well.
	SyncBatch SyncMode = iota
	// SyncAlways fsyncs the WAL before Write returns (one fsync per group
	// of concurrent writers): a returned Write survives a power cut.
	SyncAlways
)

// Defaults of Options.
const (
	DefaultMaxSamples    = 4096
	DefaultMaxSpan       = 2 * time.Hour
	DefaultTimePrecision = time.Millisecond
	DefaultSyncInterval  = time.Second
	DefaultSegmentSize   = 64 << 20
	DefaultMaxSegments   = 8
)

// Options configure Open. The zero value gives the defaults.
type Options struct {
	// MaxSamples seals an open chunk when it holds this many samples.
	MaxSamples int
	// MaxSpan bounds the source-time span of every chunk (open, sealed or
	// amending): a chunk holds samples with maxT-minT < MaxSpan. Raw uses
	// the largest span ever configured to find overlapping chunks.
	MaxSpan time.Duration
	// TimePrecision truncates source and server times on write (towards
	// minus infinity); 1ns keeps them exact. Jitter below a millisecond
	// costs ~4 bytes per sample in a chunk and means nothing on a plant.
	TimePrecision time.Duration
	Sync          SyncMode
	// SyncInterval is how often SyncBatch fsyncs the WAL.
	SyncInterval time.Duration
	// SegmentSize starts a new WAL segment past this many bytes.
	SegmentSize int64
	// MaxSegments bounds the live WAL segments: past it, open chunks that
	// hold samples of the oldest segment are sealed early so it can go.
	MaxSegments int
	// Ledger, when set, records every sealed chunk and amending segment.
	Ledger Ledger
	Logger *slog.Logger

	// Retention deletes old data per tag class (retention.go): the first
	// rule whose Match matches a tag applies. Purge and RunRetention act on it.
	Retention []RetentionRule
	// Rollup configures the 1-minute and 1-hour rollups (rollup.go).
	Rollup RollupOptions
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxSamples == 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.MaxSpan == 0 {
		o.MaxSpan = DefaultMaxSpan
	}
	if o.TimePrecision == 0 {
		o.TimePrecision = DefaultTimePrecision
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxSegments == 0 {
		o.MaxSegments = DefaultMaxSegments
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Hook (retention.go, rollup.go): validate and default the new options.
	if err := o.checkRetention(); err != nil {
		return o, err
	}
	switch {
	case o.MaxSamples < 1 || o.MaxSamples > chunk.MaxSamples:
		return o, errcode.New(errcode.StoreBadOption, "max samples per chunk %d, want 1..%d", o.MaxSamples, chunk.MaxSamples)
	case o.MaxSpan < 0 || o.TimePrecision < 0 || o.SyncInterval < 0 || o.SegmentSize < 0 || o.MaxSegments < 2:
		return o, errcode.New(errcode.StoreBadOption, "negative span, precision, interval or segment size, or fewer than 2 segments")
	}
	return o, nil
}

// Stats are counters since Open.
type Stats struct {
	Samples    uint64 // samples stored
	Duplicates uint64 // samples dropped as already stored
	Late       uint64 // samples written into amending segments
	Sealed     uint64 // chunks sealed
	Amends     uint64 // amending segments written
	Replayed   uint64 // samples replayed from the WAL at Open
	TornBytes  int64  // bytes of a torn WAL tail truncated at Open

	// Retention and rollups (retention.go, rollup.go).
	PurgedChunks   uint64 // sealed chunks and amending segments deleted by Purge
	PurgedSamples  uint64 // samples in them
	PurgedRollups  uint64 // rollup rows deleted by Purge
	RollupsWritten uint64 // rollup rows written or rewritten
	RollupMarks    uint64 // dirty marks done (computed or dropped)
}

// Store is the embedded historian store. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger
	db   *pebble.DB
	wal  *wal

	// mu guards the series and their open chunks. Writers take it for a
	// whole group commit; readers take it shortly to copy what is open.
	mu      sync.RWMutex
	series  map[string]*series
	byID    []*series // index = series id - 1
	maxSpan int64     // largest span ever configured (persisted)
	stats   Stats
	closed  bool
	enc     *chunk.Encoder
	buf     []byte
	pending []LedgerEntry // chunks not yet recorded in the ledger
	batch   *pebble.Batch // indexed: dedupe reads see what sealing wrote
	late    map[*series][]model.Sample
	refs    []*series
	defs    []byte
	cbuf    []byte

	// group commit
	qmu     sync.Mutex
	queue   []*request
	leading bool

	stop chan struct{}
	done chan struct{}

	// Hook (rollup.go): serialises rollup passes and purges.
	roll rollupState
}

// series is one tag. Its open chunk lives in memory (and in the WAL);
// stored describes its sealed chunks and amending segments, as persisted.
type series struct {
	id  uint32
	tag string
	typ model.Type

	open    []osample // sorted by source time (stable on ties)
	strs    []string  // string values of open, parallel; nil for other types
	valued  int       // samples of open with a value
	openSeg uint64    // WAL segment of the open chunk's oldest record

	seq       uint32 // last chunk sequence number (sealed or amend)
	stored    storedMeta
	sealedPos walPos // records before this position are all sealed

	// dedupe cache: the samples of the stored chunks that overlap
	// [cacheLo, cacheHi], sorted (see isStored); dropped on a new chunk.
	cache    []model.Sample
	cacheLo  int64
	cacheHi  int64
	cacheSet bool

	// Hook (rollup.go): the rollup intervals marked dirty, per level.
	roll [numLevels]rollMark
}

type storedMeta struct {
	count  uint64
	first  int64
	max    int64        // newest source time stored; open samples are all newer
	latest model.Sample // the stored sample with the newest source time
}

// osample is a sample of an open chunk without its tag, 32 bytes.
type osample struct {
	src, srv int64
	bits     uint64 // value bits as model.Value keeps them
	q        model.Quality
	code     uint16
	t        model.Type
}

type request struct {
	samples []model.Sample
	err     error
	done    chan struct{}
}

var _ historian.Store = (*Store)(nil)

// Open opens or creates the store in dir (a pebble database in dir/db and
// the WAL in dir/wal), and replays the WAL into the open chunks. A torn
// WAL tail (a crash in the middle of a write) is truncated.
func Open(dir string, opts Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		return nil, errcode.Wrap(errcode.StoreOpen, err, "create store directory %s", dir)
	}
	db, err := pebble.Open(filepath.Join(dir, "db"), pebbleOptions())
	if err != nil {
		return nil, errcode.Wrap(errcode.StoreOpen, err, "open store %s", dir)
	}
	s := &Store{dir: dir, opts: o, log: o.Logger, db: db, series: map[string]*series{},
		enc: chunk.NewEncoder("", model.Float64), stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.replay(); err != nil {
		db.Close()
		return nil, err
	}
	// Counters describe this run's writes; the replay has its own.
	s.stats = Stats{Replayed: s.stats.Replayed, TornBytes: s.stats.TornBytes}
	if err := s.flushLedger(context.Background()); err != nil {
		s.log.Warn("store ledger pending", "code", errcode.StoreLedger.String(), "err", err)
	}
	go s.syncLoop()
	return s, nil
}

func pebbleOptions() *pebble.Options {
	po := &pebble.Options{Logger: quietLogger{}}
	// Chunk values are compressed already; pebble's own compression would
	// only cost CPU.
	po.Levels = make([]pebble.LevelOptions, 7)
	for i := range po.Levels {
		po.Levels[i].Compression = pebble.NoCompression
		po.Levels[i].BlockSize = 32 << 10
	}
	return po
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(f string, a ...any) { slog.Error("pebble: "+f, a...) }
func (quietLogger) Fatalf(f string, a ...any) {
	slog.Error("pebble fatal: "+f, a...)
	os.Exit(1)
}

// load reads the store's settings and series metadata.
func (s *Store) load() error {
	s.maxSpan = int64(s.opts.MaxSpan)
	if v, c, err := s.db.Get(keyMaxSpan); err == nil {
		if len(v) == 8 {
			s.maxSpan = max(s.maxSpan, int64(binary.BigEndian.Uint64(v)))
		}
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return errcode.Wrap(errcode.StoreOpen, err, "read store settings")
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.maxSpan))
	if err := s.db.Set(keyMaxSpan, b[:], pebble.Sync); err != nil {
		return errcode.Wrap(errcode.StoreOpen, err, "write store settings")
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixSeries}, UpperBound: []byte{prefixSeries + 1}})
	if err != nil {
		return errcode.Wrap(errcode.StoreOpen, err, "read series")
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		sr, err := decodeSeries(it.Key(), it.Value())
		if err != nil {
			return err
		}
		s.addSeries(sr)
	}
	if err := it.Error(); err != nil {
		return errcode.Wrap(errcode.StoreOpen, err, "read series")
	}
	pit, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPending}, UpperBound: []byte{prefixPending + 1}})
	if err != nil {
		return errcode.Wrap(errcode.StoreOpen, err, "read pending ledger entries")
	}
	defer pit.Close()
	for pit.First(); pit.Valid(); pit.Next() {
		e, err := decodePending(pit.Value())
		if err != nil {
			return err
		}
		s.pending = append(s.pending, e)
	}
	return nil
}

func (s *Store) addSeries(sr *series) {
	s.series[sr.tag] = sr
	for int(sr.id) > len(s.byID) {
		s.byID = append(s.byID, nil)
	}
	s.byID[sr.id-1] = sr
}

// Stats returns the counters since Open.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

func (s *Store) syncLoop() {
	defer close(s.done)
	if s.opts.Sync == SyncAlways {
		<-s.stop
		return
	}
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.wal.sync(); err != nil {
				s.log.Error("store wal sync failed", "code", errcode.StoreWAL.String(), "err", err)
			}
		}
	}
}

// Close seals nothing: open chunks stay in the WAL and are replayed on the
// next Open, so Close is fast and a restart keeps chunks full. It syncs
// the WAL and closes pebble.
func (s *Store) Close() error {
	s.qmu.Lock()
	for s.leading {
		s.qmu.Unlock()
		time.Sleep(time.Millisecond)
		s.qmu.Lock()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.qmu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.qmu.Unlock()
	close(s.stop)
	<-s.done
	// Hook (rollup.go): wait for a rollup pass or purge in progress; the
	// next one sees closed and stops before touching pebble.
	s.roll.mu.Lock()
	s.roll.mu.Unlock()
	err := s.wal.close()
	s.mu.Lock()
	if perr := s.commitBatch(true); perr != nil && err == nil {
		err = perr
	}
	s.mu.Unlock()
	if perr := s.db.Close(); perr != nil && err == nil {
		err = errcode.Wrap(errcode.StoreWrite, perr, "close store")
	}
	return err
}

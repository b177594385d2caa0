package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the SQLite baseline, pure Go

	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/historian/pg"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/historian/store"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

// HistorianOptions configure `otlink bench historian`. Zero values take
// the defaults, sized so that a run takes well under a minute.
type HistorianOptions struct {
	Tags    int // tags of the ingest run (default 10,000; Latest asks for 10,000 of them)
	Samples int // samples of the ingest run (default 3,000,000)
	// SizeTags is how many tags the size and verify stores hold; each
	// gets two full chunks (2 × store.DefaultMaxSamples samples) so that
	// everything is sealed when the size is taken. Default 400.
	SizeTags int
	// DBSamples is how many of the ingest run's samples SQLite and
	// PostgreSQL ingest (default 500,000): they are slower.
	DBSamples int
	// PG is "off", "auto" (start a throwaway server with PGScript when
	// PostgreSQL is installed) or a DSN. Default "auto".
	PG string
	// PGScript is scripts/pg-test-server; "" looks for it from the working
	// directory upwards.
	PGScript string
	Dir      string    // scratch folder; "" = a temporary one, removed after
	Progress io.Writer // one line per phase; nil = none

	daySeconds int // length of the query's "day" (tests shorten it); 0 = 86400
}

// HistorianResult is what one run measured. The first keys are those the
// historian issue names; the others explain them.
type HistorianResult struct {
	IngestSamplesPerSec           float64  `json:"ingest_samples_per_sec"`
	BytesPerSample                float64  `json:"bytes_per_sample"`
	BytesPerSampleRandom          float64  `json:"bytes_per_sample_random"`
	Query1DayMS                   float64  `json:"query_1day_ms"`
	Latest10kMS                   float64  `json:"latest_10k_ms"`
	VerifyMBPerSec                float64  `json:"verify_mb_per_sec"`
	SQLiteIngestSamplesPerSec     float64  `json:"sqlite_ingest_samples_per_sec"`
	SQLiteQuery1DayMS             float64  `json:"sqlite_query_1day_ms"`
	PostgresIngestSamplesPerSec   *float64 `json:"postgres_ingest_samples_per_sec"`
	IngestVsSQLite                float64  `json:"ingest_vs_sqlite"`
	IngestSyncAlwaysSamplesPerSec float64  `json:"ingest_sync_always_samples_per_sec"`
	IngestRandomSamplesPerSec     float64  `json:"ingest_random_samples_per_sec"`
	// IngestCPUSecPerMillion is process CPU (all threads: WAL, sealing,
	// pebble) per million samples during the SyncBatch ingest run.
	IngestCPUSecPerMillion float64 `json:"ingest_cpu_sec_per_million"`
	// WALBytesPerSample is the WAL written per sample before sealing.
	WALBytesPerSample float64 `json:"wal_bytes_per_sample"`
	// StoreDirBytesPerSample is everything in the store's folder right
	// after the run (WAL segments not yet deleted, Pebble's logs) per sample.
	StoreDirBytesPerSample float64 `json:"store_dir_bytes_per_sample"`
	// LedgerBytesPerChunk is the integrity log's size per sealed chunk.
	LedgerBytesPerChunk    float64  `json:"ledger_bytes_per_chunk"`
	SamplesPerChunk        int      `json:"samples_per_chunk"`
	VerifyChunks           int      `json:"verify_chunks"`
	VerifyOK               bool     `json:"verify_ok"`
	QueryMethod            string   `json:"query_method"`
	SQLiteBytesPerSample   float64  `json:"sqlite_bytes_per_sample"`
	SQLiteMode             string   `json:"sqlite_mode"`
	PostgresBytesPerSample *float64 `json:"postgres_bytes_per_sample"`
	PostgresQuery1DayMS    *float64 `json:"postgres_query_1day_ms"`
	PostgresLayout         string   `json:"postgres_layout,omitempty"`
	PostgresNote           string   `json:"postgres_note,omitempty"`
	Tags                   int      `json:"tags"`
	Samples                int      `json:"samples"`
	SizeSamples            int      `json:"size_samples"`
	DBSamples              int      `json:"db_samples"`
	DurationSec            float64  `json:"duration_sec"`
}

func (o *HistorianOptions) defaults() {
	if o.Tags <= 0 {
		o.Tags = 10_000
	}
	if o.Samples <= 0 {
		o.Samples = 3_000_000
	}
	if o.SizeTags <= 0 {
		o.SizeTags = 400
	}
	if o.DBSamples <= 0 {
		o.DBSamples = 500_000
	}
	if o.PG == "" {
		o.PG = "auto"
	}
	if o.daySeconds <= 0 {
		o.daySeconds = daySeconds
	}
}

// batchSize is how many samples one Write carries, as a bus message of
// a large poll cycle would.
const batchSize = 1000

// benchBase is the source time of the first cycle: a fixed moment, so
// that runs compare; PostgreSQL uses a recent one (its partitions).
var benchBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// Historian runs the historian benchmark.
func Historian(ctx context.Context, o HistorianOptions) (HistorianResult, error) {
	o.defaults()
	var r HistorianResult
	start := time.Now()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "otlink-bench-historian-")
		if err != nil {
			return r, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	progress := func(f string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, f+"\n", a...)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cycles := int64(max(1, o.Samples/o.Tags))
	r.Tags, r.Samples = o.Tags, int(cycles)*len(newGen(SignalsSim, o.Tags, 0, 1).tags())
	r.SamplesPerChunk = store.DefaultMaxSamples

	// 1. Durable ingest of simulator signals, SyncBatch, then Latest.
	progress("ingest: %d samples of %d simulator tags, SyncBatch", r.Samples, o.Tags)
	ing, err := ingestRun(ctx, filepath.Join(dir, "ingest"), SignalsSim, o.Tags, cycles, store.SyncBatch, 0, quiet, func(s *store.Store, g gen) error {
		tags := g.tags()[:min(10_000, len(g.tags()))]
		var runs []time.Duration
		for range 7 {
			t0 := time.Now()
			ls, err := s.Latest(ctx, tags)
			if err != nil {
				return err
			}
			runs = append(runs, time.Since(t0))
			if len(ls) != len(tags) || !ls[len(ls)-1].Quality.IsGood() {
				return fmt.Errorf("latest of %d tags gave %d samples or no data", len(tags), len(ls))
			}
		}
		r.Latest10kMS = medianMS(runs)
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.IngestSamplesPerSec, r.IngestCPUSecPerMillion, r.WALBytesPerSample = ing.rate, ing.cpuPerM, ing.walPerSample

	// 2. The same with SyncAlways, bounded in time: fsync per Write.
	progress("ingest: SyncAlways")
	ing, err = ingestRun(ctx, filepath.Join(dir, "always"), SignalsSim, o.Tags, cycles, store.SyncAlways, 3*time.Second, quiet, nil)
	if err != nil {
		return r, fmt.Errorf("ingest sync always: %w", err)
	}
	r.IngestSyncAlwaysSamplesPerSec = ing.rate

	// 3. Size: every chunk sealed, simulator signals with the integrity
	// ledger (then verified), random floats without.
	sizeCycles := int64(2 * store.DefaultMaxSamples)
	progress("size and verify: %d simulator tags × %d s with the integrity ledger", o.SizeTags, sizeCycles)
	if err := sizeAndVerify(ctx, filepath.Join(dir, "size-sim"), SignalsSim, o.SizeTags, sizeCycles, quiet, &r); err != nil {
		return r, fmt.Errorf("size: %w", err)
	}
	progress("size: %d random float tags × %d s", o.SizeTags, sizeCycles)
	rnd, err := ingestRun(ctx, filepath.Join(dir, "size-random"), SignalsRandom, o.SizeTags, sizeCycles, store.SyncBatch, 0, quiet, nil)
	if err != nil {
		return r, fmt.Errorf("size random: %w", err)
	}
	r.BytesPerSampleRandom, r.IngestRandomSamplesPerSec = rnd.bytesPerSample, rnd.rate

	// 4. One day of 1 s data of one tag → 1000 buckets.
	progress("query: 1 day of 1 s data → 1000 buckets")
	day := daySamples(o.daySeconds)
	if r.Query1DayMS, err = storeDayQuery(ctx, filepath.Join(dir, "day"), day, quiet); err != nil {
		return r, fmt.Errorf("query: %w", err)
	}
	r.QueryMethod = "query.Engine.Aggregate count,min,max,avg over 1000 buckets, median of 7 (after one warm-up)"

	// 5. SQLite baseline.
	dbCycles := int64(max(1, o.DBSamples/o.Tags))
	progress("sqlite: %d samples, then the day query", int(dbCycles)*o.Tags)
	if err := sqliteRun(ctx, filepath.Join(dir, "sqlite"), o.Tags, dbCycles, day, &r); err != nil {
		return r, fmt.Errorf("sqlite: %w", err)
	}
	r.DBSamples = int(dbCycles) * len(newGen(SignalsSim, o.Tags, 0, 1).tags())
	if r.SQLiteIngestSamplesPerSec > 0 {
		r.IngestVsSQLite = r.IngestSamplesPerSec / r.SQLiteIngestSamplesPerSec
	}

	// 6. PostgreSQL, when it runs.
	progress("postgres: %s", o.PG)
	postgresRun(ctx, dir, o, dbCycles, day, &r)
	r.DurationSec = time.Since(start).Seconds()
	return r, nil
}

type ingestFigures struct {
	samples        int
	rate           float64
	cpuPerM        float64
	walPerSample   float64
	bytesPerSample float64
}

// ingestRun writes cycles of kind's signals for n tags into a new store in
// dir in batches of batchSize, timing the Write calls only (generating the
// signals is the producer's cost). With limit > 0 it stops once that much
// Write time is spent. then runs on the open store; after Close the
// store's size on disk gives bytes per sample.
func ingestRun(ctx context.Context, dir, kind string, n int, cycles int64, sync store.SyncMode, limit time.Duration, quiet *slog.Logger, then func(*store.Store, gen) error) (ingestFigures, error) {
	var f ingestFigures
	s, err := store.Open(dir, store.Options{Sync: sync, Logger: quiet})
	if err != nil {
		return f, err
	}
	defer s.Close()
	g := newGen(kind, n, benchBase, 1)
	var spent, cpu time.Duration
	errStop := errors.New("time limit")
	err = batches(g, cycles, batchSize, func(b []model.Sample) error {
		c0, t0 := cpuTime(), time.Now()
		if err := s.Write(ctx, b); err != nil {
			return err
		}
		spent += time.Since(t0)
		cpu += cpuTime() - c0
		f.samples += len(b)
		if limit > 0 && spent > limit {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return f, err
	}
	if st := s.Stats(); st.Samples != uint64(f.samples) {
		return f, fmt.Errorf("store kept %d of %d samples", st.Samples, f.samples)
	}
	f.rate = float64(f.samples) / spent.Seconds()
	f.cpuPerM = cpu.Seconds() / (float64(f.samples) / 1e6)
	f.walPerSample = float64(dirSize(filepath.Join(dir, "wal"))) / float64(f.samples)
	if then != nil {
		if err := then(s, g); err != nil {
			return f, err
		}
	}
	if err := s.Close(); err != nil {
		return f, err
	}
	sealed, err := sealedBytes(filepath.Join(dir, "db"))
	if err != nil {
		return f, err
	}
	f.bytesPerSample = float64(sealed) / float64(f.samples)
	return f, nil
}

// sealedBytes is the size of the store's sealed data at steady state: the
// closed store's Pebble database flushed and compacted (uncompressed, as
// the store keeps it), counting the sstables only. Right after a run the
// folder also holds WAL segments waiting to be deleted and Pebble's
// recycled logs; they do not grow with the data kept.
func sealedBytes(dbDir string) (int64, error) {
	po := &pebble.Options{Logger: quietPebble{}}
	po.Levels = make([]pebble.LevelOptions, 7)
	for i := range po.Levels {
		po.Levels[i].Compression = pebble.NoCompression
		po.Levels[i].BlockSize = 32 << 10
	}
	db, err := pebble.Open(dbDir, po)
	if err != nil {
		return 0, err
	}
	if err := db.Flush(); err != nil {
		db.Close()
		return 0, err
	}
	if err := db.Compact([]byte{0}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true); err != nil {
		db.Close()
		return 0, err
	}
	if err := db.Close(); err != nil {
		return 0, err
	}
	var n int64
	ents, err := os.ReadDir(dbDir)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sst") {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
	}
	return n, nil
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(f string, a ...any) {
	panic(fmt.Sprintf("pebble: "+f, a...))
}

// sizeAndVerify fills a store whose chunks all seal, recording them in an
// integrity log, measures both on disk and verifies the log with every
// chunk re-read from the store.
func sizeAndVerify(ctx context.Context, dir, kind string, n int, cycles int64, quiet *slog.Logger, r *HistorianResult) error {
	l, err := integrity.Open(filepath.Join(dir, "integrity"), integrity.Options{Sync: integrity.SyncOnCheckpoint, Logger: quiet})
	if err != nil {
		return err
	}
	defer l.Close()
	sdir := filepath.Join(dir, "store")
	s, err := store.Open(sdir, store.Options{Ledger: store.IntegrityLedger(l), Logger: quiet})
	if err != nil {
		return err
	}
	defer s.Close()
	g := newGen(kind, n, benchBase, 2)
	samples := 0
	if err := batches(g, cycles, batchSize, func(b []model.Sample) error {
		samples += len(b)
		return s.Write(ctx, b)
	}); err != nil {
		return err
	}
	if _, err := l.SignCheckpoint(ctx); err != nil {
		return err
	}
	st := s.Stats()
	if st.Sealed == 0 {
		return fmt.Errorf("no chunk sealed after %d samples", samples)
	}
	var bytes atomic.Int64
	recompute := func(ctx context.Context, e integrity.Entry) (integrity.Hash, error) {
		it, err := s.Raw(ctx, e.Tag, e.From.UnixNano(), e.To.UnixNano()+1)
		if err != nil {
			return integrity.Hash{}, err
		}
		defer it.Close()
		var ss []model.Sample
		for it.Next() {
			ss = append(ss, it.At())
		}
		if err := it.Err(); err != nil {
			return integrity.Hash{}, err
		}
		if len(ss) == 0 {
			return integrity.Hash{}, integrity.ErrNoData
		}
		bytes.Add(int64(canonicalLen(e.Tag, ss)))
		return integrity.Hash(chunk.LeafHash(e.Tag, ss)), nil
	}
	t0 := time.Now()
	rep, err := integrity.Verify(ctx, l, integrity.VerifyOptions{Recompute: recompute})
	el := time.Since(t0)
	if err != nil {
		return err
	}
	r.VerifyOK = rep.OK
	r.VerifyChunks = int(rep.Summary.Chunks)
	r.VerifyMBPerSec = float64(bytes.Load()) / 1e6 / el.Seconds()
	if err := s.Close(); err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	r.SizeSamples = samples
	r.StoreDirBytesPerSample = float64(dirSize(sdir)) / float64(samples)
	sealed, err := sealedBytes(filepath.Join(sdir, "db"))
	if err != nil {
		return err
	}
	r.BytesPerSample = float64(sealed) / float64(samples)
	r.LedgerBytesPerChunk = float64(dirSize(filepath.Join(dir, "integrity"))) / float64(st.Sealed)
	return nil
}

// canonicalLen is len(chunk.Canonical(tag, ss)) without building it.
func canonicalLen(tag string, ss []model.Sample) int {
	n := 1 + 4 + len(tag) + 4
	for i := range ss {
		v := ss[i].Value
		n += 23
		switch {
		case !v.IsValid():
		case v.T == model.Bool:
			n++
		case v.T == model.String:
			n += 4 + len(v.Str())
		default:
			n += 8
		}
	}
	return n
}

const (
	dayTag     = "bench/site/area/line00/m0000/spindle_temp_day"
	daySeconds = 86400
	dayBuckets = 1000
)

// daySamples is one day of one simulator signal (spindle temperature of
// one machine, float32) at 1 s.
func daySamples(n int) []model.Sample {
	g := newSimGen(1, benchBase, 3)
	out := make([]model.Sample, 0, n)
	var cyc []model.Sample
	for k := range int64(n) {
		cyc = g.cycle(cyc[:0], k)
		s := cyc[3] // spindle_temp
		s.Tag = dayTag
		out = append(out, s)
	}
	return out
}

func storeDayQuery(ctx context.Context, dir string, day []model.Sample, quiet *slog.Logger) (float64, error) {
	s, err := store.Open(dir, store.Options{Logger: quiet})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	for i := 0; i < len(day); i += batchSize {
		if err := s.Write(ctx, day[i:min(i+batchSize, len(day))]); err != nil {
			return 0, err
		}
	}
	e := query.New(s, query.Config{})
	req := query.AggRequest{Tags: []string{dayTag}, Buckets: dayBuckets, Aggregates: []string{"count", "min", "max", "avg"},
		From: time.Unix(0, benchBase).UTC().Format(time.RFC3339Nano), To: time.Unix(0, benchBase+int64(len(day))*int64(time.Second)).UTC().Format(time.RFC3339Nano)}
	var runs []time.Duration
	for i := range 8 {
		t0 := time.Now()
		resp, err := e.Aggregate(ctx, req)
		if err != nil {
			return 0, err
		}
		if i > 0 {
			runs = append(runs, time.Since(t0))
		}
		if err := checkDay(resp, len(day)); err != nil {
			return 0, err
		}
	}
	return medianMS(runs), nil
}

// checkDay checks that the aggregate saw the whole day.
func checkDay(resp *query.AggResponse, want int) error {
	if len(resp.Series) != 1 || len(resp.Series[0].Buckets) != dayBuckets {
		return fmt.Errorf("aggregate gave %d series", len(resp.Series))
	}
	var n int64
	for _, b := range resp.Series[0].Buckets {
		n += b.Values[0].Value.Int()
	}
	if n != int64(want) {
		return fmt.Errorf("aggregate counted %d samples of %d", n, want)
	}
	return nil
}

// sqliteMode says how the SQLite baseline is set up; it is reported.
const sqliteMode = "modernc.org/sqlite; table samples(tag_id, ts, value, quality) WITHOUT ROWID, primary key (tag_id, ts); " +
	"journal_mode=WAL, synchronous=NORMAL; one prepared INSERT per row, 1000 rows per transaction"

func sqliteRun(ctx context.Context, dir string, n int, cycles int64, day []model.Sample, r *HistorianResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "bench.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE samples (tag_id INTEGER NOT NULL, ts INTEGER NOT NULL, value, quality INTEGER NOT NULL,
		PRIMARY KEY (tag_id, ts)) WITHOUT ROWID`); err != nil {
		return err
	}
	r.SQLiteMode = sqliteMode
	g := newGen(SignalsSim, n, benchBase, 1)
	ids := map[string]int64{}
	for i, t := range g.tags() {
		ids[t] = int64(i + 1)
	}
	ids[dayTag] = int64(len(ids) + 1)
	ins, err := db.PrepareContext(ctx, `INSERT INTO samples (tag_id, ts, value, quality) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	write := func(b []model.Sample) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st := tx.StmtContext(ctx, ins)
		for i := range b {
			s := &b[i]
			// The store's 1 ms precision, so that both keep the same.
			ts := s.Source / int64(time.Millisecond)
			if _, err := st.ExecContext(ctx, ids[s.Tag], ts, sqlValue(s.Value), int64(s.Quality)); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
	var spent time.Duration
	samples := 0
	if err := batches(g, cycles, batchSize, func(b []model.Sample) error {
		t0 := time.Now()
		err := write(b)
		spent += time.Since(t0)
		samples += len(b)
		return err
	}); err != nil {
		return err
	}
	r.SQLiteIngestSamplesPerSec = float64(samples) / spent.Seconds()
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	r.SQLiteBytesPerSample = float64(dirSize(dir)) / float64(samples)
	if day == nil {
		return nil
	}
	for i := 0; i < len(day); i += batchSize {
		if err := write(day[i:min(i+batchSize, len(day))]); err != nil {
			return err
		}
	}
	from := benchBase / int64(time.Millisecond)
	dayLen := int64(len(day))
	width := (dayLen*1000 + dayBuckets - 1) / dayBuckets
	var runs []time.Duration
	for i := range 8 {
		t0 := time.Now()
		rows, err := db.QueryContext(ctx, `SELECT (ts - ?1) / ?2 AS b, count(value), min(value), max(value), avg(value)
			FROM samples WHERE tag_id = ?3 AND ts >= ?1 AND ts < ?4 GROUP BY b ORDER BY b`,
			from, width, ids[dayTag], from+dayLen*1000)
		if err != nil {
			return err
		}
		nb, cnt := 0, int64(0)
		for rows.Next() {
			var b, c int64
			var mn, mx, avg float64
			if err := rows.Scan(&b, &c, &mn, &mx, &avg); err != nil {
				rows.Close()
				return err
			}
			nb++
			cnt += c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if i > 0 {
			runs = append(runs, time.Since(t0))
		}
		if nb != dayBuckets || cnt != dayLen {
			return fmt.Errorf("sqlite day query gave %d buckets, %d samples", nb, cnt)
		}
	}
	r.SQLiteQuery1DayMS = medianMS(runs)
	return nil
}

func sqlValue(v model.Value) any {
	switch {
	case !v.IsValid():
		return nil
	case v.T == model.String:
		return v.Str()
	case v.T == model.Bool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case v.T.IsFloat():
		return v.Float()
	case v.T.IsSigned():
		return v.Int()
	}
	return int64(v.Uint())
}

// postgresRun measures PostgreSQL when it runs; otherwise it leaves the
// figures null and says why in PostgresNote.
func postgresRun(ctx context.Context, dir string, o HistorianOptions, cycles int64, day []model.Sample, r *HistorianResult) {
	dsn := o.PG
	switch o.PG {
	case "off":
		r.PostgresNote = "not measured: --pg off"
		return
	case "auto":
		d, stop, err := startPG(ctx, dir, o.PGScript)
		if err != nil {
			r.PostgresNote = "not measured: " + err.Error()
			return
		}
		defer stop()
		dsn = d
	}
	if err := pgMeasure(ctx, dsn, cycles, day, r); err != nil {
		r.PostgresIngestSamplesPerSec, r.PostgresBytesPerSample, r.PostgresQuery1DayMS = nil, nil, nil
		r.PostgresNote = "not measured: " + err.Error()
	}
}

// pgBinDir is where Debian's PostgreSQL 15 (what scripts/pg-test-server
// runs) keeps its binaries.
const pgBinDir = "/usr/lib/postgresql/15/bin"

func startPG(ctx context.Context, dir, script string) (dsn string, stop func(), err error) {
	if _, err := os.Stat(filepath.Join(pgBinDir, "initdb")); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL binaries are not installed (%s/initdb); install Debian's postgresql package or give --pg DSN", pgBinDir)
	}
	if script == "" {
		script = findScript("scripts/pg-test-server")
	}
	if script == "" {
		return "", nil, errors.New("scripts/pg-test-server not found from the working directory upwards; run from the source tree or give --pg DSN")
	}
	// The server runs as user postgres when root runs the bench: it must
	// reach its directory, so not below a 0700 temporary folder.
	pdir, err := os.MkdirTemp("", "otlink-bench-pg-")
	if err != nil {
		return "", nil, err
	}
	if err := os.Chmod(pdir, 0o755); err != nil {
		os.RemoveAll(pdir)
		return "", nil, err
	}
	data := filepath.Join(pdir, "pg")
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(sctx, script, "start", data).Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg += ": " + strings.TrimSpace(string(ee.Stderr))
		}
		exec.Command(script, "stop", data).Run()
		os.RemoveAll(pdir)
		return "", nil, fmt.Errorf("start a throwaway PostgreSQL: %s", msg)
	}
	return strings.TrimSpace(string(out)), func() {
		exec.Command(script, "stop", data).Run()
		os.RemoveAll(pdir)
	}, nil
}

func findScript(rel string) string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 20 {
		p := filepath.Join(d, rel)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		up := filepath.Dir(d)
		if up == d {
			return ""
		}
		d = up
	}
	return ""
}

func pgMeasure(ctx context.Context, dsn string, cycles int64, day []model.Sample, r *HistorianResult) error {
	schema := fmt.Sprintf("otlink_bench_%d", os.Getpid())
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := pg.Open(octx, dsn, pg.Options{Schema: schema, Timescale: "auto"})
	if err != nil {
		return err
	}
	defer s.Close()
	conn, err := pgx.Connect(octx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	defer conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	r.PostgresLayout = s.Layout()
	// Recent times: the partitions are made around now.
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second).UnixNano()
	g := newGen(SignalsSim, r.Tags, base, 1)
	var spent time.Duration
	samples := 0
	if err := batches(g, cycles, batchSize, func(b []model.Sample) error {
		t0 := time.Now()
		err := s.Write(ctx, b)
		spent += time.Since(t0)
		samples += len(b)
		return err
	}); err != nil {
		return err
	}
	rate := float64(samples) / spent.Seconds()
	r.PostgresIngestSamplesPerSec = &rate
	var size int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`, schema).Scan(&size); err != nil {
		return err
	}
	if r.PostgresLayout == pg.LayoutTimescale {
		r.PostgresNote = "bytes per sample do not count TimescaleDB chunks outside the schema"
	}
	bps := float64(size) / float64(samples)
	r.PostgresBytesPerSample = &bps
	// The day query through the same query layer as the embedded store.
	shifted := make([]model.Sample, len(day))
	for i, sm := range day {
		sm.Source += base - 2*int64(len(day))*int64(time.Second) - benchBase
		sm.Server = sm.Source
		shifted[i] = sm
	}
	for i := 0; i < len(shifted); i += batchSize {
		if err := s.Write(ctx, shifted[i:min(i+batchSize, len(shifted))]); err != nil {
			return err
		}
	}
	from := shifted[0].Source / int64(time.Second) * int64(time.Second)
	e := query.New(s, query.Config{})
	req := query.AggRequest{Tags: []string{dayTag}, Buckets: dayBuckets, Aggregates: []string{"count", "min", "max", "avg"},
		From: time.Unix(0, from).UTC().Format(time.RFC3339Nano), To: time.Unix(0, from+int64(len(day))*int64(time.Second)).UTC().Format(time.RFC3339Nano)}
	var runs []time.Duration
	for i := range 4 {
		t0 := time.Now()
		resp, err := e.Aggregate(ctx, req)
		if err != nil {
			return err
		}
		if i > 0 {
			runs = append(runs, time.Since(t0))
		}
		if err := checkDay(resp, len(day)); err != nil {
			return err
		}
	}
	q := medianMS(runs)
	r.PostgresQuery1DayMS = &q
	return nil
}

func medianMS(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2]) / 1e6
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Signal kinds of the historian benchmark and the sizing estimate.
const (
	SignalsSim    = "sim"    // simulated machines polled at 1 s
	SignalsRandom = "random" // random float64 values: the worst case for compression
)

// simTagsPerMachine is what simGen polls from each simulated machine: the
// twelve analogue signals as float32 (hr:100..), the counters and words
// as integers, the program as a string and two booleans, as a typical
// machine configuration does.
const simTagsPerMachine = 21

var simTagNames = [simTagsPerMachine]string{
	"spindle_speed", "feed", "spindle_load", "spindle_temp", "coolant_temp", "ambient_temp",
	"vibration", "power", "energy", "cycle_time", "tool_wear", "x_pos",
	"state", "alarm_word", "good_count", "scrap_count", "feed_override", "heartbeat",
	"program", "door_open", "coolant_on",
}

// gen produces one poll cycle of samples for every tag: one call per
// second of source time.
type gen interface {
	tags() []string
	// cycle appends the samples of cycle k (source time base + k s).
	cycle(dst []model.Sample, k int64) []model.Sample
}

// newGen returns the generator of kind for n tags (rounded up to whole
// machines for sim) starting at base (Unix ns).
func newGen(kind string, n int, base int64, seed uint64) gen {
	if kind == SignalsRandom {
		g := &randGen{base: base, rng: rand.New(rand.NewPCG(seed, 2))}
		for i := range n {
			g.names = append(g.names, fmt.Sprintf("bench/random/g%03d/t%05d", i/100, i))
		}
		return g
	}
	return newSimGen(n, base, seed)
}

// simGen polls simulated machines once a second, as acquisition with
// report "all" would: every tag every cycle, the source time of a
// machine's samples being when its reply arrived (the cycle's start, a
// fixed per-device offset and up to 1.5 ms of reply jitter).
type simGen struct {
	base     int64
	machines []*sim.Machine
	offset   []int64
	names    []string
	steps    int // machine steps per second
	rng      *rand.Rand
}

func newSimGen(n int, base int64, seed uint64) *simGen {
	nm := (n + simTagsPerMachine - 1) / simTagsPerMachine
	g := &simGen{base: base, steps: int(time.Second / (100 * time.Millisecond)), rng: rand.New(rand.NewPCG(seed, 1))}
	for i := range nm {
		m := sim.NewMachine(sim.MachineConfig{Name: fmt.Sprintf("m%04d", i), Kind: sim.Kind(i % 3), Seed: seed*1_000_003 + uint64(i)})
		g.machines = append(g.machines, m)
		g.offset = append(g.offset, int64(i%50)*int64(time.Millisecond)/5)
		for _, t := range simTagNames {
			g.names = append(g.names, fmt.Sprintf("bench/site/area/line%02d/m%04d/%s", i/20, i, t))
		}
	}
	return g
}

func (g *simGen) tags() []string { return g.names }

func (g *simGen) cycle(dst []model.Sample, k int64) []model.Sample {
	f32 := func(x float64) model.Value { return model.FloatValue(model.Float32, float64(float32(x))) }
	u := func(t model.Type, x float64) model.Value {
		if x < 0 {
			x = 0
		}
		return model.UintValue(t, uint64(math.Round(x)))
	}
	for i, m := range g.machines {
		for range g.steps {
			m.Step()
		}
		v := m.Values()
		ts := g.base + k*int64(time.Second) + g.offset[i] + g.rng.Int64N(int64(1500*time.Microsecond))
		vals := [simTagsPerMachine]model.Value{
			f32(v.SpindleSpeed), f32(v.Feed), f32(v.SpindleLoad), f32(v.SpindleTemp), f32(v.CoolantTemp), f32(v.AmbientTemp),
			f32(v.Vibration), f32(v.Power), f32(v.Energy), f32(v.CycleTime), f32(v.ToolWear), f32(v.XPos),
			u(model.Uint16, float64(v.State)), u(model.Uint16, float64(v.Alarms)), u(model.Uint32, float64(v.Good)),
			u(model.Uint32, float64(v.Scrap)), u(model.Uint16, float64(v.FeedOverride)),
			u(model.Uint16, float64(int64(v.SimTime.Seconds())%65536)),
			model.StringValue(v.Program), model.BoolValue(v.DoorOpen), model.BoolValue(v.CoolantOn),
		}
		names := g.names[i*simTagsPerMachine : (i+1)*simTagsPerMachine]
		for j := range vals {
			dst = append(dst, model.Sample{Tag: names[j], Value: vals[j], Quality: model.Good, Source: ts, Server: ts})
		}
	}
	return dst
}

// randGen gives every tag a uniformly random float64 each second.
type randGen struct {
	base  int64
	names []string
	rng   *rand.Rand
}

func (g *randGen) tags() []string { return g.names }

func (g *randGen) cycle(dst []model.Sample, k int64) []model.Sample {
	ts := g.base + k*int64(time.Second)
	for i, n := range g.names {
		t := ts + int64(i%50)*int64(time.Millisecond)/5 + g.rng.Int64N(int64(1500*time.Microsecond))
		dst = append(dst, model.Sample{Tag: n, Value: model.FloatValue(model.Float64, g.rng.Float64()*1000), Quality: model.Good, Source: t, Server: t})
	}
	return dst
}

// batches calls fn with batches of about size samples (whole cycles are
// split; a batch never mixes two cycles' samples of one tag) for cycles
// [0, cycles). It stops at the first error.
func batches(g gen, cycles int64, size int, fn func([]model.Sample) error) error {
	var cyc []model.Sample
	for k := range cycles {
		cyc = g.cycle(cyc[:0], k)
		for rest := cyc; len(rest) > 0; {
			n := min(size, len(rest))
			if err := fn(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
	}
	return nil
}

package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/historian/lossy"
	"github.com/otlink/otlink/internal/historian/pg"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/historian/store"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// Folders of the historian inside the data folder.
const (
	HistoryDir   = "history"
	IntegrityDir = "integrity"
)

// HistoryOptions open a History.
type HistoryOptions struct {
	// Log is how the integrity log is opened: LogWrite records sealed
	// chunks (a running otlink), LogReadOnly only reads it (otlink verify:
	// a damaged log is reported, never repaired), LogNone leaves it closed
	// (otlink history).
	Log LogMode
	// MaxChunkSamples seals chunks of the embedded store at this many
	// samples (0: the store's default, 4096). The demo uses a small value
	// so that a short run has sealed, verifiable chunks.
	MaxChunkSamples int
	Logger          *slog.Logger
	// Config gives the tags' types (rollups step non-float tags) and
	// lossy settings; nil means none are known.
	Config *config.Config
	// RollupEvery is the period of the rollup passes Start runs (0: 15s).
	RollupEvery time.Duration
}

// LogMode says how OpenHistory opens the integrity log.
type LogMode int

// Modes of HistoryOptions.Log.
const (
	LogWrite LogMode = iota
	LogReadOnly
	LogNone
)

// History is the historian of a data folder: the store, its integrity log
// (embedded backend only) and the query engine over the store.
type History struct {
	Store    historian.Store
	Embedded *store.Store   // nil for postgres
	Log      *integrity.Log // nil for postgres or LogNone
	Query    *query.Engine
	// Writer is what ingest writes to: Store, behind a LossyWriter when
	// some tags have lossy settings.
	Writer historian.Writer
	cfg    config.Historian
	opts   HistoryOptions
	lossy  *LossyWriter
	// Background retention and rollups (Start), stopped by Close.
	bgCancel context.CancelFunc
	bgDone   sync.WaitGroup
}

// RetentionActor is who the integrity log names for the purges the
// running otlink makes.
const RetentionActor = "otlink retention"

// tagInfo is what the historian needs to know of a configured tag.
type tagInfo struct {
	typ   model.Type
	lossy lossy.Settings
}

// tagInfos maps the tag paths of c to their types and lossy settings.
func tagInfos(c *config.Config) map[string]tagInfo {
	out := map[string]tagInfo{}
	if c == nil {
		return out
	}
	config.EachMachine(c, func(m *config.Machine, prefix []string) {
		for i := range m.Tags {
			t := &m.Tags[i]
			ti := tagInfo{}
			ti.typ, _ = model.ParseType(t.Type)
			if t.Lossy != nil {
				ti.lossy = *t.Lossy
			}
			p := t.Path
			if p == "" { // a config built in code, without Defaults
				p = model.JoinPath(append(append(prefix[:len(prefix):len(prefix)], m.Name), t.Name)...)
			}
			out[p] = ti
		}
	})
	return out
}

// OpenHistory opens the historian configured by h in dataDir. With the
// embedded backend the store is in dataDir/history and the integrity log
// in dataDir/integrity. A store held by another process is CLIDataLocked.
func OpenHistory(ctx context.Context, dataDir string, h config.Historian, o HistoryOptions) (*History, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	hs := &History{cfg: h, opts: o}
	infos := tagInfos(o.Config)
	switch h.Backend {
	case config.HistorianPostgres:
		st, err := pg.Open(ctx, h.DSN, pg.Options{})
		if err != nil {
			return nil, err
		}
		hs.Store = st
	case config.HistorianEmbedded, "":
		sopts := store.Options{TimePrecision: h.TimePrecision.D(), MaxSamples: o.MaxChunkSamples, Logger: log,
			Retention: retentionRules(h.Retention),
			Rollup: store.RollupOptions{Enable: h.Rollups == nil || *h.Rollups, AggOptions: func(tag string) agg.Options {
				// Floats are interpolated, everything else steps, as the
				// query layer does; a tag not in the config goes by its
				// samples' types (agg steps non-floats anyway).
				ti, ok := infos[tag]
				return agg.Options{Stepped: ok && ti.typ != model.TypeInvalid && !ti.typ.IsFloat()}
			}},
		}
		if h.Sync == "always" {
			sopts.Sync = store.SyncAlways
		}
		if o.Log != LogNone {
			l, err := integrity.Open(filepath.Join(dataDir, IntegrityDir), integrity.Options{ReadOnly: o.Log == LogReadOnly,
				Sync: integrity.SyncOnCheckpoint, Logger: log})
			if err != nil {
				return nil, err
			}
			hs.Log = l
			if o.Log == LogWrite {
				sopts.Ledger = store.IntegrityLedger(l)
			}
		}
		st, err := store.Open(filepath.Join(dataDir, HistoryDir), sopts)
		if err != nil {
			if hs.Log != nil {
				hs.Log.Close()
			}
			if isLocked(err) {
				return nil, errcode.Wrap(errcode.CLIDataLocked, err, "data folder %s is in use by a running otlink: use --url to ask it", dataDir)
			}
			return nil, err
		}
		hs.Store, hs.Embedded = st, st
	default:
		return nil, errcode.New(errcode.APIHistoryOff, "historian backend %q keeps no history", h.Backend)
	}
	settings := map[string]lossy.Settings{}
	for tag, ti := range infos {
		if !ti.lossy.IsZero() {
			settings[tag] = ti.lossy
		}
	}
	hs.Writer = hs.Store
	if len(settings) > 0 {
		hs.lossy = NewLossyWriter(hs.Store, settings)
		hs.Writer = hs.lossy
	}
	qc := query.Config{TagInfo: func(tag string) (lossy.Settings, bool) {
		s, ok := settings[tag]
		return s, ok
	}}
	var reader historian.Reader = hs.Store
	if hs.Embedded != nil {
		qc.RawKept = rawKept(h.Retention)
		if h.Rollups == nil || *h.Rollups {
			reader = rollupReader{hs.Embedded}
		}
	}
	hs.Query = query.New(reader, qc)
	return hs, nil
}

// retentionRules converts the config's rules to the store's.
func retentionRules(rs []config.RetentionRule) []store.RetentionRule {
	out := make([]store.RetentionRule, len(rs))
	for i, r := range rs {
		out[i] = store.RetentionRule{Name: r.Name, Match: r.Match, Raw: r.Raw.D(), Rollup1m: r.Rollup1m.D(), Rollup1h: r.Rollup1h.D()}
	}
	return out
}

// rawKept returns how long the raw samples of a tag are kept (0: forever),
// by the first matching rule as the store applies them.
func rawKept(rs []config.RetentionRule) func(tag string) time.Duration {
	return func(tag string) time.Duration {
		for _, r := range rs {
			if r.Match == "" {
				return r.Raw.D()
			}
			if ok, _ := path.Match(r.Match, tag); ok {
				return r.Raw.D()
			}
		}
		return 0
	}
}

// rollupReader gives the query layer the embedded store's rollups in its
// own row type (query must not import the store).
type rollupReader struct{ *store.Store }

func (r rollupReader) Rollups(ctx context.Context, tag, level string, from, to int64) ([]query.RollupRow, error) {
	rows, err := r.Store.Rollups(ctx, tag, level, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]query.RollupRow, len(rows))
	for i, x := range rows {
		out[i] = query.RollupRow{Start: x.Start, End: x.End, Status: x.Status, Samples: x.Samples, Count: x.Count,
			Min: x.Min, Max: x.Max, MinTime: x.MinTime, MaxTime: x.MaxTime, First: x.First, Last: x.Last,
			FirstTime: x.FirstTime, LastTime: x.LastTime, Sum: x.Sum, Total: x.Total, StdDevPopulation: x.StdDevPopulation,
			PercentGood: x.PercentGood, DurationGood: x.DurationGood, Transitions: x.Transitions}
	}
	return out, nil
}

// Start runs the embedded store's retention purges (every
// retention_interval, as RetentionActor) and rollup passes until Close.
// It does nothing for other backends or without a writable integrity log
// (a purge must be recorded).
func (h *History) Start(ctx context.Context) {
	if h.Embedded == nil || h.opts.Log != LogWrite || h.bgCancel != nil {
		return
	}
	log := h.opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, h.bgCancel = context.WithCancel(ctx)
	if len(h.cfg.Retention) > 0 {
		every := h.cfg.RetentionInterval.D()
		if every <= 0 {
			every = config.DefaultRetentionInterval.D()
		}
		h.bgDone.Add(1)
		go func() {
			defer h.bgDone.Done()
			if err := h.Embedded.RunRetention(ctx, every, RetentionActor); err != nil {
				log.Error("historian retention stopped", "code", errcode.Of(err).String(), "err", err)
			}
		}()
	}
	if h.cfg.Rollups == nil || *h.cfg.Rollups {
		every := h.opts.RollupEvery
		if every <= 0 {
			every = defaultRollupEvery
		}
		h.bgDone.Add(1)
		go func() {
			defer h.bgDone.Done()
			if err := h.Embedded.RunRollups(ctx, every); err != nil {
				log.Error("historian rollups stopped", "code", errcode.Of(err).String(), "err", err)
			}
		}()
	}
}

// defaultRollupEvery is how often rollup passes run: well inside the
// store's one-minute lateness, so rows follow the data closely.
const defaultRollupEvery = 15 * time.Second

// isLocked recognises pebble's refusal to open a database that another
// process (or this one) holds.
func isLocked(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) ||
		strings.Contains(err.Error(), "lock held") || strings.Contains(err.Error(), "resource temporarily unavailable")
}

// HasHistory reports whether dataDir holds an embedded store.
func HasHistory(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, HistoryDir, "db"))
	return err == nil
}

// Close stops retention and rollups and waits for them, writes the
// samples the lossy filters hold, and closes the store, then the
// integrity log. Call it after ingest stopped.
func (h *History) Close() error {
	var errs []error
	if h.bgCancel != nil {
		h.bgCancel()
		h.bgDone.Wait()
	}
	if h.lossy != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.lossy.Flush(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if h.Store != nil {
		errs = append(errs, h.Store.Close())
	}
	if h.Log != nil {
		errs = append(errs, h.Log.Close())
	}
	return errors.Join(errs...)
}

// Recompute is integrity.VerifyOptions.Recompute for this store: the
// leaf hash of the entry's chunk as stored now, read by its key, so a
// later amendment of the same time range cannot be mistaken for it.
func (h *History) Recompute(ctx context.Context, e integrity.Entry) (integrity.Hash, error) {
	if e.Kind != integrity.KindChunk && e.Kind != integrity.KindAmend {
		return integrity.Hash{}, integrity.ErrNoData
	}
	return h.Embedded.RecomputeLeaf(ctx, e)
}

// Canonical returns the canonical samples of an entry for an evidence
// bundle.
func (h *History) Canonical(ctx context.Context, e integrity.Entry) ([]byte, error) {
	if e.Kind != integrity.KindChunk && e.Kind != integrity.KindAmend {
		return nil, integrity.ErrNoData
	}
	s, err := h.Embedded.ChunkSamples(ctx, e.Key)
	if err != nil {
		return nil, err
	}
	return chunk.Canonical(e.Tag, s), nil
}

func (h *History) needLog() error {
	if h.Log == nil {
		return errcode.New(errcode.APIHistoryOff, "no integrity log: the %s backend has none yet", h.cfg.Backend)
	}
	return nil
}

// Verify verifies the integrity log and re-reads every selected chunk.
func (h *History) Verify(ctx context.Context, opts integrity.VerifyOptions) (*integrity.Report, error) {
	if err := h.needLog(); err != nil {
		return nil, err
	}
	opts.Recompute = h.Recompute
	return integrity.Verify(ctx, h.Log, opts)
}

// ExportCheckpoint signs a checkpoint if the log grew and writes it to w.
func (h *History) ExportCheckpoint(ctx context.Context, w io.Writer) error {
	if err := h.needLog(); err != nil {
		return err
	}
	return h.Log.ExportCheckpoint(ctx, w)
}

// Witness anchors a checkpoint signed by another node in this node's log.
func (h *History) Witness(ctx context.Context, signed []byte, keys ...string) (integrity.Checkpoint, error) {
	if err := h.needLog(); err != nil {
		return integrity.Checkpoint{}, err
	}
	return h.Log.AcceptCheckpoint(ctx, signed, keys...)
}

// WriteBundle writes an evidence bundle of the selected entries to w.
func (h *History) WriteBundle(ctx context.Context, w io.Writer, sel integrity.Selection) error {
	if err := h.needLog(); err != nil {
		return err
	}
	if sel.From.IsZero() && sel.To.IsZero() && sel.TagGlob == "" && len(sel.Indexes) == 0 {
		// Nothing selected means everything: integrity selects by a set
		// field, so give a start before any data.
		sel.From = time.Unix(0, 0).AddDate(-100, 0, 0)
	}
	return integrity.WriteBundle(ctx, w, h.Log, sel, h.Canonical)
}

// ingest consumes the bus into a non-embedded store (the embedded store
// has store.Ingest): a batch is acknowledged after Write returned nil.
func ingestInto(ctx context.Context, consume func(context.Context, string, func(*model.Batch) error) error, st historian.Writer, durable string) error {
	return consume(ctx, durable, func(b *model.Batch) error { return st.Write(ctx, b.Samples) })
}

// drainWait bounds how long Stop waits for the historian to catch up.
const drainWait = 15 * time.Second

package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/chunk"
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
	cfg      config.Historian
}

// OpenHistory opens the historian configured by h in dataDir. With the
// embedded backend the store is in dataDir/history and the integrity log
// in dataDir/integrity. A store held by another process is CLIDataLocked.
func OpenHistory(ctx context.Context, dataDir string, h config.Historian, o HistoryOptions) (*History, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	hs := &History{cfg: h}
	switch h.Backend {
	case config.HistorianPostgres:
		st, err := pg.Open(ctx, h.DSN, pg.Options{})
		if err != nil {
			return nil, err
		}
		hs.Store = st
	case config.HistorianEmbedded, "":
		sopts := store.Options{TimePrecision: h.TimePrecision.D(), MaxSamples: o.MaxChunkSamples, Logger: log}
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
	hs.Query = query.New(hs.Store, query.Config{})
	return hs, nil
}

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

// Close closes the store, then the integrity log.
func (h *History) Close() error {
	var errs []error
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

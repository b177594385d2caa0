package pg

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
)

// Options tune the backend; the zero value is a working default.
type Options struct {
	// Schema is the PostgreSQL schema that holds otlink's tables
	// (default "otlink"). Several otlink installations can share a
	// database in different schemas.
	Schema string
	// Timescale chooses the layout of a new schema: "auto" (default)
	// uses a TimescaleDB hypertable when the extension is available and
	// can be created, "on" requires it, "off" uses plain partitions. An
	// existing schema keeps the layout it was created with.
	Timescale string
	// Partition is the time width of a partition or hypertable chunk
	// (default 24h). Retention drops whole partitions, so this is also
	// the granularity of retention.
	Partition time.Duration
	// Ahead is how many partitions after the current one are created in
	// advance (default 2), so that writes at midnight do not wait on DDL.
	Ahead int
	// CompressAfter is the age after which TimescaleDB compresses a
	// chunk (default 7 days). Unused with plain partitions.
	CompressAfter time.Duration
	// MaxConns bounds the connection pool (default 8).
	MaxConns int32
}

func (o *Options) defaults() {
	if o.Schema == "" {
		o.Schema = "otlink"
	}
	if o.Timescale == "" {
		o.Timescale = "auto"
	}
	if o.Partition <= 0 {
		o.Partition = 24 * time.Hour
	}
	if o.Ahead <= 0 {
		o.Ahead = 2
	}
	if o.CompressAfter <= 0 {
		o.CompressAfter = 7 * 24 * time.Hour
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
}

// schemaName is what a schema may be called: it is formatted into DDL
// (quoted), so it is held to plain identifiers.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Layout names how samples are stored.
const (
	LayoutPartitioned = "partitioned"
	LayoutTimescale   = "timescaledb"
)

// Store is a historian.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	opt    Options
	q      string // quoted schema name, for statements
	layout string
	width  int64 // partition width, ns

	mu     sync.Mutex
	series map[string]int32 // tag → series id; ids are never reused
	parts  map[int64]bool   // partition starts known to exist

	closed atomic.Bool
}

// stageTable is the per-connection temporary table that COPY fills.
const stageTable = "otlink_stage"

// Open connects to the database at dsn, creates or migrates the schema and
// returns the store. The pool keeps connecting on demand after Open, so a
// server that restarts later only fails the calls made while it is down.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts.defaults()
	switch opts.Timescale {
	case "auto", "on", "off":
	default:
		return nil, errcode.New(errcode.PGDSN, "historian timescale option %q: want auto, on or off", opts.Timescale)
	}
	if !schemaName.MatchString(opts.Schema) {
		return nil, errcode.New(errcode.PGDSN, "historian schema %q: want lower-case letters, digits and _, at most 63", opts.Schema)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx echoes the DSN, password included, in its parse errors.
		return nil, errcode.New(errcode.PGDSN, "parse postgres dsn: %s", redactParseError(err, dsn))
	}
	cfg.MaxConns = opts.MaxConns
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// One staging table per session; ON COMMIT DELETE ROWS empties it
		// at the end of each write transaction.
		_, err := c.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+stageTable+` (
			series_id int4, source_ns int8, vtype int2, v_num float8, v_int int8,
			v_text text, quality int4, code int2, server_ns int8) ON COMMIT DELETE ROWS`)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errcode.Wrap(errcode.PGConnect, err, "connect to postgres %s", cfg.ConnConfig.Host)
	}
	s := &Store{
		pool:   pool,
		opt:    opts,
		q:      pgx.Identifier{opts.Schema}.Sanitize(),
		width:  int64(opts.Partition),
		series: map[string]int32{},
		parts:  map[int64]bool{},
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, errcode.Wrap(errcode.PGConnect, err, "connect to postgres %s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// redactParseError returns pgx's parse error without the connection
// string, which may hold a password.
func redactParseError(err error, dsn string) string {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if in := errors.Unwrap(pe); in != nil {
			msg = in.Error()
		} else {
			msg = "invalid connection string"
		}
	}
	if dsn != "" {
		msg = strings.ReplaceAll(msg, dsn, "<dsn>")
	}
	return msg
}

// Layout reports how samples are stored: LayoutPartitioned or LayoutTimescale.
func (s *Store) Layout() string { return s.layout }

// Close releases the connections. Calls after Close fail with OTL-5158.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return errcode.New(errcode.PGClosed, "postgres historian is closed")
	}
	return nil
}

var _ historian.Store = (*Store)(nil)

package pg

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/errcode"
)

// migration is one step of the schema. Steps are never edited once
// released: a change is a new step, so every database reaches the same
// schema by the same path.
type migration struct {
	desc string
	run  func(ctx context.Context, s *Store, tx pgx.Tx) error
}

var migrations = []migration{
	{"series, samples, latest and meta tables", migrate1},
}

// migrate brings the schema to the newest version under an advisory lock,
// so that several otlink nodes starting together migrate once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return errcode.Wrap(errcode.PGConnect, err, "begin migration")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('otlink.historian.migrate'), hashtext($1))`, s.opt.Schema); err != nil {
		return errcode.Wrap(errcode.PGSchema, err, "lock schema %s for migration", s.opt.Schema)
	}
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s.q,
		`CREATE TABLE IF NOT EXISTS ` + s.q + `.schema_version (
			version int PRIMARY KEY,
			description text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`,
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return errcode.Wrap(errcode.PGSchema, err, "create schema %s", s.opt.Schema)
		}
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.q+`.schema_version`).Scan(&have); err != nil {
		return errcode.Wrap(errcode.PGSchema, err, "read schema version of %s", s.opt.Schema)
	}
	if have > len(migrations) {
		return errcode.New(errcode.PGSchemaVersion, "schema %s is at version %d, this otlink knows up to %d", s.opt.Schema, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		m := migrations[v-1]
		if err := m.run(ctx, s, tx); err != nil {
			return errcode.Wrap(errcode.PGSchema, err, "migrate schema %s to version %d (%s)", s.opt.Schema, v, m.desc)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.q+`.schema_version (version, description) VALUES ($1, $2)`, v, m.desc); err != nil {
			return errcode.Wrap(errcode.PGSchema, err, "record schema version %d", v)
		}
	}
	if err := s.loadMeta(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return errcode.Wrap(errcode.PGSchema, err, "commit migration of %s", s.opt.Schema)
	}
	if s.layout == LayoutPartitioned {
		return s.ensureAhead(ctx)
	}
	return nil
}

func (s *Store) loadMeta(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT key, value FROM `+s.q+`.meta`)
	if err != nil {
		return errcode.Wrap(errcode.PGSchema, err, "read meta of %s", s.opt.Schema)
	}
	meta, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var kv [2]string
		err := r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	if err != nil {
		return errcode.Wrap(errcode.PGSchema, err, "read meta of %s", s.opt.Schema)
	}
	for _, kv := range meta {
		switch kv[0] {
		case "layout":
			s.layout = kv[1]
		case "partition_ns":
			// The width a schema was created with wins over the option:
			// partitions of two widths would overlap.
			if w, err := strconv.ParseInt(kv[1], 10, 64); err == nil && w > 0 {
				s.width = w
			}
		}
	}
	if s.layout != LayoutPartitioned && s.layout != LayoutTimescale {
		return errcode.New(errcode.PGSchema, "schema %s has unknown layout %q", s.opt.Schema, s.layout)
	}
	return nil
}

// timescaleAvailable reports whether the server offers the extension.
func timescaleAvailable(ctx context.Context, tx pgx.Tx) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'`).Scan(&n)
	return n > 0, err
}

func migrate1(ctx context.Context, s *Store, tx pgx.Tx) error {
	q := s.q
	base := []string{
		`CREATE TABLE ` + q + `.meta (key text PRIMARY KEY, value text NOT NULL)`,
		// Tags get a small integer id so that each sample row carries 4
		// bytes instead of its path.
		`CREATE TABLE ` + q + `.series (
			id serial PRIMARY KEY,
			tag text NOT NULL UNIQUE,
			vtype int2 NOT NULL,
			unit text NOT NULL DEFAULT '',
			created_at timestamptz NOT NULL DEFAULT now())`,
		// The newest sample of each series, kept by Write, so that the
		// latest value of 10k tags is 10k index lookups in one small table
		// rather than a descent into every partition.
		`CREATE TABLE ` + q + `.latest (
			series_id int4 PRIMARY KEY REFERENCES ` + q + `.series (id),
			source_ns int8 NOT NULL, vtype int2 NOT NULL,
			v_num float8, v_int int8, v_text text,
			quality int4 NOT NULL, code int2 NOT NULL, server_ns int8 NOT NULL)`,
		// ns since 1970 UTC as int8 keeps the model's timestamps exactly
		// (timestamptz has µs); time is a view column for people and Grafana.
		`CREATE FUNCTION ` + q + `.ns_to_time(ns int8) RETURNS timestamptz
			LANGUAGE sql IMMUTABLE PARALLEL SAFE
			AS $$ SELECT timestamptz 'epoch' + (ns / 1000) * interval '1 microsecond' $$`,
		`CREATE FUNCTION ` + q + `.now_ns() RETURNS int8
			LANGUAGE sql STABLE
			AS $$ SELECT (extract(epoch FROM now()) * 1e9)::int8 $$`,
	}
	for _, st := range base {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("%.60s...: %w", st, err)
		}
	}
	layout := LayoutPartitioned
	if s.opt.Timescale != "off" {
		ok, err := timescaleAvailable(ctx, tx)
		if err != nil {
			return err
		}
		if ok {
			err = s.createHypertable(ctx, tx)
			if err == nil {
				layout = LayoutTimescale
			} else if s.opt.Timescale == "on" {
				return fmt.Errorf("timescaledb: %w", err)
			}
		} else if s.opt.Timescale == "on" {
			return fmt.Errorf("timescale: on, but the server has no timescaledb extension")
		}
	}
	if layout == LayoutPartitioned {
		if _, err := tx.Exec(ctx, samplesDDL(q, " PARTITION BY RANGE (source_ns)")); err != nil {
			return err
		}
	}
	view := `CREATE VIEW ` + q + `.samples_v AS
		SELECT s.tag, ` + q + `.ns_to_time(x.source_ns) AS time, x.source_ns,
			x.vtype, x.v_num, x.v_int, x.v_text,
			(x.quality::int8 & 4294967295) AS quality, (x.code::int4 & 65535) AS code,
			` + q + `.ns_to_time(x.server_ns) AS server_time
		FROM ` + q + `.samples x JOIN ` + q + `.series s ON s.id = x.series_id`
	if _, err := tx.Exec(ctx, view); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+q+`.meta (key, value) VALUES ('layout', $1), ('partition_ns', $2)`,
		layout, strconv.FormatInt(s.width, 10))
	return err
}

func samplesDDL(q, suffix string) string {
	return `CREATE TABLE ` + q + `.samples (
		series_id int4 NOT NULL,
		source_ns int8 NOT NULL,
		vtype int2 NOT NULL,
		v_num float8, v_int int8, v_text text,
		quality int4 NOT NULL,
		code int2 NOT NULL,
		server_ns int8 NOT NULL,
		PRIMARY KEY (series_id, source_ns))` + suffix
}

// createHypertable makes samples a TimescaleDB hypertable with compressed
// chunks, inside a savepoint so that "auto" can fall back to partitions
// when the extension is listed but cannot be created (not preloaded, or
// the user may not create it).
func (s *Store) createHypertable(ctx context.Context, tx pgx.Tx) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	q := s.q
	stmts := []string{
		`CREATE EXTENSION IF NOT EXISTS timescaledb`,
		samplesDDL(q, ""),
		fmt.Sprintf(`SELECT create_hypertable('%s.samples', 'source_ns', chunk_time_interval => %d::int8)`, q, s.width),
		fmt.Sprintf(`SELECT set_integer_now_func('%s.samples', '%s.now_ns')`, q, q),
		`ALTER TABLE ` + q + `.samples SET (timescaledb.compress,
			timescaledb.compress_segmentby = 'series_id',
			timescaledb.compress_orderby = 'source_ns')`,
		fmt.Sprintf(`SELECT add_compression_policy('%s.samples', compress_after => %d::int8)`, q, int64(s.opt.CompressAfter)),
	}
	for _, st := range stmts {
		if _, err := sp.Exec(ctx, st); err != nil {
			sp.Rollback(ctx) //nolint:errcheck // the error that matters is err
			return err
		}
	}
	return sp.Commit(ctx)
}

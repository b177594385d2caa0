// Package pg is the PostgreSQL backend of the historian: a historian.Store
// kept in one schema of a PostgreSQL database, for installations that
// share one historian between nodes or read it with Grafana and SQL.
//
// It owns that schema (tables series, samples, latest, meta and
// schema_version), its migrations, and the samples' partitions or, when
// the timescaledb extension is there, the hypertable and its compression.
// Writes are COPY into a per-connection staging table and one
// INSERT ... ON CONFLICT DO NOTHING in the same transaction, so a batch
// is durable when Write returns and a redelivered batch is stored once.
//
// It must not compute aggregates, interpolation or decimation: those are
// written once over historian.Reader. It must not build SQL from input:
// tags, times and patterns travel as parameters; the only identifiers
// formatted into statements are the configured schema name (quoted) and
// partition names derived from times.
package pg

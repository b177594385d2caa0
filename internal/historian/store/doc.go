// Package store is the historian's embedded backend: a historian.Store on
// Pebble with a write-ahead log for the open chunks.
//
// It owns the on-disk layout (docs/formats/store.md): tag paths interned
// to series ids, sealed chunks and amending segments as immutable Pebble
// values, series metadata (for a fast Latest), and the WAL segments with
// their CRC32C framing. Write returns when the samples are in the WAL
// (durable against SIGKILL, and against power loss with SyncAlways);
// open chunks are sealed when full, and WAL segments whose samples are all
// sealed are deleted. Duplicates (same tag, source time, value, quality)
// are dropped, so redelivery from the bus is harmless; samples older than
// the open chunk become amending segments, never dropped. Ingest feeds a
// Store from the bus and acknowledges only what Write made durable.
//
// It must not compress samples itself (historian/chunk does), do the
// arithmetic of aggregates (historian/agg does, also for rollups), or
// know the integrity log's format: sealed chunks, amendments and purges
// are announced through the small Ledger and PurgeLedger interfaces.
//
// Retention (retention.go) deletes whole expired chunks per tag class and
// records each purge in the ledger first, naming the leaves it removes.
// Rollups (rollup.go) are 1-minute and 1-hour rows computed with
// historian/agg over the raw samples, marked dirty by the write path and
// computed by a bounded background pass (docs/retention.md).
package store

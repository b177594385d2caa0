package store

import (
	"context"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
)

// LedgerEntry announces a sealed chunk or an amending segment.
type LedgerEntry struct {
	Amend    bool     // an amending segment (late data), not a sealed chunk
	Tag      string   // the series
	Seq      uint64   // per-series chunk number, +1 per chunk or segment
	Key      string   // the chunk's key, as keyString prints it
	From, To int64    // source times of the first and last sample, Unix ns
	Count    uint64   // samples
	DataHash [32]byte // chunk.LeafHash of the samples, as decoded from the chunk
}

// Ledger records chunks in a tamper-evident log. Record is called after
// the chunks are synced into the store; an entry whose Record failed or
// was cut short by a crash is recorded again on the next Open, so a crash
// between Record and the store's note that it succeeded can record an
// entry twice (same Tag, Seq and Key: a verifier treats it as one).
type Ledger interface {
	Record(ctx context.Context, entries []LedgerEntry) error
}

// IntegrityLedger records entries in an integrity log: KindChunk for
// sealed chunks, KindAmend for amending segments.
func IntegrityLedger(l *integrity.Log) Ledger { return integrityLedger{l} }

type integrityLedger struct{ l *integrity.Log }

func (il integrityLedger) Record(ctx context.Context, entries []LedgerEntry) error {
	es := make([]integrity.Entry, len(entries))
	for i, e := range entries {
		k := integrity.KindChunk
		if e.Amend {
			k = integrity.KindAmend
		}
		es[i] = integrity.Entry{Kind: k, Tag: e.Tag, Seq: e.Seq, Key: e.Key, Count: e.Count,
			From: time.Unix(0, e.From).UTC(), To: time.Unix(0, e.To).UTC(), DataHash: integrity.Hash(e.DataHash)}
	}
	_, err := il.l.Append(ctx, es...)
	return err
}

// flushLedger records the pending entries and forgets them.
func (s *Store) flushLedger(ctx context.Context) error {
	if s.opts.Ledger == nil || len(s.pending) == 0 {
		return nil
	}
	// Hook (retention.go): a PurgeLedger tells where the entries landed,
	// kept under prefixLeaf so that a purge can name the leaves it removes.
	var first uint64
	var err error
	pl, indexed := s.opts.Ledger.(PurgeLedger)
	if indexed {
		first, err = pl.RecordIndexed(ctx, s.pending)
	} else {
		err = s.opts.Ledger.Record(ctx, s.pending)
	}
	if err != nil {
		return errcode.Wrap(errcode.StoreLedger, err, "record %d chunks", len(s.pending))
	}
	b := s.db.NewBatch()
	if indexed {
		s.putLeafIndexes(b, first)
	}
	for _, e := range s.pending {
		if id := s.series[e.Tag]; id != nil {
			_ = b.Delete(pendingKey(id.id, uint32(e.Seq)), nil)
		}
	}
	s.pending = s.pending[:0]
	if err := b.Commit(pebble.NoSync); err != nil {
		return errcode.Wrap(errcode.StoreWrite, err, "forget recorded ledger entries")
	}
	return nil
}

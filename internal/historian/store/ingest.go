package store

import (
	"context"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Ingest consumes the bus's samples through the durable consumer named
// durable and writes each batch to s. A batch is acknowledged only after
// Write returned nil, so an acknowledged batch is durable; a batch
// redelivered after a crash is deduplicated by Write. It returns nil when
// ctx is cancelled.
func Ingest(ctx context.Context, b *bus.Bus, s *Store, durable string) error {
	err := b.ConsumeSamples(ctx, durable, func(batch *model.Batch) error {
		return s.Write(ctx, batch.Samples)
	})
	if err != nil {
		return errcode.Wrap(errcode.StoreIngest, err, "ingest samples as %s", durable)
	}
	return nil
}

package bus

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// consumer tuning: a fetch waits at most fetchWait, so cancelling ctx is
// noticed within it.
const (
	fetchBatch = 256
	fetchWait  = time.Second
)

// ConsumeSamples reads OTL_SAMPLES through the durable pull consumer named
// durable (created if missing, resumed if not) and calls fn with each
// decoded batch, in stream order, one at a time. A batch is acknowledged
// after fn returns nil. When fn fails the same batch is offered again
// (with a growing pause, up to 5 s) until fn accepts it or ctx is done:
// nothing is skipped and order is kept. A batch that cannot be decoded is
// logged with its code and terminated, since no retry can fix it.
//
// fn must not keep the *model.Batch or its Samples slice after it returns;
// they are reused for the next batch. ConsumeSamples returns nil when ctx
// is cancelled, and a coded error when the consumer cannot be set up or
// the connection is gone.
func (b *Bus) ConsumeSamples(ctx context.Context, durable string, fn func(*model.Batch) error) error {
	if b.closed.Load() {
		return errcode.New(errcode.BusClosed, "consume samples as %s: bus closed", durable)
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, SamplesStream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "otlink samples consumer",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: SamplesSubject,
		MaxAckPending: 4 * fetchBatch,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return errcode.Wrap(errcode.BusConsumeFailed, err, "create consumer %s on %s", durable, SamplesStream)
	}
	// Acks are sent without waiting for the server's confirmation; a
	// round trip on return makes sure the server has processed them.
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = b.nc.FlushWithContext(fctx)
		cancel()
	}()
	dec := NewDecoder()
	var batch model.Batch
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(fetchBatch, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if b.closed.Load() || b.nc.IsClosed() {
				return errcode.Wrap(errcode.BusClosed, err, "fetch samples as %s", durable)
			}
			b.log.Warn("bus fetch failed", "code", errcode.BusConsumeFailed.String(), "err", err)
			if !sleepCtx(ctx, fetchWait) {
				return nil
			}
			continue
		}
		for m := range msgs.Messages() {
			if ctx.Err() != nil {
				// Hand the rest back in order for the next consumer.
				_ = m.Nak()
				continue
			}
			b.handle(ctx, m, dec, &batch, fn)
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			if b.closed.Load() || b.nc.IsClosed() {
				return errcode.Wrap(errcode.BusClosed, err, "fetch samples as %s", durable)
			}
			b.log.Warn("bus fetch ended", "code", errcode.BusConsumeFailed.String(), "err", err)
		}
	}
	return nil
}

func (b *Bus) handle(ctx context.Context, m jetstream.Msg, dec *Decoder, batch *model.Batch, fn func(*model.Batch) error) {
	if s := m.Headers().Get("Otl-Schema"); s != "" && s != SchemaHeader {
		b.log.Error("bus message skipped", "code", errcode.BusDecodeUnknownSchema.String(), "schema", s, "subject", m.Subject())
		_ = m.Term()
		return
	}
	if err := dec.Decode(m.Data(), batch); err != nil {
		b.log.Error("bus message skipped", "code", errcode.Of(err).String(), "err", err, "subject", m.Subject(), "id", m.Headers().Get("Nats-Msg-Id"))
		_ = m.Term()
		return
	}
	pause := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(batch)
		if err == nil {
			_ = m.Ack()
			return
		}
		b.log.Error("bus consumer failed, retrying", "code", errcode.BusHandlerFailed.String(), "err", err, "device", batch.Device, "attempt", attempt)
		_ = m.InProgress() // keep the server from redelivering it meanwhile
		if !sleepCtx(ctx, pause) {
			_ = m.Nak()
			return
		}
		pause = min(2*pause, 5*time.Second)
		// fn may have changed the batch; decode it afresh.
		if err := dec.Decode(m.Data(), batch); err != nil {
			_ = m.Term()
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

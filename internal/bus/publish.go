package bus

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Stats are the bus's counters since Open, for metrics.
type Stats struct {
	Published  uint64 // batches handed to JetStream
	Samples    uint64 // samples in those batches
	Bytes      uint64 // encoded bytes in those batches
	Acked      uint64 // batches JetStream confirmed stored (duplicates included)
	Duplicates uint64 // acked batches JetStream had already (same Nats-Msg-Id)
	Failed     uint64 // batches refused, timed out or lost
	Pending    int    // published, not yet acked or failed
	UNS        uint64 // unified-namespace messages published
	UNSFailed  uint64 // unified-namespace messages not published
}

type counters struct {
	published, samples, bytes, acked, dups, failed atomic.Uint64
	uns, unsFailed                                 atomic.Uint64
	settled                                        atomic.Uint64 // acked or failed after PublishMsgAsync returned
}

// Stats returns a snapshot of the counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Published:  b.stats.published.Load(),
		Samples:    b.stats.samples.Load(),
		Bytes:      b.stats.bytes.Load(),
		Acked:      b.stats.acked.Load(),
		Duplicates: b.stats.dups.Load(),
		Failed:     b.stats.failed.Load(),
		Pending:    len(b.sem),
		UNS:        b.stats.uns.Load(),
		UNSFailed:  b.stats.unsFailed.Load(),
	}
}

// SamplesSubjectOf returns the subject a device's batches are published on:
// otl.v1.samples.<device>, with every byte of the name outside
// [A-Za-z0-9_-] replaced by "_" so that a name is always one token.
func SamplesSubjectOf(device string) string {
	buf := make([]byte, 0, len(SamplesPrefix)+len(device)+1)
	buf = append(buf, SamplesPrefix...)
	if device == "" {
		return string(append(buf, '_'))
	}
	for i := 0; i < len(device); i++ {
		c := device[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			c = '_'
		}
		buf = append(buf, c)
	}
	return string(buf)
}

// MsgID is the Nats-Msg-Id of a batch: device/class/seq/start, and /part
// for the parts after the first of a cycle (model.Batch.Part). JetStream
// drops a second message with the same id inside the duplicate window, so a
// batch republished after a lost ack is stored once. The start time is part
// of it so that a restarted acquisition whose sequence starts again at 1
// is not mistaken for a republish.
func MsgID(b *model.Batch) string {
	buf := make([]byte, 0, len(b.Device)+len(b.Class)+56)
	buf = append(buf, b.Device...)
	buf = append(buf, '/')
	buf = append(buf, b.Class...)
	buf = append(buf, '/')
	buf = strconv.AppendUint(buf, b.Seq, 10)
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, b.Start, 10)
	if b.Part > 0 {
		// Part 0 keeps the id a whole cycle had before batches had parts.
		buf = append(buf, '/')
		buf = strconv.AppendUint(buf, uint64(b.Part), 10)
	}
	return string(buf)
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// PublishBatch publishes b to OTL_SAMPLES without waiting for its ack. It
// blocks while MaxPending batches await acks (back-pressure), until ctx is
// done. b is encoded before it returns, so the caller may reuse b at once.
// A failure after it returned is counted in Stats and reported by Flush.
func (b *Bus) PublishBatch(ctx context.Context, batch *model.Batch) error {
	if b.closed.Load() {
		return errcode.New(errcode.BusClosed, "publish batch of %s: bus closed", batch.Device)
	}
	select {
	case b.sem <- struct{}{}:
	default:
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			return errcode.Wrap(errcode.BusPublishTimeout, ctx.Err(), "publish batch %d of %s: %d batches await acks", batch.Seq, batch.Device, cap(b.sem))
		}
	}
	bp := bufPool.Get().(*[]byte)
	data := AppendBatch((*bp)[:0], batch)
	*bp = data
	if len(data) > MaxPayload || int64(len(data)) > b.nc.MaxPayload() {
		<-b.sem
		bufPool.Put(bp)
		return errcode.New(errcode.BusBatchTooLarge, "publish batch %d of %s: %d samples encode to %d bytes, limit %d", batch.Seq, batch.Device, len(batch.Samples), len(data), min(MaxPayload, b.nc.MaxPayload()))
	}
	msg := &nats.Msg{
		Subject: SamplesSubjectOf(batch.Device),
		Data:    data,
		Header: nats.Header{
			"Otl-Schema":  []string{SchemaHeader},
			"Nats-Msg-Id": []string{MsgID(batch)},
		},
	}
	// The buffer goes back to the pool when the ack or failure comes; the
	// library keeps msg (and so data) until then for its retries.
	if _, err := b.js.PublishMsgAsync(msg); err != nil {
		<-b.sem
		bufPool.Put(bp)
		b.stats.failed.Add(1)
		if b.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) {
			return errcode.Wrap(errcode.BusClosed, err, "publish batch %d of %s", batch.Seq, batch.Device)
		}
		return errcode.Wrap(errcode.BusPublishFailed, err, "publish batch %d of %s", batch.Seq, batch.Device)
	}
	b.stats.published.Add(1)
	b.stats.samples.Add(uint64(len(batch.Samples)))
	b.stats.bytes.Add(uint64(len(data)))
	return nil
}

func (b *Bus) release(m *nats.Msg) {
	// Recover the pooled buffer that holds m.Data.
	d := m.Data
	m.Data = nil
	bufPool.Put(&d)
	<-b.sem
}

// onAck runs on the library's ack goroutine; it must not block.
func (b *Bus) onAck(_ jetstream.JetStream, m *nats.Msg, pa *jetstream.PubAck) {
	b.stats.acked.Add(1)
	if pa != nil && pa.Duplicate {
		b.stats.dups.Add(1)
	}
	b.forget(m)
	b.release(m)
	b.stats.settled.Add(1)
}

// maxRetries is how often a batch is republished after a lost ack or a
// disconnect. Its Nats-Msg-Id is unchanged, so JetStream stores it once
// even when the first copy had arrived.
const maxRetries = 3

func retryable(err error) bool {
	return errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

func (b *Bus) onPublishErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	if retryable(err) && !b.closed.Load() {
		b.retryMu.Lock()
		n := b.retries[m] + 1
		if n <= maxRetries {
			b.retries[m] = n
			b.retryMu.Unlock()
			// The slot stays taken while the batch waits: back-pressure
			// holds while the bus is unwell.
			go b.republish(m, n)
			return
		}
		b.retryMu.Unlock()
	}
	b.forget(m)
	b.stats.failed.Add(1)
	c := errcode.BusPublishFailed
	if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
		c = errcode.BusPublishTimeout
	}
	id := m.Header.Get("Nats-Msg-Id")
	werr := errcode.Wrap(c, err, "publish batch %s", id)
	b.errMu.Lock()
	b.lastErr = werr
	b.errMu.Unlock()
	b.release(m)
	b.stats.settled.Add(1)
	// One line a second at most: a full stream fails every batch.
	now := time.Now()
	b.logMu.Lock()
	if now.After(b.logNext) {
		b.logNext = now.Add(time.Second)
		b.logMu.Unlock()
		b.log.Error("bus publish failed", "code", c.String(), "err", werr, "failed", b.stats.failed.Load())
		return
	}
	b.logMu.Unlock()
}

func (b *Bus) republish(m *nats.Msg, n int) {
	time.Sleep(time.Duration(n) * 100 * time.Millisecond)
	if _, err := b.js.PublishMsgAsync(m); err != nil {
		b.onPublishErr(nil, m, err)
	}
}

func (b *Bus) forget(m *nats.Msg) {
	b.retryMu.Lock()
	if len(b.retries) > 0 {
		delete(b.retries, m)
	}
	b.retryMu.Unlock()
}

// Flush waits until every batch published before it was called is
// acknowledged or has failed, or ctx is done. It returns the last
// asynchronous failure since the previous Flush, if any.
func (b *Bus) Flush(ctx context.Context) error {
	target := b.stats.published.Load()
	if b.stats.settled.Load() < target {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for b.stats.settled.Load() < target {
			select {
			case <-t.C:
			case <-ctx.Done():
				return errcode.Wrap(errcode.BusPublishTimeout, ctx.Err(), "flush bus: %d batches still await acks", target-b.stats.settled.Load())
			}
		}
	}
	b.errMu.Lock()
	err := b.lastErr
	b.lastErr = nil
	b.errMu.Unlock()
	return err
}

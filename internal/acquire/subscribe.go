package acquire

import (
	"context"
	"math"
	"sync"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Devices that push (driver.Pusher: OPC UA subscriptions, MTConnect
// streams, MQTT) are not polled. After each connect the supervisor
// subscribes to all their tags on the connection; values arrive at any
// time and go through update like read values (scaling, range, deadband,
// report by exception); each poll class's ticks publish what arrived
// since the last tick as one batch. So a pushing device costs the bus one
// batch per class interval, its batches carry sequence numbers like any
// other, and when the connection is down its tags turn bad on the next
// tick exactly as a polled device's do.

// subscribe starts the subscription of a pushing device on the connection
// l and returns the function that ends it and waits for it. A failed
// subscription fails l, so the supervisor reconnects with back-off.
func (d *device) subscribe(ctx context.Context, l *link) (unsubscribe func()) {
	if !d.p.push {
		return func() {}
	}
	sub, ok := l.conn.(driver.Subscriber)
	if !ok {
		err := errcode.New(errcode.AcquireNotSubscriber, "device %s: driver %s pushes but its connection cannot subscribe", d.p.cfg.Name, d.p.cfg.Driver)
		d.log.Error("cannot subscribe", "code", errcode.AcquireNotSubscriber.String(), "err", err)
		d.fail(l, err, model.BadConfigurationError, uint16(errcode.AcquireNotSubscriber))
		return func() {}
	}
	items, index := d.items()
	sctx, cancel := context.WithCancel(ctx)
	// The driver's own requests (create subscription, monitored items,
	// probe) pass the device's budget like reads.
	sctx = driver.WithPacer(sctx, d.pace)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := sub.Subscribe(sctx, items, func(u driver.Update) { d.pushed(index, u) })
		if sctx.Err() != nil {
			return
		}
		if err == nil {
			err = errcode.New(errcode.AcquireSubscription, "device %s: the subscription ended", d.p.cfg.Name)
		}
		code := uint16(errcode.Of(err))
		if code == 0 {
			code = uint16(errcode.AcquireSubscription)
		}
		if d.stats.noteError(err, d.now()) {
			d.log.Warn("subscription failed", "code", codeString(code), "err", err)
		}
		q := model.BadCommunicationError
		if d.p.drv.Classify(err) == driver.FaultTimeout {
			q = model.BadTimeout
		}
		d.fail(l, err, q, code)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// items lists the device's resolved tags as subscription items; index
// maps an item back to its tag.
func (d *device) items() (items []driver.Item, index []uint32) {
	for i := range d.p.tags {
		td := &d.p.tags[i]
		if td.bad {
			continue
		}
		it := driver.Item{Point: d.p.point(td), Tag: d.p.path(td), Interval: d.p.classes[td.class].effective}
		if i < len(d.p.addrs) {
			it.Address = d.p.addrs[i]
		}
		if x := d.p.extra(td); x != nil && x.deadband > 0 {
			it.Deadband = x.deadband
			if x.scaled && x.gain != 0 {
				it.Deadband = x.deadband / math.Abs(x.gain)
			}
		}
		items = append(items, it)
		index = append(index, uint32(i))
	}
	return items, index
}

// pushed applies one value the device reported.
func (d *device) pushed(index []uint32, u driver.Update) {
	if u.Item < 0 || u.Item >= len(index) {
		d.log.Error("driver reported an unknown subscription item", "item", u.Item)
		return
	}
	ti := index[u.Item]
	c := d.cls[d.p.tags[ti].class]
	q, v := u.Quality, u.Value
	if q.IsBad() {
		v = model.Value{}
	}
	now := d.now().UnixNano()
	c.mu.Lock()
	n := len(c.batch.Samples)
	d.update(c, ti, v, q, u.Code, now)
	if u.Source != 0 && len(c.batch.Samples) > n {
		c.batch.Samples[n].Source = u.Source
	}
	c.mu.Unlock()
	d.okRead.Store(true)
}

// flush is the cycle of a pushing device's class: it publishes what
// arrived since the last tick. While the device is not connected, its
// tags take the connection's quality, reported when it changes.
func (d *device) flush(ctx context.Context, c *classRun, missed uint64) {
	if l := d.link.Load(); l.conn == nil {
		d.markBad(c, c.def.tags, l.q, l.code)
	}
	now := d.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.from
	if start.IsZero() {
		start = now
	}
	c.from = now
	d.publish(ctx, c, start, missed)
	c.batch.Samples = c.batch.Samples[:0]
}

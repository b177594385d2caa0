package opcua

import (
	"context"
	"sort"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// badTypeMismatch is OPC UA's BadTypeMismatch, for values that do not fit
// the tag's type.
const badTypeMismatch model.Quality = 0x80740000

// Subscribe implements driver.Subscriber: one subscription per distinct
// item interval (its publishing interval), with one monitored item per
// item (sampling interval = the interval, queue size from the options,
// an absolute data-change deadband when the item has one).
//
// While gopcua restores a lost session (it transfers the subscriptions to
// the new session and re-creates those the server lost), every item is
// reported BadNotConnected; once the session is back, all items are read
// once, since a transferred subscription sends no initial values. When
// the session does not come back within reconnect_timeout, Subscribe
// returns an error and the engine reconnects through Connect, which
// checks the server certificate again.
func (c *Conn) Subscribe(ctx context.Context, items []driver.Item, report func(driver.Update)) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	c.mu.Lock()
	states := c.states
	c.mu.Unlock()

	nodes := make([]*ua.NodeID, len(items))
	byInterval := map[time.Duration][]int{}
	for i, it := range items {
		n, err := ParseNodeID(it.Address)
		if err != nil {
			report(driver.Update{Item: i, Quality: model.BadNodeIDUnknown, Code: uint16(errcode.UABadNodeID)})
			continue
		}
		nodes[i] = n
		iv := it.Interval
		if iv <= 0 {
			iv = time.Second
		}
		byInterval[iv] = append(byInterval[iv], i)
	}
	ivs := make([]time.Duration, 0, len(byInterval))
	for iv := range byInterval {
		ivs = append(ivs, iv)
	}
	sort.Slice(ivs, func(a, b int) bool { return ivs[a] < ivs[b] })

	notes := make(chan *opcua.PublishNotificationData, 64)
	var subs []*opcua.Subscription
	defer func() {
		// Delete the server's subscriptions with a fresh context: ctx has
		// usually ended by now.
		dctx, cancel := context.WithTimeout(context.Background(), c.s.timeout)
		defer cancel()
		for _, s := range subs {
			_ = s.Cancel(dctx)
		}
	}()
	for _, iv := range ivs {
		done, err := driver.Pace(ctx)
		if err != nil {
			return err
		}
		sub, err := cl.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: iv}, notes)
		done()
		if err != nil {
			return errcode.Wrap(errcode.UASubscription, wrapErr(err, "create subscription"), "device %s: interval %s", c.name, iv)
		}
		subs = append(subs, sub)
		idx := byInterval[iv]
		for len(idx) > 0 {
			n := min(len(idx), maxMonitorPerCall)
			if err := c.monitor(ctx, sub, items, nodes, idx[:n], iv, report); err != nil {
				return err
			}
			idx = idx[n:]
		}
	}

	connected := true
	var lostAt time.Time
	watch := time.NewTicker(time.Second)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-notes:
			if n == nil {
				continue
			}
			if n.Error != nil {
				// gopcua reports publish errors here; the state callback
				// tells whether the session is lost.
				continue
			}
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, mi := range dc.MonitoredItems {
				if mi == nil || int(mi.ClientHandle) >= len(items) {
					continue
				}
				report(update(int(mi.ClientHandle), items[mi.ClientHandle].Point.Type, mi.Value))
			}
		case st := <-states:
			switch st {
			case opcua.Connected:
				if !connected {
					connected = true
					c.refresh(ctx, cl, items, nodes, report)
				}
			case opcua.Disconnected, opcua.Reconnecting:
				if connected {
					connected, lostAt = false, time.Now()
					for i := range items {
						if nodes[i] != nil {
							report(driver.Update{Item: i, Quality: model.BadNotConnected, Code: uint16(errcode.UAConnection)})
						}
					}
				}
			case opcua.Closed:
				return errcode.New(errcode.UAConnection, "device %s: session closed and not restored", c.name)
			}
		case <-watch.C:
			if cl.State() == opcua.Closed {
				return errcode.New(errcode.UAConnection, "device %s: session closed and not restored", c.name)
			}
			if !connected && time.Since(lostAt) > c.s.reconnect {
				return errcode.New(errcode.UAConnection, "device %s: session not restored within %s", c.name, c.s.reconnect)
			}
		}
	}
}

// monitor creates the monitored items idx of sub; items the server
// refuses are reported bad and left out.
func (c *Conn) monitor(ctx context.Context, sub *opcua.Subscription, items []driver.Item, nodes []*ua.NodeID, idx []int, iv time.Duration, report func(driver.Update)) error {
	reqs := make([]*ua.MonitoredItemCreateRequest, len(idx))
	for k, i := range idx {
		r := opcua.NewMonitoredItemCreateRequestWithDefaults(nodes[i], ua.AttributeIDValue, uint32(i))
		r.RequestedParameters.SamplingInterval = float64(iv) / float64(time.Millisecond)
		r.RequestedParameters.QueueSize = c.s.queueSize
		if db := items[i].Deadband; db > 0 {
			r.RequestedParameters.Filter = ua.NewExtensionObject(&ua.DataChangeFilter{
				Trigger: ua.DataChangeTriggerStatusValue, DeadbandType: uint32(ua.DeadbandTypeAbsolute), DeadbandValue: db,
			})
		}
		reqs[k] = r
	}
	done, err := driver.Pace(ctx)
	if err != nil {
		return err
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnSource, reqs...)
	done()
	if err != nil {
		return errcode.Wrap(errcode.UASubscription, wrapErr(err, "create monitored items"), "device %s", c.name)
	}
	if st := res.ResponseHeader.ServiceResult; st != ua.StatusOK {
		return errcode.Wrap(errcode.UASubscription, st, "device %s: create monitored items", c.name)
	}
	if len(res.Results) != len(reqs) {
		return errcode.New(errcode.UAMalformed, "device %s: %d monitored items asked, %d results", c.name, len(reqs), len(res.Results))
	}
	var failed bool
	for k, r := range res.Results {
		if r.StatusCode != ua.StatusOK {
			failed = true
			report(driver.Update{Item: idx[k], Quality: model.Quality(r.StatusCode), Code: uint16(errcode.UABadStatus)})
		}
	}
	if failed {
		// gopcua remembers refused items under id 0 and would fail to
		// re-create the subscription after a reconnect because of them.
		dctx, cancel := context.WithTimeout(context.Background(), c.s.timeout)
		_, _ = sub.Unmonitor(dctx, 0)
		cancel()
	}
	return nil
}

// refresh reads every item once and reports it.
func (c *Conn) refresh(ctx context.Context, cl *opcua.Client, items []driver.Item, nodes []*ua.NodeID, report func(driver.Update)) {
	c.mu.Lock()
	max := int(c.maxRead)
	c.mu.Unlock()
	var idx []int
	var batch []*ua.NodeID
	flush := func() {
		if len(batch) == 0 {
			return
		}
		vals, err := readValues(ctx, cl, batch)
		if err == nil {
			for k, dv := range vals {
				report(update(idx[k], items[idx[k]].Point.Type, dv))
			}
		}
		idx, batch = idx[:0], batch[:0]
	}
	for i, n := range nodes {
		if n == nil {
			continue
		}
		idx, batch = append(idx, i), append(batch, n)
		if len(batch) >= max {
			flush()
		}
	}
	flush()
}

// update converts a data value into an Update for item i of type t.
func update(i int, t model.Type, dv *ua.DataValue) driver.Update {
	if dv == nil {
		return driver.Update{Item: i, Quality: model.Bad, Code: uint16(errcode.UAMalformed)}
	}
	u := driver.Update{Item: i, Quality: model.Quality(dv.Status)}
	if !dv.SourceTimestamp.IsZero() {
		u.Source = dv.SourceTimestamp.UnixNano()
	}
	if u.Quality.IsBad() {
		u.Code = uint16(errcode.UABadStatus)
		return u
	}
	v, err := convert(fromVariant(dv.Value), t)
	if err != nil {
		return driver.Update{Item: i, Quality: badTypeMismatch, Code: uint16(errcode.Of(err)), Source: u.Source}
	}
	u.Value = v
	return u
}

package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mtc "github.com/otlink/otlink/internal/mtconnect"
)

// maxGapRecoveries bounds how often one Subscribe call starts again from
// /current after OUT_OF_RANGE before it gives up and lets the engine
// reconnect with back-off.
const maxGapRecoveries = 8

// Conn is a connection to one MTConnect agent (and optionally one of its
// devices). It implements driver.Conn, driver.Identifier and
// driver.Subscriber.
type Conn struct {
	drv      *Driver
	name     string // otlink device name
	endpoint string
	base     string // agent base URL without the device
	device   string // "" = every device of the agent
	timeout  time.Duration
	opts     options
	client   *http.Client
	tr       *http.Transport
	state    *resume

	mu       sync.Mutex
	probe    *mtc.Devices
	items    map[string]*mtc.DataItem // by id
	names    map[string]string        // name -> id; "" when ambiguous
	ident    driver.Identity
	cancelRq context.CancelFunc // of the stream in flight
	closed   bool
}

func newConn(d *Driver, name, endpoint, base, device string, timeout time.Duration, o options) *Conn {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		ResponseHeaderTimeout: timeout,
		TLSHandshakeTimeout:   timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true, // a gzip bomb would bypass the size limit's meaning
	}
	return &Conn{drv: d, name: name, endpoint: endpoint, base: base, device: device, timeout: timeout, opts: o,
		tr: tr, client: &http.Client{Transport: tr}, state: d.state(name, endpoint)}
}

func (c *Conn) url(req string, q url.Values) string {
	u := c.base + "/"
	if c.device != "" {
		u += url.PathEscape(c.device) + "/"
	}
	u += req
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// get sends one request and returns the parsed document. An
// MTConnectError document is returned as a document, not an error, so
// that callers can act on its code; an HTTP error without one is an
// error.
func (c *Conn) get(ctx context.Context, req string, q url.Values) (*mtc.Doc, error) {
	ctx, cancel := context.WithTimeout(ctx, max(2*c.timeout, 2*time.Second))
	defer cancel()
	done, err := driver.Pace(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(req, q), nil)
	if err != nil {
		return nil, errcode.Wrap(errcode.MTConnectBadEndpoint, err, "build %s request", req)
	}
	resp, err := c.client.Do(hr)
	if err != nil {
		return nil, errcode.Wrap(errcode.MTConnectConnection, err, "%s from %s", req, c.base)
	}
	defer resp.Body.Close()
	b, err := mtc.ReadAll(resp.Body, c.opts.maxDocument)
	if err != nil {
		return nil, errcode.Wrap(errcode.Of(err), err, "%s from %s", req, c.base)
	}
	doc, perr := mtc.Parse(b)
	if resp.StatusCode != http.StatusOK && (perr != nil || doc.Kind != mtc.KindError) {
		return nil, errcode.New(errcode.MTConnectHTTPStatus, "%s from %s: http status %d", req, c.base, resp.StatusCode)
	}
	if perr != nil {
		return nil, errcode.Wrap(errcode.MTConnectMalformed, perr, "%s from %s", req, c.base)
	}
	return doc, nil
}

// agentError turns an error document into a coded error, NO_DEVICE into
// its own code.
func (c *Conn) agentError(req string, e *mtc.ErrorDoc) error {
	if e.Has(mtc.ErrNoDevice) {
		return errcode.Wrap(errcode.MTConnectNoDevice, e.Err(), "%s: agent %s has no device %q", req, c.base, c.device)
	}
	return errcode.Wrap(errcode.MTConnectAgentError, e.Err(), "%s from %s", req, c.base)
}

// Connect probes the agent: the data items and the device's identity.
// A changed instance id means the agent restarted since the last stream:
// what it had not sent is lost, which is counted and logged.
func (c *Conn) Connect(ctx context.Context) error {
	doc, err := c.get(ctx, "probe", nil)
	if err != nil {
		return err
	}
	switch doc.Kind {
	case mtc.KindError:
		return c.agentError("probe", doc.Error)
	case mtc.KindDevices:
	default:
		return errcode.New(errcode.MTConnectMalformed, "probe from %s returned %s", c.base, doc.Kind)
	}
	items := map[string]*mtc.DataItem{}
	names := map[string]string{}
	var ident driver.Identity
	devs := doc.Devices.List()
	for i := range devs {
		d := &devs[i]
		if c.device != "" && d.Name != c.device && d.UUID != c.device {
			continue
		}
		if d.Type() == "Agent" && c.device == "" && len(devs) > 1 {
			// The agent's own device (MTConnect 1.7+) is served too, but
			// the identity is the machine's.
		} else if ident.Vendor == "" && ident.Product == "" {
			ident = identityOf(d, &doc.Devices.Header)
		}
		d.Walk(func(comp, _ *mtc.Component) {
			for j := range comp.Items() {
				di := &comp.DataItems.Items[j]
				items[di.ID] = di
				if di.Name == "" {
					continue
				}
				if prev, dup := names[di.Name]; dup && prev != di.ID {
					names[di.Name] = ""
				} else {
					names[di.Name] = di.ID
				}
			}
		})
	}
	if c.device != "" && len(items) == 0 {
		return errcode.New(errcode.MTConnectNoDevice, "probe: agent %s has no device %q with data items", c.base, c.device)
	}
	c.mu.Lock()
	c.probe, c.items, c.names, c.ident = doc.Devices, items, names, ident
	c.mu.Unlock()
	c.checkInstance(doc.Devices.Header.InstanceID)
	return nil
}

// checkInstance notes a restart of the agent: sequences start again, so
// the stream starts from /current.
func (c *Conn) checkInstance(id uint64) bool {
	s := c.state
	s.mu.Lock()
	restarted := s.instanceID != 0 && id != s.instanceID
	if restarted {
		s.Restarts++
		s.next = 0
	}
	s.instanceID = id
	s.mu.Unlock()
	if restarted {
		c.drv.logger().Warn("mtconnect agent restarted; observations it had not sent are lost",
			"device", c.name, "driver", "mtconnect", "code", errcode.MTConnectRestarted.String(), "instance", id)
	}
	return restarted
}

func identityOf(d *mtc.Component, h *mtc.Header) driver.Identity {
	id := driver.Identity{Extra: map[string]string{}}
	if desc := d.Description; desc != nil {
		id.Vendor, id.Product = desc.Manufacturer, desc.Model
		if desc.SerialNumber != "" {
			id.Extra["serial_number"] = desc.SerialNumber
		}
		if desc.Station != "" {
			id.Extra["station"] = desc.Station
		}
	}
	for k, v := range map[string]string{"uuid": d.UUID, "device": d.Name, "agent_version": h.Version,
		"sender": h.Sender, "instance_id": strconv.FormatUint(h.InstanceID, 10)} {
		if v != "" {
			id.Extra[k] = v
		}
	}
	return id
}

// Identify implements driver.Identifier from the probe's Description.
func (c *Conn) Identify(ctx context.Context) (driver.Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probe == nil {
		return driver.Identity{}, errcode.New(errcode.MTConnectConnection, "identify %s: not connected", c.base)
	}
	return c.ident, nil
}

// Read implements driver.Conn; MTConnect devices are not polled.
func (c *Conn) Read(context.Context, uint32, uint32, uint32, []byte) ([]byte, error) {
	return nil, errcode.New(errcode.MTConnectNotPolled, "read %s: mtconnect devices are read by subscription", c.base)
}

// Write implements driver.Writer: MTConnect is read-only.
func (c *Conn) Write(context.Context, driver.Point, model.Value) error {
	return errcode.New(errcode.MTConnectNotWritable, "write to %s: mtconnect is read-only", c.base)
}

// Close ends the stream in flight and idle connections.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.cancelRq != nil {
		c.cancelRq()
	}
	c.mu.Unlock()
	c.tr.CloseIdleConnections()
	return nil
}

// Counters returns the device's counters (shared across connections).
func (c *Conn) Counters() Counters {
	c.state.mu.Lock()
	defer c.state.mu.Unlock()
	return c.state.Counters
}

// sub is one Subscribe call's view of the items.
type sub struct {
	items  []driver.Item
	byID   map[string][]int
	report func(driver.Update)
	active []map[string]int // per item index: active condition native codes -> rank
}

// Subscribe implements driver.Subscriber. Without a sequence to resume
// from it reports /current first; then it follows /sample from the next
// sequence until ctx ends or the stream fails.
func (c *Conn) Subscribe(ctx context.Context, items []driver.Item, report func(driver.Update)) error {
	c.mu.Lock()
	if c.probe == nil {
		c.mu.Unlock()
		return errcode.New(errcode.MTConnectConnection, "subscribe to %s: not connected", c.base)
	}
	s := &sub{items: items, byID: map[string][]int{}, report: report, active: make([]map[string]int, len(items))}
	var unknown []int
	for i, it := range items {
		addr := it.Address
		di := c.items[addr]
		if di == nil {
			if id := c.names[addr]; id != "" {
				di = c.items[id]
			}
		}
		if di == nil {
			unknown = append(unknown, i)
			continue
		}
		if err := checkType(it.Point.Type, di); err != nil {
			report(driver.Update{Item: i, Quality: model.BadConfigurationError, Code: uint16(errcode.Of(err))})
			c.drv.logger().Warn("mtconnect tag does not fit its data item", "device", c.name, "tag", it.Tag, "code", errcode.Of(err).String(), "err", err)
			continue
		}
		s.byID[di.ID] = append(s.byID[di.ID], i)
	}
	c.mu.Unlock()
	for _, i := range unknown {
		report(driver.Update{Item: i, Quality: model.BadNodeIDUnknown, Code: uint16(errcode.MTConnectUnknownItem)})
		c.drv.logger().Warn("mtconnect tag names no data item", "device", c.name, "tag", items[i].Tag,
			"code", errcode.MTConnectUnknownItem.String(), "err", fmt.Sprintf("no data item %q", items[i].Address))
	}
	interval := time.Duration(0)
	for _, it := range items {
		if it.Interval > 0 && (interval == 0 || it.Interval < interval) {
			interval = it.Interval
		}
	}
	for recov := 0; ; recov++ {
		if recov > maxGapRecoveries {
			return errcode.New(errcode.MTConnectGap, "stream from %s fell out of the agent's buffer %d times", c.base, maxGapRecoveries)
		}
		c.state.mu.Lock()
		next := c.state.next
		c.state.mu.Unlock()
		if next == 0 {
			if err := c.current(ctx, s, 0); err != nil {
				return ignoreDone(ctx, err)
			}
		} else {
			c.state.mu.Lock()
			c.state.Reconnects++
			c.state.mu.Unlock()
		}
		err := c.follow(ctx, s, interval)
		if ctx.Err() != nil {
			return nil
		}
		var oor *outOfRange
		if !errors.As(err, &oor) {
			return err
		}
		// The agent's buffer moved past next: count what was lost and
		// carry on from the agent's current values.
		if err := c.current(ctx, s, oor.next); err != nil {
			return ignoreDone(ctx, err)
		}
	}
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// outOfRange: the agent no longer holds sequence next.
type outOfRange struct{ next uint64 }

func (e *outOfRange) Error() string {
	return fmt.Sprintf("sequence %d left the agent's buffer", e.next)
}

// current reports the agent's /current values and resumes from its next
// sequence. lost > 0 is the sequence that was wanted: what lies between
// it and the agent's first sequence was missed.
func (c *Conn) current(ctx context.Context, s *sub, lost uint64) error {
	doc, err := c.get(ctx, "current", nil)
	if err != nil {
		return err
	}
	switch doc.Kind {
	case mtc.KindError:
		return c.agentError("current", doc.Error)
	case mtc.KindStreams:
	default:
		return errcode.New(errcode.MTConnectMalformed, "current from %s returned %s", c.base, doc.Kind)
	}
	h := &doc.Streams.Header
	if c.checkInstance(h.InstanceID) {
		lost = 0 // a restart: sequences start again, the loss is counted as a restart
	}
	if lost > 0 {
		c.gap(lost, h.FirstSequence)
	}
	for i := range s.active {
		s.active[i] = nil // the current document lists every active condition
	}
	c.deliver(s, doc.Streams, 0)
	c.state.mu.Lock()
	c.state.next = h.NextSequence
	c.state.mu.Unlock()
	return nil
}

// gap counts and logs the observations between want and first.
func (c *Conn) gap(want, first uint64) {
	if first <= want {
		return
	}
	n := first - want
	c.state.mu.Lock()
	c.state.Missed += n
	c.state.Gaps++
	c.state.mu.Unlock()
	c.drv.logger().Warn("mtconnect observations missed: the agent's buffer moved on",
		"device", c.name, "driver", "mtconnect", "code", errcode.MTConnectGap.String(),
		"missed", n, "from", want, "to", first-1)
}

// follow streams /sample from the resume sequence until an error.
func (c *Conn) follow(ctx context.Context, s *sub, interval time.Duration) error {
	for i := 0; ctx.Err() == nil; i++ {
		c.state.mu.Lock()
		next := c.state.next
		c.state.mu.Unlock()
		q := url.Values{}
		q.Set("from", strconv.FormatUint(next, 10))
		q.Set("count", strconv.Itoa(c.opts.count))
		if c.opts.poll {
			doc, err := c.get(ctx, "sample", q)
			if err != nil {
				return err
			}
			more, err := c.handle(s, doc, next)
			if err != nil {
				return err
			}
			if !more && !sleep(ctx, max(interval, 10*time.Millisecond)) {
				return nil
			}
			continue
		}
		q.Set("interval", strconv.FormatInt(interval.Milliseconds(), 10))
		q.Set("heartbeat", strconv.FormatInt(c.opts.heartbeat.Milliseconds(), 10))
		if err := c.stream(ctx, s, q); err != nil {
			return err
		}
	}
	return nil
}

// handle applies one streams (or error) document that answered a request
// from sequence from, and says whether the agent has more to send.
func (c *Conn) handle(s *sub, doc *mtc.Doc, from uint64) (more bool, err error) {
	switch doc.Kind {
	case mtc.KindError:
		if doc.Error.Has(mtc.ErrOutOfRange) {
			return false, &outOfRange{next: from}
		}
		return false, c.agentError("sample", doc.Error)
	case mtc.KindStreams:
	default:
		return false, errcode.New(errcode.MTConnectMalformed, "sample from %s returned %s", c.base, doc.Kind)
	}
	h := &doc.Streams.Header
	if c.checkInstance(h.InstanceID) {
		return false, errcode.New(errcode.MTConnectRestarted, "agent %s restarted during the stream", c.base)
	}
	if h.FirstSequence > from {
		// The agent answered from later than asked: the rest is gone.
		c.gap(from, h.FirstSequence)
	}
	c.deliver(s, doc.Streams, from)
	c.state.mu.Lock()
	if h.NextSequence > c.state.next {
		c.state.next = h.NextSequence
	}
	c.state.mu.Unlock()
	return h.NextSequence <= h.LastSequence, nil
}

// stream reads one multipart sample stream until it ends.
func (c *Conn) stream(ctx context.Context, s *sub, q url.Values) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errcode.New(errcode.MTConnectConnection, "stream from %s: connection closed", c.base)
	}
	c.cancelRq = cancel
	c.mu.Unlock()
	done, err := driver.Pace(ctx)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(rctx, http.MethodGet, c.url("sample", q), nil)
	if err != nil {
		done()
		return errcode.Wrap(errcode.MTConnectBadEndpoint, err, "build sample request")
	}
	resp, err := c.client.Do(hr)
	done()
	if err != nil {
		return errcode.Wrap(errcode.MTConnectConnection, err, "sample from %s", c.base)
	}
	defer resp.Body.Close()
	from, _ := strconv.ParseUint(q.Get("from"), 10, 64)
	boundary, ok := mtc.Boundary(resp.Header.Get("Content-Type"))
	if !ok {
		// An agent or proxy that does not stream: one document, then the
		// caller asks again (long polling).
		b, err := mtc.ReadAll(resp.Body, c.opts.maxDocument)
		if err != nil {
			return err
		}
		doc, perr := mtc.Parse(b)
		if perr != nil {
			if resp.StatusCode != http.StatusOK {
				return errcode.New(errcode.MTConnectHTTPStatus, "sample from %s: http status %d", c.base, resp.StatusCode)
			}
			return errcode.Wrap(errcode.MTConnectMalformed, perr, "sample from %s", c.base)
		}
		_, err = c.handle(s, doc, from)
		return err
	}
	// A stream that sends nothing, not even a heartbeat, for this long is
	// dead.
	idle := c.opts.heartbeat + 2*c.timeout
	stalled := make(chan struct{})
	timer := time.AfterFunc(idle, func() { close(stalled); cancel() })
	defer timer.Stop()
	pr := mtc.NewPartReader(resp.Body, boundary, c.opts.maxDocument)
	for {
		body, err := pr.Next()
		if err != nil {
			select {
			case <-stalled:
				return errcode.New(errcode.MTConnectStalled, "stream from %s sent nothing for %s", c.base, idle)
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errcode.New(errcode.MTConnectConnection, "stream from %s ended", c.base)
			}
			return errcode.Wrap(errcode.Of(err), err, "stream from %s", c.base)
		}
		timer.Reset(idle)
		doc, err := mtc.Parse(body)
		if err != nil {
			return errcode.Wrap(errcode.MTConnectMalformed, err, "stream part from %s", c.base)
		}
		c.state.mu.Lock()
		from = c.state.next
		c.state.mu.Unlock()
		if _, err := c.handle(s, doc, from); err != nil {
			return err
		}
	}
}

// obs is an observation with its category, for ordering.
type obs struct {
	cat string
	o   *mtc.Observation
}

// deliver reports the document's observations of subscribed items in
// sequence order, skipping those before from (already reported).
func (c *Conn) deliver(s *sub, doc *mtc.Streams, from uint64) {
	var list []obs
	doc.Each(func(_ *mtc.DeviceStream, cat string, o *mtc.Observation) {
		if o.Sequence < from && from > 0 {
			return
		}
		if _, ok := s.byID[o.DataItemID]; ok {
			list = append(list, obs{cat, o})
		}
	})
	slices.SortStableFunc(list, func(a, b obs) int {
		switch {
		case a.o.Sequence < b.o.Sequence:
			return -1
		case a.o.Sequence > b.o.Sequence:
			return 1
		}
		return 0
	})
	c.state.mu.Lock()
	c.state.Observations += uint64(len(list))
	c.state.mu.Unlock()
	for _, x := range list {
		var src int64
		if t := x.o.Time(); !t.IsZero() {
			src = t.UnixNano()
		}
		for _, i := range s.byID[x.o.DataItemID] {
			u := driver.Update{Item: i, Source: src}
			typ := s.items[i].Point.Type
			if x.cat == mtc.Condition {
				u.Value, u.Quality, u.Code = conditionValue(typ, s.condition(i, x.o))
			} else {
				u.Value, u.Quality, u.Code = value(typ, x.o.Value)
			}
			s.report(u)
		}
	}
}

// maxActive bounds the active conditions tracked per item.
const maxActive = 64

// condition applies a condition observation to item i's active set and
// returns the most severe level (-1 = unavailable).
func (s *sub) condition(i int, o *mtc.Observation) int {
	rank := levelRank(o.Element())
	act := s.active[i]
	switch {
	case rank < 0:
		s.active[i] = nil
		return -1
	case rank == 0 && o.NativeCode == "":
		s.active[i] = nil
		return 0
	}
	if act == nil {
		act = map[string]int{}
		s.active[i] = act
	}
	if rank == 0 {
		delete(act, o.NativeCode)
	} else if _, ok := act[o.NativeCode]; ok || len(act) < maxActive {
		act[o.NativeCode] = rank
	}
	best := 0
	for _, r := range act {
		best = max(best, r)
	}
	return best
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var (
	_ driver.Conn       = (*Conn)(nil)
	_ driver.Identifier = (*Conn)(nil)
	_ driver.Subscriber = (*Conn)(nil)
	_ driver.Writer     = (*Conn)(nil)
)

package acquire

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// device is one configured device at run time. Everything on its request
// path is its own: a slow, hanging or broken device cannot delay another.
type device struct {
	eng  *Engine
	p    *plan
	log  *slog.Logger
	gate *gate
	cls  []*classRun
	st   []tagState // per tag; guarded by the mu of the tag's class
	// rf is the last reported value of each tag, kept only for tags with
	// a deadband (nil when the device has none): most plants use few, and
	// in tagState it would cost 8 bytes for every tag.
	rf []float64

	link   atomic.Pointer[link] // the connection, or why there is none
	broken chan struct{}        // a request found the connection unusable
	ready  chan struct{}        // closed after the first connection attempt
	readyO sync.Once
	okRead atomic.Bool // a read succeeded since the last connect

	lmu     sync.Mutex
	learned map[uint32]uint32 // learned block limits by space
	planGen atomic.Uint64     // bumped when a limit changes: classes re-plan

	wmu       sync.Mutex
	lastWrite map[uint32]time.Time

	stats devStats

	soft, hard context.CancelFunc
	wg         sync.WaitGroup // every goroutine of the device
	classWG    sync.WaitGroup // the class loops: the connection outlives them
	started    bool
}

// link is the device's connection state, swapped whole so that the request
// path reads it without a lock.
type link struct {
	conn     driver.Conn
	endpoint string
	q        model.Quality // tags' quality while conn is nil
	code     uint16
}

// tagState is the latest value of one tag, in 24 bytes: there is one per
// tag. See update for why the last reported value needs no copy.
type tagState struct {
	bits  uint64 // the value, packed (packValue); a string's text is in classRun.strs
	t     int64  // Unix ns of the reply; 0 when never read
	q     model.Quality
	code  uint16
	vt    model.Type // the value's type; invalid when there is none
	flags uint8      // stReported, stForce, stPending
}

const (
	stReported = 1 << iota // a value was reported
	stForce                // report the next value whatever it is (read back after a write)
	stPending              // polled: the value is to be reported when the cycle is published
)

// classRun is one poll class at run time.
type classRun struct {
	def     *classDef
	idx     int
	mu      sync.RWMutex      // guards the tagState of the class's tags, strs, and batch.Samples during reads
	strs    map[uint32]string // the text of the string tags' values, by tag index
	reads   []readPlan
	gen     uint64
	planned bool
	seq     uint64
	batch   model.Batch
	workers []*worker
	badDone bool
	from    time.Time // push devices: start of the batch being collected
}

// worker is what one concurrent reader of a cycle reuses. Samples go
// straight into the class's batch (under the class's lock, which update
// holds anyway), not into a buffer per worker that would then be copied.
type worker struct {
	buf []byte
}

func newDevice(e *Engine, p *plan, prev *device) *device {
	d := &device{eng: e, p: p, log: e.log.With("device", p.cfg.Name, "driver", p.cfg.Driver),
		gate:   newGate(p.cfg.Budget.MaxInFlight, p.cfg.Budget.MinGap.D()),
		broken: make(chan struct{}, 1), ready: make(chan struct{}),
		learned: map[uint32]uint32{}, lastWrite: map[uint32]time.Time{},
		st: make([]tagState, len(p.tags)),
	}
	d.stats.init()
	d.link.Store(&link{endpoint: p.cfg.Endpoint, q: model.BadNotConnected, code: uint16(errcode.AcquireNotConnected)})
	for i := range p.tags {
		if x := p.extra(&p.tags[i]); x != nil && x.deadband > 0 {
			d.rf = make([]float64, len(p.tags))
			break
		}
	}
	for i := range d.st {
		d.st[i].q = model.BadWaitingForInitialData
		if p.tags[i].bad {
			d.st[i].q = model.BadConfigurationError
			d.st[i].code = uint16(errcode.Of(p.bad[uint32(i)]))
		}
	}
	for i := range p.classes {
		c := &classRun{def: &p.classes[i], idx: i}
		c.batch.Device, c.batch.Class = p.cfg.Name, c.def.name
		if prev != nil {
			for _, pc := range prev.cls {
				if pc.def.name == c.def.name {
					c.seq = pc.seq
				}
			}
		}
		d.cls = append(d.cls, c)
	}
	return d
}

func (d *device) start(ctx context.Context) {
	d.started = true
	d.loadLimits()
	softCtx, soft := context.WithCancel(ctx)
	hardCtx, hard := context.WithCancel(context.WithoutCancel(ctx))
	d.soft, d.hard = soft, hard
	for i := range d.p.classes {
		if cd := &d.p.classes[i]; cd.effective != cd.interval {
			d.log.Warn("poll interval below the device's floor; running at the floor",
				"code", errcode.AcquirePollFloor.String(), "class", cd.name, "interval", cd.interval, "floor", cd.effective)
		}
	}
	d.wg.Go(func() { d.supervise(softCtx) })
	for _, c := range d.cls {
		if !d.classHasTags(c.idx) {
			continue // nothing to read: no empty batches either
		}
		d.classWG.Add(1)
		d.wg.Go(func() {
			defer d.classWG.Done()
			d.runClass(softCtx, hardCtx, c)
		})
	}
}

func (d *device) classHasTags(ci int) bool {
	for i := range d.p.tags {
		if int(d.p.tags[i].class) == ci {
			return true
		}
	}
	return false
}

// stop ends the device's loops: cycles in flight complete (up to the
// engine's StopGrace), then the connection is closed.
func (d *device) stop() {
	if !d.started {
		return
	}
	d.soft()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	t := time.NewTimer(d.eng.opts.StopGrace)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		d.hard()
		<-done
	}
	d.hard()
}

func (d *device) now() time.Time { return d.eng.opts.Now() }

// ---- scheduling

// runClass runs the cycles of one class on ticks aligned to its interval
// (a 1 s class ticks on whole seconds, so that devices and restarts line
// up). A cycle still running when the next tick is due makes that tick an
// overrun: it is skipped, counted, and the next batch carries Missed.
func (d *device) runClass(ctx, cycleCtx context.Context, c *classRun) {
	iv := c.def.effective
	select {
	case <-d.ready:
	case <-ctx.Done():
		return
	}
	next := time.Now().Truncate(iv).Add(iv)
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	var missed uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.cycle(cycleCtx, c, missed)
		missed = 0
		next = next.Add(iv)
		if now := time.Now(); !now.Before(next) {
			skip := uint64(now.Sub(next)/iv) + 1
			missed = skip
			next = next.Add(time.Duration(skip) * iv)
			d.stats.overruns.Add(skip)
			d.log.Debug("poll cycle overran its interval", "code", errcode.AcquireOverrun.String(), "class", c.def.name, "missed", skip)
		}
		t.Reset(time.Until(next))
	}
}

// cycle performs all reads of a class once and publishes the batch.
func (d *device) cycle(ctx context.Context, c *classRun, missed uint64) {
	if d.p.push {
		d.flush(ctx, c, missed)
		return
	}
	start := d.now()
	if g := d.planGen.Load(); !c.planned || c.gen != g {
		d.replan(c, g)
	}
	n := d.p.cfg.Budget.MaxInFlight
	if n > len(c.reads) {
		n = len(c.reads)
	}
	if n < 1 {
		n = 1
	}
	for len(c.workers) < n {
		c.workers = append(c.workers, &worker{})
	}
	if n == 1 {
		w := c.workers[0]
		for i := range c.reads {
			d.read(ctx, c, w, &c.reads[i])
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for _, w := range c.workers[:n] {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(c.reads) {
						return
					}
					d.read(ctx, c, w, &c.reads[i])
				}
			})
		}
		wg.Wait()
	}
	d.publish(ctx, c, start, missed)
}

// Parts. A cycle's samples go to the sink in parts of at most partSamples
// samples and about partBytes of encoding, all with the cycle's Seq and
// numbered by Batch.Part: one batch per cycle would need memory for every
// tag of a class (a model.Sample is 72 bytes: 21 MB for 300,000 tags with
// report: all) and may exceed a NATS server's payload limit (1 MB by
// default) once a device has tens of thousands of tags. partSamples keeps
// a bench device (3,000 tags) in one part; partBytes is well under 1 MB
// because sampleSize overestimates.
const (
	partSamples = 4096
	partBytes   = 512 << 10
)

// sampleSize is an upper bound of a sample's encoding on the bus beyond its
// path and string text (bus schema v1: prefix and suffix lengths, type,
// value, quality, two timestamps, code).
const sampleSize = 48

// parts lends the sample buffers of parts being published. A buffer is
// needed only while the sink runs, so a few serve every device; they are
// bounded, not pooled, because a hundred devices tick on the same second
// and a sync.Pool would grow to one buffer per device (20 MB at 300,000
// tags, as much as the per-class batches they replace). A device waits for
// a buffer only while as many other devices are inside their sink call,
// which a sink should leave quickly (the bus encodes and returns); the
// bus's own back-pressure already makes devices wait for one another.
var parts = newPartLender(max(8, 2*runtime.GOMAXPROCS(0)))

type partLender struct {
	free chan []model.Sample
	made atomic.Int32
	max  int32
}

func newPartLender(n int) *partLender {
	return &partLender{free: make(chan []model.Sample, n), max: int32(n)}
}

// get returns a buffer, waiting while all are lent; nil when ctx ends first.
func (l *partLender) get(ctx context.Context) []model.Sample {
	select {
	case b := <-l.free:
		return b
	default:
	}
	if l.made.Add(1) <= l.max {
		return make([]model.Sample, 0, partSamples)
	}
	l.made.Add(-1)
	select {
	case b := <-l.free:
		return b
	case <-ctx.Done():
		return nil
	}
}

// put returns a buffer, cleared so that it keeps no paths or strings alive.
func (l *partLender) put(b []model.Sample) {
	clear(b[:cap(b)])
	l.free <- b[:0]
}

// publish completes the cycle's batch and hands it to the sink in parts.
// Tags the driver rejected are reported once, in the first batch, with
// their code. Missed is set on the first part only, so that a consumer
// summing it counts each skipped cycle once.
func (d *device) publish(ctx context.Context, c *classRun, start time.Time, missed uint64) {
	c.seq++
	d.stats.cycles.Add(1)
	hdr := model.Batch{Device: c.batch.Device, Class: c.batch.Class, Seq: c.seq, Start: start.UnixNano(), End: d.now().UnixNano(), Missed: missed}
	if d.p.push {
		// The caller (flush) holds c.mu; the samples came as they were pushed.
		b := &c.batch
		if !c.badDone {
			c.badDone = true
			for i := range d.p.tags {
				if td := &d.p.tags[i]; td.bad && int(td.class) == c.idx {
					b.Samples = append(b.Samples, model.Sample{Tag: d.p.path(td), Quality: model.BadConfigurationError, Code: d.st[i].code, Source: hdr.Start, Server: hdr.Start})
				}
			}
		}
		all := b.Samples
		for from := 0; ; {
			to, size := from, 0
			for to < len(all) && to-from < partSamples && size < partBytes {
				size += sampleSize + len(all[to].Tag) + strLen(all[to].Value)
				to++
			}
			hdr.Samples = all[from:to]
			d.send(ctx, &hdr)
			if to >= len(all) {
				break
			}
			from = to
			hdr.Part++
			hdr.Missed = 0
		}
		return
	}
	part := parts.get(ctx)
	if part == nil {
		return // stopping: the pending samples stay marked; nothing is lost that a next cycle would not send
	}
	defer func() { parts.put(part) }()
	size := 0
	flush := func(last bool) {
		if len(part) == 0 && (hdr.Part > 0 || !last) {
			return // an empty cycle still sends one (empty) batch: consumers see the cycle
		}
		hdr.Samples = part
		d.send(ctx, &hdr)
		part, size = part[:0], 0
		hdr.Part++
		hdr.Missed = 0
	}
	add := func(ti uint32) {
		part = append(part, d.sampleOf(c, ti))
		s := &part[len(part)-1]
		size += sampleSize + len(s.Tag) + strLen(s.Value)
	}
	full := func() bool { return len(part) >= partSamples || size >= partBytes }
	c.mu.Lock()
	if !c.badDone {
		c.badDone = true
		for i := range d.p.tags {
			if td := &d.p.tags[i]; td.bad && int(td.class) == c.idx {
				add(uint32(i))
				part[len(part)-1].Source, part[len(part)-1].Server = hdr.Start, hdr.Start // never read: the cycle's time
				if full() {
					c.mu.Unlock()
					flush(false)
					c.mu.Lock()
				}
			}
		}
	}
	for _, ti := range c.def.tags {
		st := &d.st[ti]
		if st.flags&stPending == 0 {
			continue
		}
		st.flags &^= stPending
		add(ti)
		if full() {
			// The sink runs without the class's lock: Snapshot and writes
			// go on meanwhile, and the part is the pool's, not the class's.
			c.mu.Unlock()
			flush(false)
			c.mu.Lock()
		}
	}
	c.mu.Unlock()
	flush(true)
}

// strLen is the length of a string value's text, 0 for other types.
func strLen(v model.Value) int {
	if v.T == model.String {
		return len(v.Str())
	}
	return 0
}

// send hands one part to the sink.
func (d *device) send(ctx context.Context, b *model.Batch) {
	d.stats.samples.Add(uint64(len(b.Samples)))
	s := d.eng.opts.Sink
	if s == nil {
		return
	}
	if err := s.PublishBatch(ctx, b); err != nil {
		d.stats.sinkErrors.Add(1)
		err = errcode.Wrap(errcode.AcquireSink, err, "publish batch %d part %d of %s/%s", b.Seq, b.Part, b.Device, b.Class)
		if d.stats.noteError(err, d.now()) {
			d.log.Warn("cannot publish batch", "code", errcode.AcquireSink.String(), "err", err)
		}
	}
}

func (d *device) replan(c *classRun, gen uint64) {
	reads, err := d.p.planReads(c.def.tags, d.limit, false)
	if err != nil {
		// planReads reads oversized points alone, so this is a bug, not a config problem.
		d.log.Error("cannot plan reads", "class", c.def.name, "err", err)
		return
	}
	c.mu.Lock()
	c.reads, c.gen, c.planned = reads, gen, true
	c.mu.Unlock()
}

// ---- reads

// read performs one block read and applies its outcome to the read's tags.
// It reports whether the device answered.
func (d *device) read(ctx context.Context, c *classRun, w *worker, r *readPlan) bool {
	l := d.link.Load()
	if l.conn == nil {
		d.markBad(c, r.tags, l.q, l.code)
		return false
	}
	if err := d.gate.acquire(ctx); err != nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, d.p.cfg.Timeout.D())
	t0 := time.Now()
	buf, err := l.conn.Read(rctx, r.space, r.start, r.count, w.buf)
	rtt := time.Since(t0)
	cancel()
	d.gate.release()
	d.stats.requests.Add(1)
	if err == nil {
		d.stats.rtt.observe(rtt)
		if cap(buf) > cap(w.buf) {
			w.buf = buf[:0]
		}
		d.okRead.Store(true)
		d.apply(c, r, buf)
		return true
	}
	code := uint16(errcode.Of(err))
	if d.stats.noteError(err, d.now()) {
		d.log.Warn("read failed", "code", codeString(code), "space", d.p.drv.SpaceName(r.space), "start", r.start, "count", r.count, "err", err)
	}
	switch d.p.drv.Classify(err) {
	case driver.FaultRejected:
		if len(r.tags) == 1 {
			if code == 0 {
				code = uint16(errcode.AcquireRejected)
			}
			d.markBad(c, r.tags, model.BadConfigurationError, code)
			return true
		}
		limit := d.learn(r, err)
		return d.retry(ctx, c, w, r, limit, false)
	case driver.FaultTimeout:
		if code == 0 {
			code = uint16(errcode.AcquireTimeout)
		}
		if len(r.tags) > 1 && !r.halved && ctx.Err() == nil {
			// Perhaps the block is too large for the device to answer in
			// time; try halves once. If they answer, the size was the cause.
			half := (r.count + 1) / 2
			if d.retry(ctx, c, w, r, half, true) {
				d.learnLimit(r.space, d.floorLimit(r, half), "timeout")
				return true
			}
			return false
		}
		d.fail(l, err, model.BadTimeout, code)
		d.markBad(c, r.tags, model.BadTimeout, code)
		return false
	case driver.FaultDevice:
		if code == 0 {
			code = uint16(errcode.AcquireRead)
		}
		d.markBad(c, r.tags, model.BadDeviceFailure, code)
		return true
	default: // FaultTransport, FaultMalformed: reconnect (which also resynchronises)
		if code == 0 {
			code = uint16(errcode.AcquireRead)
		}
		d.fail(l, err, model.BadCommunicationError, code)
		d.markBad(c, r.tags, model.BadCommunicationError, code)
		return false
	}
}

// retry re-plans the tags of r with at most limit units per read and reads
// them now, in the same cycle. It reports whether any sub-read answered.
func (d *device) retry(ctx context.Context, c *classRun, w *worker, r *readPlan, limit uint32, halved bool) bool {
	sub, err := d.p.planReads(r.tags, func(uint32) uint32 { return limit }, halved || r.halved)
	if err != nil {
		d.log.Error("cannot re-plan a rejected block", "err", err)
		return false
	}
	if len(sub) == 1 && sub[0].count >= r.count {
		// The block cannot shrink (its tags overlap): read them one by one.
		sub = sub[:0]
		for _, ti := range r.tags {
			td := &d.p.tags[ti]
			sub = append(sub, readPlan{space: td.space, start: td.start, count: td.count, tags: []uint32{ti}, halved: true})
		}
	}
	any := false
	for i := range sub {
		if d.read(ctx, c, w, &sub[i]) {
			any = true
		}
	}
	return any
}

// floorLimit is limit, but never below the largest point of r.
func (d *device) floorLimit(r *readPlan, limit uint32) uint32 {
	for _, ti := range r.tags {
		if n := d.p.tags[ti].count; n > limit {
			limit = n
		}
	}
	return limit
}

// learn lowers the space's limit after the device rejected r.
func (d *device) learn(r *readPlan, err error) uint32 {
	limit := d.floorLimit(r, r.count/2)
	if limit >= r.count {
		limit = r.count - 1
	}
	if limit < 1 {
		limit = 1
	}
	d.learnLimit(r.space, limit, "rejected")
	return limit
}

func (d *device) learnLimit(space, limit uint32, why string) {
	d.lmu.Lock()
	cur := d.learned[space]
	changed := cur == 0 || limit < cur
	if changed {
		d.learned[space] = limit
	}
	d.lmu.Unlock()
	if changed {
		d.log.Info("learned a smaller block limit", "space", d.p.drv.SpaceName(space), "limit", limit, "reason", why)
		d.planGen.Add(1)
		d.saveLimits()
	}
}

func (d *device) limit(space uint32) uint32 {
	d.lmu.Lock()
	l := d.learned[space]
	d.lmu.Unlock()
	return d.p.spaceLimit(space, l)
}

// apply decodes the tags of r out of block and updates them.
func (d *device) apply(c *classRun, r *readPlan, block []byte) {
	now := d.now().UnixNano()
	c.mu.Lock()
	for _, ti := range r.tags {
		td := &d.p.tags[ti]
		var v model.Value
		var err error
		if td.start < r.start {
			err = errcode.New(errcode.AcquireDecode, "tag %s at unit %d is not in the block read from %d", d.p.path(td), td.start, r.start)
		} else {
			v, err = d.p.codecs[td.codec].Decode(block, td.start-r.start)
		}
		if err != nil {
			code := uint16(errcode.Of(err))
			if code == 0 {
				code = uint16(errcode.AcquireDecode)
			}
			d.update(c, ti, model.Value{}, model.BadDecodingError, code, now)
			continue
		}
		d.update(c, ti, v, model.Good, 0, now)
	}
	c.mu.Unlock()
}

// markBad sets the tags to a bad quality; they are reported only when
// their quality or code changes, not every cycle.
func (d *device) markBad(c *classRun, tags []uint32, q model.Quality, code uint16) {
	now := d.now().UnixNano()
	c.mu.Lock()
	for _, ti := range tags {
		d.update(c, ti, model.Value{}, q, code, now)
	}
	c.mu.Unlock()
}

// ---- connection

// fail marks the connection l as unusable, if it is still the current one,
// and wakes the supervisor to close it and reconnect.
func (d *device) fail(l *link, err error, q model.Quality, code uint16) {
	down := &link{endpoint: l.endpoint, q: q, code: code}
	if d.link.CompareAndSwap(l, down) {
		d.stats.connected.Store(false)
		// The failed request was logged (rate limited) where it failed.
		d.log.Debug("connection lost", "code", codeString(code), "quality", q.String(), "err", err)
		select {
		case d.broken <- struct{}{}:
		default:
		}
	}
}

// supervise owns the connection: it connects, reconnects with back-off after
// a failure, fails over to the backup endpoint after FailoverAfter
// consecutive failures, and while on the backup probes the primary.
func (d *device) supervise(ctx context.Context) {
	o := &d.eng.opts
	primary, backup := d.p.cfg.Endpoint, d.p.cfg.Backup
	onBackup := false
	fails := 0   // consecutive failures on the current endpoint
	attempt := 0 // consecutive failures, for the back-off
	var conn driver.Conn
	defer func() {
		d.readyO.Do(func() { close(d.ready) })
		// Cycles in flight complete on the connection before it closes.
		d.classWG.Wait()
		if conn != nil {
			conn.Close()
		}
		d.stats.connected.Store(false)
		d.readyO.Do(func() { close(d.ready) })
	}()
	failed := func() bool {
		fails++
		attempt++
		if backup != "" && fails >= o.FailoverAfter {
			onBackup, fails = !onBackup, 0
			d.log.Warn("failing over", "endpoint", d.endpointFor(onBackup))
			if onBackup {
				return true // try the backup at once
			}
		}
		return sleepCtx(ctx, backoff(o.BackoffBase, o.BackoffMax, attempt))
	}
	for ctx.Err() == nil {
		ep := primary
		if onBackup {
			ep = backup
		}
		c, err := d.dial(ctx, ep)
		if err != nil {
			code := uint16(errcode.Of(err))
			if code == 0 {
				code = uint16(errcode.AcquireConnect)
			}
			d.link.Store(&link{endpoint: ep, q: model.BadNotConnected, code: code})
			if d.stats.noteError(err, d.now()) {
				d.log.Warn("cannot connect", "code", codeString(code), "endpoint", ep, "err", err)
			}
			d.readyO.Do(func() { close(d.ready) })
			if !failed() {
				return
			}
			continue
		}
		conn = c
		d.okRead.Store(false)
		cur := &link{conn: c, endpoint: ep}
		d.link.Store(cur)
		d.stats.connected.Store(true)
		d.readyO.Do(func() { close(d.ready) })
		d.log.Info("connected", "endpoint", ep)
		d.identify(ctx, c)
		unsubscribe := d.subscribe(ctx, cur)

		var probe <-chan time.Time
		var pt *time.Ticker
		if onBackup {
			pt = time.NewTicker(o.ProbeInterval)
			probe = pt.C
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				break wait
			case <-d.broken:
				unsubscribe()
				conn.Close()
				conn = nil
				if d.okRead.Load() {
					fails, attempt = 0, 0
				}
				if pt != nil {
					pt.Stop()
				}
				if !failed() {
					return
				}
				break wait
			case <-probe:
				pc, err := d.dial(ctx, primary)
				if err != nil {
					continue
				}
				old := d.link.Load()
				next := &link{conn: pc, endpoint: primary}
				if old.conn != conn || !d.link.CompareAndSwap(old, next) {
					pc.Close()
					continue
				}
				d.log.Info("primary endpoint answers again; switched back", "endpoint", primary)
				unsubscribe()
				conn.Close()
				conn = pc
				onBackup, fails, attempt = false, 0, 0
				d.stats.connected.Store(true)
				d.okRead.Store(false)
				pt.Stop()
				probe = nil
				d.identify(ctx, pc)
				unsubscribe = d.subscribe(ctx, next)
			}
		}
		if pt != nil {
			pt.Stop()
		}
		unsubscribe()
	}
}

func (d *device) endpointFor(backup bool) string {
	if backup {
		return d.p.cfg.Backup
	}
	return d.p.cfg.Endpoint
}

func (d *device) dial(ctx context.Context, ep string) (driver.Conn, error) {
	c, err := d.p.drv.Open(d.p.spec, ep)
	if err != nil {
		return nil, errcode.Wrap(errcode.AcquireConnect, err, "open %s", ep)
	}
	cctx, cancel := context.WithTimeout(ctx, d.p.cfg.Timeout.D())
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		c.Close()
		if errcode.Of(err) != 0 {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.AcquireConnect, err, "connect %s", ep)
	}
	return c, nil
}

// identify asks the device who it is, once per connection, best effort.
// A driver's Identify may send several requests (Modbus FC 43/14 basic,
// then regular objects); each passes the gate through the pacer in ctx.
func (d *device) identify(ctx context.Context, c driver.Conn) {
	id, ok := c.(driver.Identifier)
	if !ok {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 4*d.p.cfg.Timeout.D())
	defer cancel()
	ictx = driver.WithPacer(ictx, d.pace)
	ident, err := id.Identify(ictx)
	if err == nil {
		d.stats.identity.Store(&ident)
	}
}

// pace admits one request through the device's gate: the driver.Pacer of
// calls that send several requests.
func (d *device) pace(ctx context.Context) (func(), error) {
	if err := d.gate.acquire(ctx); err != nil {
		return nil, err
	}
	d.stats.requests.Add(1)
	return d.gate.release, nil
}

// backoff returns the wait before attempt n (1-based): base doubling up
// to max, drawn from [d/2, d).
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// codeString formats an OTL code for logs, "" for none.
func codeString(c uint16) string {
	if c == 0 {
		return ""
	}
	return errcode.Code(c).String()
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

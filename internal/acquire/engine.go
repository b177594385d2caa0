package acquire

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/model"
)

// Sink receives the batches of every poll cycle: one, or several parts
// with the same Seq (model.Batch.Part) when the cycle reports more than a
// few thousand samples. PublishBatch is called from the devices' own
// goroutines, concurrently, so it must be safe for that and should not
// block for long: the parts of all devices are built in a small shared set
// of buffers, so a sink call that blocks holds one of them. The sink must
// not retain b, its Samples or any part of it after PublishBatch returns:
// the engine reuses them, which is what keeps the per-sample path free of
// allocations (the Tag strings may be kept: they are the engine's own).
type Sink interface {
	PublishBatch(ctx context.Context, b *model.Batch) error
}

// Reconnection and failover defaults. Back-off starts at BackoffBase and
// doubles per consecutive failure up to BackoffMax; each wait is drawn
// uniformly from [d/2, d) so that many devices that failed together (a
// switch reboot) do not retry in lock step.
const (
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultFailoverAfter = 3
	DefaultProbeInterval = 30 * time.Second
	DefaultStopGrace     = 5 * time.Second
)

// Options configures an Engine. Only Sink is required.
type Options struct {
	Sink    Sink
	Logger  *slog.Logger
	DataDir string // learned block limits live in DataDir/acquire/limits; "" keeps them in memory only

	Now     func() time.Time                   // timestamps; nil = time.Now
	Drivers func(string) (driver.Driver, bool) // nil = driver.Lookup
	// OnWrite is the audit hook: every write attempt, accepted or refused,
	// with the context of the Write call (who asked: the caller's
	// principal or actor travels in it).
	OnWrite func(context.Context, WriteEvent)

	BackoffBase   time.Duration // default DefaultBackoffBase
	BackoffMax    time.Duration // default DefaultBackoffMax
	FailoverAfter int           // consecutive failures on an endpoint before trying the other; default 3
	ProbeInterval time.Duration // how often the primary is tried while on the backup; default 30s
	StopGrace     time.Duration // how long stopping waits for in-flight cycles before cancelling them; default 5s
}

// Engine polls the devices of a config. Create it with New, run it with
// Run, reload it with Apply; Snapshot, Health and Write may be called at any
// time from any goroutine.
type Engine struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex // guards devs, running, runCtx; never held on the request path
	devs    map[string]*device
	running bool
	runCtx  context.Context

	view atomic.Pointer[view] // what readers see, replaced whole on change
}

// view is an immutable list of the devices and an index of tag paths. It
// holds no state of its own: tag values stay in the devices.
type view struct {
	devs []*device
	tags []tagRef // every resolved or bad tag of devs, sorted by path
}

// pathOf is the path of the tag r refers to.
func (v *view) pathOf(r tagRef) string { p := v.devs[r.dev].p; return p.path(&p.tags[r.idx]) }

// lookup finds the tag at path by binary search of the index.
func (v *view) lookup(path string) (tagRef, bool) {
	i, ok := slices.BinarySearchFunc(v.tags, path, func(r tagRef, p string) int { return strings.Compare(v.pathOf(r), p) })
	if !ok {
		return tagRef{}, false
	}
	return v.tags[i], true
}

// tagRef locates a tag: 8 bytes per tag of the index.
type tagRef struct {
	dev uint32 // index into view.devs
	idx uint32 // index into the device's plan.tags
}

// New checks cfg and prepares the engine. It does no I/O: connections are
// made by Run.
func New(cfg *config.Config, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Drivers == nil {
		opts.Drivers = driver.Lookup
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.FailoverAfter <= 0 {
		opts.FailoverAfter = DefaultFailoverAfter
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	e := &Engine{opts: opts, log: opts.Logger, devs: map[string]*device{}}
	plans, order, index, err := buildPlans(cfg, opts.Drivers)
	if err != nil {
		return nil, err
	}
	for name, p := range plans {
		e.devs[name] = newDevice(e, p, nil)
	}
	e.publishView(order, index)
	return e, nil
}

// Run polls until ctx is done, then stops: cycles in flight complete and
// their batches reach the sink before Run returns (cycles still running
// after Options.StopGrace are cancelled).
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	e.running, e.runCtx = true, ctx
	for _, d := range e.devs {
		d.start(ctx)
	}
	e.mu.Unlock()
	<-ctx.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range e.devs {
		wg.Go(d.stop)
	}
	wg.Wait()
	e.running, e.runCtx = false, nil
	return nil
}

// Apply reloads the engine with newCfg. Devices whose configuration (the
// device and its tags) is unchanged keep running untouched: same
// goroutines, same connection, no gap in their cycles. Changed devices
// restart (their batch sequence numbers go on), removed devices stop and
// added devices start. On error nothing changes.
func (e *Engine) Apply(newCfg *config.Config) error {
	plans, order, index, err := buildPlans(newCfg, e.opts.Drivers)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make(map[string]*device, len(plans))
	var stop []*device
	type restart struct {
		p    *plan
		prev *device
	}
	var start []restart
	for name, p := range plans {
		old, ok := e.devs[name]
		if ok && old.p.fingerprint == p.fingerprint {
			// Unchanged: the running device keeps its plan; the new one is dropped.
			next[name] = old
			continue
		}
		if ok {
			stop = append(stop, old)
		}
		start = append(start, restart{p, old})
	}
	for name, d := range e.devs {
		if _, ok := plans[name]; !ok {
			stop = append(stop, d)
		}
	}
	if e.running {
		var wg sync.WaitGroup
		for _, d := range stop {
			wg.Go(d.stop)
		}
		wg.Wait()
	}
	// Built after the old ones stopped, so their sequence numbers are final.
	for _, r := range start {
		d := newDevice(e, r.p, r.prev)
		next[r.p.cfg.Name] = d
		if e.running {
			d.start(e.runCtx)
		}
	}
	e.devs = next
	// A kept device's tags equal the new plan's (the fingerprint covers
	// them and their paths), so the new index fits it too.
	e.publishView(order, index)
	for _, d := range stop {
		e.log.Info("device stopped by reload", "device", d.p.cfg.Name)
	}
	return nil
}

// publishView publishes e.devs with the tag index buildPlans returned for
// them, whose devices are numbered as in order; the view numbers them by
// name (which keeps the index sorted by path). The index becomes the
// view's: the caller must not keep it.
func (e *Engine) publishView(order []string, index []tagRef) {
	v := &view{devs: make([]*device, 0, len(e.devs)), tags: index}
	for _, d := range e.devs {
		v.devs = append(v.devs, d)
	}
	sort.Slice(v.devs, func(i, j int) bool { return v.devs[i].p.cfg.Name < v.devs[j].p.cfg.Name })
	pos := make(map[string]uint32, len(v.devs))
	for i, d := range v.devs {
		pos[d.p.cfg.Name] = uint32(i)
	}
	remap := make([]uint32, len(order))
	for i, name := range order {
		remap[i] = pos[name]
	}
	for i := range index {
		index[i].dev = remap[index[i].dev]
	}
	e.view.Store(v)
}

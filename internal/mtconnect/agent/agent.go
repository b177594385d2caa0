package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/mtconnect"
)

// Limits and defaults.
const (
	DefaultBufferSize = 131072
	MinBufferSize     = 8
	MaxBufferSize     = 1 << 24
	DefaultCount      = 100
	DefaultHeartbeat  = 10 * time.Second
	DefaultMaxStreams = 64
	writeTimeout      = 10 * time.Second
)

// Options configure an agent.
type Options struct {
	Sender     string           // Header sender; default "otlink"
	BufferSize int              // observations kept; default DefaultBufferSize
	InstanceID uint64           // default: the start time in seconds
	Version    string           // schema version written; default 2.0
	Now        func() time.Time // clock for header times; default time.Now
	MaxStreams int              // concurrent streaming requests; default DefaultMaxStreams
	Logger     *slog.Logger
}

// Update is one observation to add. For a condition data item Level is
// Normal, Warning, Fault or Unavailable, and Value is its text.
type Update struct {
	ID         string // data item id
	Value      string // mtconnect.Unavailable when not known
	Level      string // conditions only
	NativeCode string // conditions only
	Time       time.Time
}

// item is a data item with where it lives.
type item struct {
	dev       int
	comp      int // index into a.comps
	di        mtconnect.DataItem
	elem      string // observation element name
	condition bool
}

// comp is a component whose observations form one ComponentStream.
type comp struct {
	dev           int
	typ, id, name string
}

// entry is one observation in the buffer.
type entry struct {
	seq        uint64
	item       int32
	ts         int64 // Unix ns
	value      string
	level      string
	nativeCode string
}

// Agent serves devices over HTTP. It is safe for concurrent use.
type Agent struct {
	opts    Options
	log     *slog.Logger
	devices []mtconnect.Component
	items   []item
	comps   []comp
	byID    map[string]int
	byDev   map[string]int // device name (and uuid) -> index
	xtree   *xnode         // the probe document's elements, for path filters
	start   time.Time

	mu      sync.Mutex
	buf     []entry // circular, len == BufferSize
	next    uint64  // sequence of the next observation
	latest  []entry // per item; seq 0 = none
	base    []entry // per item, the newest observation pushed out of buf: the state before its first sequence
	changed chan struct{}
	dropped uint64

	streams chan struct{} // semaphore of streaming requests
	opened  atomic.Uint64
	closed  chan struct{}
	once    sync.Once
}

// New returns an agent serving devices; it does no I/O. Every data item
// starts UNAVAILABLE, as agents do, so /current always answers every item.
func New(devices []mtconnect.Component, opts Options) (*Agent, error) {
	if opts.Sender == "" {
		opts.Sender = "otlink"
	}
	if opts.BufferSize == 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.BufferSize < MinBufferSize || opts.BufferSize > MaxBufferSize {
		return nil, errcode.New(errcode.MTConnectConfig, "mtconnect buffer size %d outside %d..%d", opts.BufferSize, MinBufferSize, MaxBufferSize)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InstanceID == 0 {
		opts.InstanceID = uint64(opts.Now().Unix())
	}
	if opts.Version == "" {
		opts.Version = mtconnect.DefaultVersion
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &Agent{
		opts: opts, log: opts.Logger, byID: map[string]int{}, byDev: map[string]int{},
		start: opts.Now(), buf: make([]entry, opts.BufferSize), next: 1,
		changed: make(chan struct{}), streams: make(chan struct{}, opts.MaxStreams), closed: make(chan struct{}),
	}
	ids := map[string]bool{}
	for di := range devices {
		d := devices[di]
		if d.Name == "" || d.ID == "" {
			return nil, errcode.New(errcode.MTConnectConfig, "mtconnect device %d has no name or id", di+1)
		}
		if _, dup := a.byDev[d.Name]; dup {
			return nil, errcode.New(errcode.MTConnectConfig, "mtconnect device %q is served twice", d.Name)
		}
		a.byDev[d.Name] = di
		if d.UUID != "" {
			a.byDev[d.UUID] = di
		}
		var bad error
		d.Walk(func(c, _ *mtconnect.Component) {
			if bad != nil {
				return
			}
			if c.ID == "" || ids[c.ID] {
				bad = errcode.New(errcode.MTConnectConfig, "mtconnect component id %q of device %q is empty or not unique", c.ID, d.Name)
				return
			}
			ids[c.ID] = true
			ci := -1
			for _, di2 := range c.Items() {
				if di2.ID == "" || ids[di2.ID] || di2.Type == "" {
					bad = errcode.New(errcode.MTConnectConfig, "mtconnect data item %q of device %q has no type or an id that is empty or not unique", di2.ID, d.Name)
					return
				}
				switch di2.Category {
				case mtconnect.Sample, mtconnect.Event, mtconnect.Condition:
				default:
					bad = errcode.New(errcode.MTConnectConfig, "mtconnect data item %q has category %q", di2.ID, di2.Category)
					return
				}
				ids[di2.ID] = true
				if ci < 0 {
					ci = len(a.comps)
					a.comps = append(a.comps, comp{dev: di, typ: c.Type(), id: c.ID, name: c.Name})
				}
				it := item{dev: di, comp: ci, di: di2, elem: mtconnect.PascalCase(di2.Type), condition: di2.Category == mtconnect.Condition}
				a.byID[di2.ID] = len(a.items)
				a.items = append(a.items, it)
			}
		})
		if bad != nil {
			return nil, bad
		}
	}
	a.devices = devices
	a.xtree = a.tree()
	a.latest = make([]entry, len(a.items))
	a.base = make([]entry, len(a.items))
	ts := a.start.UnixNano()
	for i, it := range a.items {
		e := entry{item: int32(i), ts: ts, value: mtconnect.Unavailable}
		if it.condition {
			e.value, e.level = "", mtconnect.LevelUnavailable
		}
		a.appendLocked(e)
	}
	return a, nil
}

// NewInstanceID returns a random instance id, for agents that restart
// within the same second.
func NewInstanceID() uint64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]) | 1
}

func randomBoundary() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// InstanceID returns the agent's instance id.
func (a *Agent) InstanceID() uint64 { return a.opts.InstanceID }

// BufferSize returns the number of observations kept.
func (a *Agent) BufferSize() int { return len(a.buf) }

// Sequences returns the first sequence still in the buffer and the next
// one to be assigned.
func (a *Agent) Sequences() (first, next uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.firstLocked(), a.next
}

// Dropped returns how many updates named no data item.
func (a *Agent) Dropped() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped
}

// Streams returns the number of streams being served and the number
// opened since the agent started.
func (a *Agent) Streams() (open int, opened uint64) { return len(a.streams), a.opened.Load() }

// HasItem reports whether the agent serves data item id.
func (a *Agent) HasItem(id string) bool {
	_, ok := a.byID[id]
	return ok
}

func (a *Agent) firstLocked() uint64 {
	n := uint64(len(a.buf))
	if a.next-1 <= n {
		return 1
	}
	return a.next - n
}

// appendLocked assigns the next sequence to e and stores it.
func (a *Agent) appendLocked(e entry) {
	e.seq = a.next
	a.next++
	slot := &a.buf[e.seq%uint64(len(a.buf))]
	if slot.seq != 0 {
		a.base[slot.item] = *slot
	}
	*slot = e
	a.latest[e.item] = e
}

// Add adds observations in order, each with the next sequence number. A
// value equal to the item's latest is not repeated, as agents do. Updates
// for unknown ids are counted (Dropped) and reported as one
// MTConnectAgentOverflow error after the others were added.
func (a *Agent) Add(us ...Update) error {
	a.mu.Lock()
	var unknown int
	var first string
	added := false
	for _, u := range us {
		i, ok := a.byID[u.ID]
		if !ok {
			if unknown == 0 {
				first = u.ID
			}
			unknown++
			continue
		}
		it := &a.items[i]
		e := entry{item: int32(i), ts: u.Time.UnixNano(), value: u.Value}
		if u.Time.IsZero() {
			e.ts = a.opts.Now().UnixNano()
		}
		if it.condition {
			e.level, e.nativeCode = normLevel(u.Level), u.NativeCode
		}
		if l := a.latest[i]; l.seq != 0 && l.value == e.value && l.level == e.level && l.nativeCode == e.nativeCode {
			continue
		}
		a.appendLocked(e)
		added = true
	}
	a.dropped += uint64(unknown)
	var ch chan struct{}
	if added {
		ch = a.changed
		a.changed = make(chan struct{})
	}
	a.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	if unknown > 0 {
		return errcode.New(errcode.MTConnectAgentOverflow, "%d updates for data items the agent does not serve, first %q", unknown, first)
	}
	return nil
}

func normLevel(l string) string {
	switch strings.ToLower(l) {
	case "normal":
		return mtconnect.LevelNormal
	case "warning":
		return mtconnect.LevelWarning
	case "fault":
		return mtconnect.LevelFault
	}
	return mtconnect.LevelUnavailable
}

// Close ends every stream being served. The agent still answers single
// requests; the HTTP server's owner stops those.
func (a *Agent) Close() { a.once.Do(func() { close(a.closed) }) }

// wait returns a channel closed when observations are added after next.
func (a *Agent) wait(next uint64) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next > next {
		c := make(chan struct{})
		close(c)
		return c
	}
	return a.changed
}

// sleep waits d unless ctx or the agent ends first.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-a.closed:
	}
	return false
}

package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/proto/modbus"
)

// Clock tells a device what time it is; the machine is advanced to it.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told, for tests.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// DeviceConfig configures one simulated Modbus TCP device.
type DeviceConfig struct {
	Name    string
	Line    string
	Machine MachineConfig // Name defaults to the device's

	Listen      string        // listen address; default 127.0.0.1:0 (a free port)
	Clock       Clock         // nil = real time
	Speed       float64       // simulated seconds per clock second; default 1
	MaxConns    int           // connections served at once; default 16; more are closed at once
	IdleTimeout time.Duration // a connection with no request for this long is closed; default 60 s
	Bench       int           // pattern holding registers from hr:1000 (BenchBase); 0 = none
	Fault       Fault         // initial misbehaviour
}

// Identity is what the device answers to FC 43/14.
type Identity struct {
	Vendor, ProductCode, Revision, VendorURL, ProductName, ModelName, Application string
}

// Device is one simulated machine served over Modbus TCP.
type Device struct {
	cfg   DeviceConfig
	clock Clock
	start time.Time
	id    Identity
	idObj []modbus.DeviceObject

	// mu guards the machine and the image; a request holds it while it
	// advances the model and copies its data.
	mu  sync.Mutex
	m   *Machine
	img *image

	fault   atomic.Pointer[Fault]
	faultMu sync.Mutex // guards frng and the reply counter for MalformedEvery
	frng    *rand.Rand
	replyN  uint64
	stats   stats

	// life guards the listener and the connection set.
	life    sync.Mutex
	ln      net.Listener
	addr    string
	conns   map[*conn]struct{}
	closed  bool
	started bool
	wg      sync.WaitGroup
	stop    chan struct{}
}

// NewDevice returns a device; it does no I/O. Start makes it listen.
func NewDevice(cfg DeviceConfig) *Device {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.Machine.Name == "" {
		cfg.Machine.Name = cfg.Name
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	d := &Device{
		cfg:   cfg,
		clock: clock,
		start: clock.Now(),
		m:     NewMachine(cfg.Machine),
		img:   newImage(cfg.Bench),
		frng:  rand.New(rand.NewPCG(cfg.Machine.Seed, 0xfa17)),
		conns: map[*conn]struct{}{},
		stop:  make(chan struct{}),
	}
	d.cfg.Machine = d.m.Config()
	kind := d.m.Config().Kind
	d.id = Identity{
		Vendor:      "otlink-sim",
		ProductCode: "OTL-SIM-" + upper(kind.String()),
		Revision:    "1.0.0",
		VendorURL:   "https://github.com/otlink/otlink",
		ProductName: "otlink simulated " + kind.String(),
		ModelName:   kind.String(),
		Application: cfg.Name,
	}
	for i, v := range []string{d.id.Vendor, d.id.ProductCode, d.id.Revision, d.id.VendorURL, d.id.ProductName, d.id.ModelName, d.id.Application} {
		d.idObj = append(d.idObj, modbus.DeviceObject{ID: uint8(i), Value: []byte(v)})
	}
	d.img.encode(&d.m.v)
	f := cfg.Fault
	d.fault.Store(&f)
	d.stats.minGap = -1
	return d
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Name returns the device's name.
func (d *Device) Name() string { return d.cfg.Name }

// Line returns the name of the device's line.
func (d *Device) Line() string { return d.cfg.Line }

// Kind returns the kind of machine.
func (d *Device) Kind() Kind { return d.cfg.Machine.Kind }

// Identity returns what the device answers to FC 43/14.
func (d *Device) Identity() Identity { return d.id }

// Addr returns the address the device listens on (host:port), once started.
// It stays the same while the device is down.
func (d *Device) Addr() string {
	d.life.Lock()
	defer d.life.Unlock()
	return d.addr
}

// Start makes the device listen and serve until ctx is done or Close is
// called. With Fault.Down set it only reserves its address.
func (d *Device) Start(ctx context.Context) error {
	d.life.Lock()
	if d.started || d.closed {
		d.life.Unlock()
		return errcode.New(errcode.SimState, "device %s already started", d.cfg.Name)
	}
	d.started = true
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		d.life.Unlock()
		return errcode.Wrap(errcode.SimListen, err, "listen for device %s on %s", d.cfg.Name, d.cfg.Listen)
	}
	d.addr = ln.Addr().String()
	if d.fault.Load().Down {
		ln.Close()
	} else {
		d.serve(ln)
	}
	d.life.Unlock()
	if ctx.Done() != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			select {
			case <-ctx.Done():
				d.shutdown()
			case <-d.stop:
			}
		}()
	}
	return nil
}

// serve starts the accept loop on ln. Called with d.life held.
func (d *Device) serve(ln net.Listener) {
	d.ln = ln
	d.wg.Add(1)
	go d.acceptLoop(ln)
}

// Close stops the device: the listener and every connection are closed and
// their goroutines have ended when it returns. The port is free again.
func (d *Device) Close() error {
	d.shutdown()
	d.wg.Wait()
	return nil
}

func (d *Device) shutdown() {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	close(d.stop)
	d.closeNetLocked()
}

// closeNetLocked closes the listener and all connections. Called with
// d.life held.
func (d *Device) closeNetLocked() {
	if d.ln != nil {
		d.ln.Close()
		d.ln = nil
	}
	for c := range d.conns {
		c.close()
	}
}

func (d *Device) acceptLoop(ln net.Listener) {
	defer d.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does.
			select {
			case <-time.After(backoff):
			case <-d.stop:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		d.life.Lock()
		if d.closed || d.ln != ln {
			d.life.Unlock()
			nc.Close()
			continue
		}
		if len(d.conns) >= d.cfg.MaxConns {
			d.life.Unlock()
			// Count before closing, so a client that sees the close also
			// sees the count.
			d.stats.add(func(s *stats) { s.refused++ })
			nc.Close()
			continue
		}
		c := newConn(d, nc)
		d.conns[c] = struct{}{}
		d.wg.Add(1)
		d.life.Unlock()
		d.stats.add(func(s *stats) { s.accepted++; s.open++ })
		go c.run()
	}
}

func (d *Device) removeConn(c *conn) {
	d.life.Lock()
	delete(d.conns, c)
	d.life.Unlock()
	d.stats.add(func(s *stats) { s.open-- })
}

// SetFault replaces the device's misbehaviour. Going down closes the
// listener and every connection; coming back up listens again on the same
// address.
func (d *Device) SetFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return errcode.Wrap(errcode.SimConfig, err, "fault of device %s", d.cfg.Name)
	}
	f.Exceptions = append([]ExceptionRule(nil), f.Exceptions...)
	d.life.Lock()
	defer d.life.Unlock()
	old := d.fault.Swap(&f)
	if !d.started || d.closed {
		return nil
	}
	switch {
	case f.Down && !old.Down:
		d.closeNetLocked()
	case !f.Down && old.Down:
		ln, err := net.Listen("tcp", d.addr)
		if err != nil {
			d.fault.Store(old)
			return errcode.Wrap(errcode.SimListen, err, "listen again for device %s on %s", d.cfg.Name, d.addr)
		}
		d.serve(ln)
	}
	return nil
}

// ClearFault makes the device well-behaved again (and up).
func (d *Device) ClearFault() error { return d.SetFault(Fault{}) }

// Fault returns the device's current misbehaviour.
func (d *Device) Fault() Fault { return *d.fault.Load() }

// Stats returns the device's request accounting.
func (d *Device) Stats() Stats { return d.stats.snapshot() }

// ResetStats clears the accounting (open connections and requests in flight
// are kept).
func (d *Device) ResetStats() { d.stats.reset() }

// Values advances the machine to the clock and returns its signals.
func (d *Device) Values() Values {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked()
	return d.m.Values()
}

// advanceLocked steps the machine to the clock's time and re-encodes the
// image when it moved: at most once per step, however many requests come.
func (d *Device) advanceLocked() {
	elapsed := d.clock.Now().Sub(d.start)
	target := int64(float64(elapsed) * d.cfg.Speed / float64(d.m.cfg.Step))
	if target <= d.m.v.Step {
		return
	}
	for d.m.v.Step < target {
		d.m.Step()
	}
	d.img.encode(&d.m.v)
}

package acquire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// The fake driver: devices in memory, reached by endpoint name, with
// controllable latency, faults and size limits, and their own accounting
// of what they were asked (arrival times, concurrency), so that tests
// check the engine's behaviour from the device's side.
//
// Addresses: "N" a register (uint16/int16, 2 units for 32-bit types),
// "N.B" bit B of register N (bool), "c:N" a coil (space 1).

var (
	errFakeRejected  = errcode.New(2103, "fake: illegal data address")
	errFakeTransport = errcode.New(2113, "fake: connection reset")
	errFakeDevice    = errcode.New(2106, "fake: device failure")
	errFakeDown      = errcode.New(2113, "fake: connection refused")
)

type fakeDriver struct {
	mu   sync.Mutex
	devs map[string]*fakeDev
}

func newFakeDriver() *fakeDriver { return &fakeDriver{devs: map[string]*fakeDev{}} }

func (f *fakeDriver) dev(ep string) *fakeDev {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devs[ep]
	if !ok {
		d = &fakeDev{regs: make([]uint16, 65536), coils: make([]bool, 65536)}
		f.devs[ep] = d
	}
	return d
}

func (f *fakeDriver) lookup(name string) (driver.Driver, bool) {
	if name == "fake" {
		return f, true
	}
	return nil, false
}

// fakeCodec holds no position, like a shared driver codec.
type fakeCodec struct {
	space uint32
	typ   model.Type
	bit   int
}

// Decode reads the point at unit unit of block (a byte per bit, or
// big-endian registers).
func (c fakeCodec) Decode(block []byte, unit uint32) (model.Value, error) {
	if c.space == 1 {
		i := unit
		if int(i) >= len(block) {
			return model.Value{}, errors.New("short block")
		}
		return model.BoolValue(block[i] != 0), nil
	}
	off := int(unit) * 2
	n := 2
	if c.typ.Bits() == 32 {
		n = 4
	}
	if off+n > len(block) {
		return model.Value{}, errors.New("short block")
	}
	switch c.typ {
	case model.Bool:
		return model.BoolValue(binary.BigEndian.Uint16(block[off:])&(1<<c.bit) != 0), nil
	case model.Int16:
		return model.IntValue(model.Int16, int64(int16(binary.BigEndian.Uint16(block[off:])))), nil
	case model.Uint32:
		return model.UintValue(model.Uint32, uint64(binary.BigEndian.Uint32(block[off:]))), nil
	case model.Float32:
		return model.FloatValue(model.Float32, float64(math.Float32frombits(binary.BigEndian.Uint32(block[off:])))), nil
	}
	return model.UintValue(model.Uint16, uint64(binary.BigEndian.Uint16(block[off:]))), nil
}

func (c fakeCodec) Encode(v model.Value) ([]byte, error) { return nil, nil }

func (f *fakeDriver) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	a := t.Address
	var space uint32
	if s, ok := strings.CutPrefix(a, "c:"); ok {
		space, a = 1, s
	}
	bit := -1
	if i := strings.IndexByte(a, '.'); i >= 0 {
		b, err := strconv.Atoi(a[i+1:])
		if err != nil {
			return driver.Point{}, errcode.New(2100, "fake: bad bit in %q", t.Address)
		}
		bit, a = b, a[:i]
	}
	n, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return driver.Point{}, errcode.New(2100, "fake: bad address %q", t.Address)
	}
	count := uint32(1)
	if t.Type.Bits() == 32 {
		count = 2
	}
	return driver.Point{Space: space, Start: uint32(n), Count: count, Type: t.Type,
		Codec: fakeCodec{space: space, typ: t.Type, bit: bit}}, nil
}

func (f *fakeDriver) MaxCount(space uint32) uint32 {
	if space == 1 {
		return 2000
	}
	return 125
}

func (f *fakeDriver) SpaceName(space uint32) string {
	if space == 1 {
		return "coils"
	}
	return "registers"
}

func (f *fakeDriver) Classify(err error) driver.Fault {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return driver.FaultTimeout
	case errors.Is(err, errFakeRejected):
		return driver.FaultRejected
	case errors.Is(err, errFakeDevice):
		return driver.FaultDevice
	}
	return driver.FaultTransport
}

func (f *fakeDriver) Open(dev driver.DeviceSpec, endpoint string) (driver.Conn, error) {
	return &fakeConn{d: f.dev(endpoint)}, nil
}

// fakeDev is one simulated device.
type fakeDev struct {
	mu       sync.Mutex
	regs     []uint16
	coils    []bool
	latency  time.Duration
	maxCount uint32 // reject reads of more units; 0 = any
	slowOver uint32 // reads of more units time out; 0 = none
	hang     bool   // reads block until their ctx ends
	down     bool   // connects fail and reads fail with a transport error
	devFail  bool   // reads fail with a device error

	// accounting
	inFlight, maxInFlight int
	arrivals              []time.Time
	reads, rejected       int
	connects              int
	writes                []model.Value
}

func (d *fakeDev) set(fn func(d *fakeDev)) {
	d.mu.Lock()
	fn(d)
	d.mu.Unlock()
}

func (d *fakeDev) get(fn func(d *fakeDev)) { d.set(fn) }

type fakeConn struct {
	d      *fakeDev
	closed bool
}

func (c *fakeConn) Connect(ctx context.Context) error {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	if c.d.down {
		return errFakeDown
	}
	c.d.connects++
	return nil
}

func (c *fakeConn) Close() error { return nil }

func (c *fakeConn) Read(ctx context.Context, space, start, count uint32, buf []byte) ([]byte, error) {
	d := c.d
	d.mu.Lock()
	d.arrivals = append(d.arrivals, time.Now())
	d.reads++
	d.inFlight++
	if d.inFlight > d.maxInFlight {
		d.maxInFlight = d.inFlight
	}
	lat, hang, down, devFail := d.latency, d.hang, d.down, d.devFail
	slow := d.slowOver > 0 && count > d.slowOver
	reject := d.maxCount > 0 && count > d.maxCount
	if reject {
		d.rejected++
	}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		d.mu.Unlock()
	}()
	if hang || slow {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	switch {
	case down:
		return nil, errFakeTransport
	case devFail:
		return nil, errFakeDevice
	case reject:
		return nil, errFakeRejected
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := buf[:0]
	if space == 1 {
		for i := start; i < start+count; i++ {
			b := byte(0)
			if d.coils[i] {
				b = 1
			}
			out = append(out, b)
		}
		return out, nil
	}
	for i := start; i < start+count; i++ {
		out = binary.BigEndian.AppendUint16(out, d.regs[i])
	}
	return out, nil
}

func (c *fakeConn) Write(ctx context.Context, p driver.Point, v model.Value) error {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.arrivals = append(c.d.arrivals, time.Now())
	c.d.writes = append(c.d.writes, v)
	c.d.regs[p.Start] = uint16(v.Uint())
	return nil
}

func (c *fakeConn) Identify(ctx context.Context) (driver.Identity, error) {
	return driver.Identity{Vendor: "otlink", Product: "fake"}, nil
}

var (
	_ driver.Driver     = (*fakeDriver)(nil)
	_ driver.Writer     = (*fakeConn)(nil)
	_ driver.Identifier = (*fakeConn)(nil)
)

// ---- a recording sink

type recSink struct {
	mu      sync.Mutex
	batches map[string][]model.Batch // by device/class, samples copied
}

func newRecSink() *recSink { return &recSink{batches: map[string][]model.Batch{}} }

func (s *recSink) PublishBatch(ctx context.Context, b *model.Batch) error {
	c := *b
	c.Samples = append([]model.Sample(nil), b.Samples...)
	s.mu.Lock()
	s.batches[b.Device+"/"+b.Class] = append(s.batches[b.Device+"/"+b.Class], c)
	s.mu.Unlock()
	return nil
}

func (s *recSink) get(key string) []model.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]model.Batch(nil), s.batches[key]...)
}

func (s *recSink) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches[key])
}

// samplesOf returns every sample of tag in key's batches, in order.
func (s *recSink) samplesOf(key, tag string) []model.Sample {
	var out []model.Sample
	for _, b := range s.get(key) {
		for _, smp := range b.Samples {
			if smp.Tag == tag {
				out = append(out, smp)
			}
		}
	}
	return out
}

// ---- config helpers

// devCfg returns a fake device polled every interval.
func devCfg(name, endpoint string, interval time.Duration) config.Device {
	return config.Device{Name: name, Driver: "fake", Endpoint: endpoint, Timeout: config.Duration(200 * time.Millisecond),
		Budget: config.Budget{MaxInFlight: 1}, Poll: []config.PollClass{{Name: "fast", Interval: config.Duration(interval)}},
		Coalesce: config.Coalesce{MaxGap: 16}}
}

// plantWith returns a config whose machines m<i> hold the given tags, one
// machine per device.
func plantWith(devs []config.Device, tags map[string][]config.Tag) *config.Config {
	c := &config.Config{Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "s", Areas: []config.Area{{Name: "a",
		Lines: []config.Line{{Name: "l"}}}}}}}, Devices: devs}
	line := &c.Plant.Sites[0].Areas[0].Lines[0]
	for _, d := range devs {
		line.Machines = append(line.Machines, config.Machine{Name: d.Name, Device: d.Name, Tags: tags[d.Name]})
	}
	return c
}

// regTags returns n uint16 tags at registers start, start+step, ...
func regTags(n int, start, step int) []config.Tag {
	out := make([]config.Tag, n)
	for i := range out {
		out[i] = config.Tag{Name: fmt.Sprintf("t%d", i), Address: strconv.Itoa(start + i*step), Type: "uint16"}
	}
	return out
}

func tagPath(dev, tag string) string { return "acme/s/a/l/" + dev + "/" + tag }

// startEngine runs e until the test ends; stop stops it early and waits.
func startEngine(t *testing.T, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 5 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func testOpts(f *fakeDriver, sink Sink) Options {
	return Options{Sink: sink, Drivers: f.lookup, BackoffBase: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		ProbeInterval: 30 * time.Millisecond, StopGrace: 2 * time.Second}
}

func snapshotOf(e *Engine, path string) (TagValue, bool) {
	for _, tv := range e.Snapshot() {
		if tv.Path == path {
			return tv, true
		}
	}
	return TagValue{}, false
}

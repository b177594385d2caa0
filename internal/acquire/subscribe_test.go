package acquire

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// pushDriver is the fake driver whose devices push: its connections
// subscribe, and the test sends values through feed or ends the
// subscription with fail.
type pushDriver struct {
	*fakeDriver
	mu     sync.Mutex
	subs   int           // subscriptions made
	items  []driver.Item // of the latest subscription
	report func(driver.Update)
	fail   chan error
}

func (p *pushDriver) Pushes(driver.DeviceSpec) bool { return true }

func (p *pushDriver) Open(dev driver.DeviceSpec, ep string) (driver.Conn, error) {
	c, _ := p.fakeDriver.Open(dev, ep)
	return &pushConn{fakeConn: c.(*fakeConn), p: p}, nil
}

func (p *pushDriver) lookup(name string) (driver.Driver, bool) {
	if name == "fake" {
		return p, true
	}
	return nil, false
}

func (p *pushDriver) send(u driver.Update) bool {
	p.mu.Lock()
	r := p.report
	p.mu.Unlock()
	if r == nil {
		return false
	}
	r(u)
	return true
}

type pushConn struct {
	*fakeConn
	p *pushDriver
}

func (c *pushConn) Subscribe(ctx context.Context, items []driver.Item, report func(driver.Update)) error {
	done, err := driver.Pace(ctx)
	if err != nil {
		return err
	}
	done()
	c.p.mu.Lock()
	c.p.subs++
	c.p.items, c.p.report = items, report
	c.p.mu.Unlock()
	defer func() {
		c.p.mu.Lock()
		c.p.report = nil
		c.p.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-c.p.fail:
		return err
	}
}

func TestPushingDevice(t *testing.T) {
	f := &pushDriver{fakeDriver: newFakeDriver(), fail: make(chan error, 1)}
	sink := newRecSink()
	dev := devCfg("d", "dev-d", 20*time.Millisecond)
	tags := []config.Tag{
		{Name: "speed", Address: "1", Type: "uint16", Scale: &config.Scale{Gain: 2}, Deadband: 10},
		{Name: "temp", Address: "2", Type: "int16"},
		{Name: "broken", Address: "x", Type: "int16"}, // rejected by Resolve: not subscribed
	}
	opts := testOpts(f.fakeDriver, sink)
	opts.Drivers = f.lookup
	e, err := New(plantWith([]config.Device{dev}, map[string][]config.Tag{"d": tags}), opts)
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	waitFor(t, "a subscription", func() bool { return f.send(driver.Update{Item: 0, Value: model.UintValue(model.Uint16, 100)}) })

	f.mu.Lock()
	items := f.items
	f.mu.Unlock()
	if len(items) != 2 || items[0].Address != "1" || items[1].Tag != tagPath("d", "temp") {
		t.Fatalf("items %+v: want speed and temp, with addresses and paths", items)
	}
	if items[0].Deadband != 5 || items[0].Interval != 20*time.Millisecond {
		t.Errorf("speed item: deadband %v (want 10/gain 2 = 5 raw), interval %v", items[0].Deadband, items[0].Interval)
	}
	src := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	f.send(driver.Update{Item: 1, Value: model.IntValue(model.Int16, -7), Source: src})
	f.send(driver.Update{Item: 0, Value: model.UintValue(model.Uint16, 102)}) // 204 vs 200: inside the deadband
	f.send(driver.Update{Item: 0, Value: model.UintValue(model.Uint16, 110)}) // 220: reported
	waitFor(t, "the pushed values on the bus", func() bool { return len(sink.samplesOf("d/fast", tagPath("d", "speed"))) >= 2 })

	sp := sink.samplesOf("d/fast", tagPath("d", "speed"))
	if len(sp) != 2 || sp[0].Value.Float() != 200 || sp[1].Value.Float() != 220 {
		t.Errorf("speed samples %+v: want 200 then 220 (scaled, deadband applied)", sp)
	}
	tp := sink.samplesOf("d/fast", tagPath("d", "temp"))
	if len(tp) != 1 || tp[0].Value.Int() != -7 || tp[0].Source != src || tp[0].Server == src {
		t.Errorf("temp samples %+v: want -7 with the device's source time", tp)
	}
	if bad := sink.samplesOf("d/fast", tagPath("d", "broken")); len(bad) != 1 || bad[0].Quality != model.BadConfigurationError {
		t.Errorf("the rejected tag: %+v, want one BadConfigurationError", bad)
	}
	// Batches are sequenced like polled ones.
	bs := sink.get("d/fast")
	for i := 1; i < len(bs); i++ {
		if bs[i].Seq != bs[i-1].Seq+1 {
			t.Fatalf("batch seq %d after %d", bs[i].Seq, bs[i-1].Seq)
		}
	}

	// The subscription fails and the device stays down for a while: tags
	// turn bad; when it is back the engine resubscribes and values flow.
	f.dev("dev-d").set(func(d *fakeDev) { d.down = true })
	f.fail <- errcode.New(2113, "fake: stream closed")
	waitFor(t, "bad quality while down", func() bool {
		tp := sink.samplesOf("d/fast", tagPath("d", "temp"))
		return tp[len(tp)-1].Quality.IsBad()
	})
	f.dev("dev-d").set(func(d *fakeDev) { d.down = false })
	waitFor(t, "a second subscription", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.subs >= 2 && f.report != nil
	})
	f.send(driver.Update{Item: 1, Value: model.IntValue(model.Int16, 8)})
	waitFor(t, "values after resubscribing", func() bool {
		tp := sink.samplesOf("d/fast", tagPath("d", "temp"))
		return len(tp) > 0 && tp[len(tp)-1].Value.Int() == 8
	})
	tp = sink.samplesOf("d/fast", tagPath("d", "temp"))
	sawBad := false
	for _, s := range tp {
		sawBad = sawBad || s.Quality.IsBad()
	}
	if !sawBad {
		t.Errorf("temp %+v: no bad sample while the subscription was down", tp)
	}
	// Unknown items from a buggy driver are ignored, not a crash.
	f.send(driver.Update{Item: 99})
	f.send(driver.Update{Item: -1})
}

// A pushing device whose connection cannot subscribe is refused with a
// code, and its tags say why.
func TestPushingDeviceWithoutSubscriber(t *testing.T) {
	f := &noSubDriver{fakeDriver: newFakeDriver()}
	sink := newRecSink()
	opts := testOpts(f.fakeDriver, sink)
	opts.Drivers = func(name string) (driver.Driver, bool) { return f, name == "fake" }
	dev := devCfg("d", "dev-d", 20*time.Millisecond)
	e, err := New(plantWith([]config.Device{dev}, map[string][]config.Tag{"d": {{Name: "a", Address: "1", Type: "uint16"}}}), opts)
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	waitFor(t, "the tag's code", func() bool {
		tv, _ := snapshotOf(e, tagPath("d", "a"))
		return tv.Code == uint16(errcode.AcquireNotSubscriber)
	})
}

type noSubDriver struct{ *fakeDriver }

func (noSubDriver) Pushes(driver.DeviceSpec) bool { return true }

package acquire

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
	"github.com/prometheus/client_golang/prometheus"
)

func TestTimeoutOfLargeBlockHalves(t *testing.T) {
	f := newFakeDriver()
	dev := f.dev("d:502")
	dev.set(func(d *fakeDev) { d.slowOver = 6 }) // blocks over 6 units never answer
	dc := devCfg("d", "d:502", 10*time.Millisecond)
	dc.Timeout = config.Duration(50 * time.Millisecond)
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(10, 0, 1)}), testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "all good", func() bool {
		for _, tv := range e.Snapshot() {
			if tv.Quality != model.Good {
				return false
			}
		}
		return true
	})
	stop()
	h := e.Health()[0]
	if lim := h.LearnedLimits["registers"]; lim != 5 {
		t.Errorf("learned %d after a timeout whose halves answered, want 5", lim)
	}
	dev.get(func(d *fakeDev) {
		if d.connects != 1 {
			t.Errorf("reconnected %d times: a block that answers when halved is a size problem, not a dead device", d.connects-1)
		}
	})

	// When the halves time out too, the device is slow or down: bad
	// quality BadTimeout and a reconnect, no learned limit.
	f2 := newFakeDriver()
	f2.dev("d:502").set(func(d *fakeDev) { d.hang = true })
	e2, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(10, 0, 1)}), testOpts(f2, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	stop2 := startEngine(t, e2)
	waitFor(t, "BadTimeout", func() bool {
		tv, _ := snapshotOf(e2, tagPath("d", "t0"))
		return tv.Quality == model.BadTimeout && tv.Code != 0
	})
	stop2()
	if h := e2.Health()[0]; len(h.LearnedLimits) != 0 {
		t.Errorf("a dead device taught a limit: %v", h.LearnedLimits)
	}
}

func TestHealthJSONAndMetrics(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", 10*time.Millisecond)
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(3, 0, 1)}), testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "3 cycles", func() bool { return e.Health()[0].Cycles >= 3 })
	stop()
	h := e.Health()
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"d"`, `"endpoint":"d:502"`, `"rtt_p99_ms"`, `"poll_classes"`, `"effective_ms":10`, `"identity":{"vendor":"otlink"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("health JSON lacks %s: %s", key, data)
		}
	}
	if h[0].RTTP50 <= 0 || h[0].Requests == 0 {
		t.Errorf("health %+v", h[0])
	}

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetSummary() != nil:
				got[mf.GetName()] = float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	for _, name := range []string{"otlink_acquire_requests_total", "otlink_acquire_cycles_total", "otlink_acquire_samples_total", "otlink_acquire_rtt_seconds"} {
		if got[name] <= 0 {
			t.Errorf("metric %s = %v", name, got[name])
		}
	}
	if _, ok := got["otlink_acquire_connected"]; !ok {
		t.Error("no connected gauge")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for range 98 {
		h.observe(700 * time.Microsecond) // bucket <= 1 ms
	}
	h.observe(30 * time.Millisecond) // <= 50 ms
	h.observe(time.Minute)           // open bucket
	if q := h.quantile(0.5); q != 1 {
		t.Errorf("p50 = %v, want 1", q)
	}
	if q := h.quantile(0.99); q != 50 {
		t.Errorf("p99 = %v, want 50", q)
	}
	if q := h.quantile(1); q != 10000 {
		t.Errorf("p100 = %v, want the largest finite bound", q)
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := backoff(DefaultBackoffBase, DefaultBackoffMax, n)
		want := DefaultBackoffBase << min(n-1, 10)
		if want > DefaultBackoffMax {
			want = DefaultBackoffMax
		}
		if d < want/2 || d > want {
			t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, want/2, want)
		}
	}
}

// slowSink blocks the batches of one device.
type slowSink struct {
	*recSink
	slow  string
	delay time.Duration
}

func (s slowSink) PublishBatch(ctx context.Context, b *model.Batch) error {
	if b.Device == s.slow {
		time.Sleep(s.delay)
		return errors.New("bus full")
	}
	return s.recSink.PublishBatch(ctx, b)
}

func TestSlowSinkForOneDeviceDoesNotDelayOthers(t *testing.T) {
	f := newFakeDriver()
	devs := []config.Device{devCfg("slow", "slow", 20*time.Millisecond), devCfg("fast", "fast", 20*time.Millisecond)}
	sink := slowSink{newRecSink(), "slow", 500 * time.Millisecond}
	e, err := New(plantWith(devs, map[string][]config.Tag{"slow": regTags(2, 0, 1), "fast": regTags(2, 0, 1)}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "30 cycles of the fast device", func() bool { return sink.count("fast/fast") >= 30 })
	stop()
	for _, b := range sink.get("fast/fast") {
		if b.Missed >= 10 { // a shared publish path would stall 25 cycles per slow batch
			t.Errorf("fast device seq %d missed %d cycles", b.Seq, b.Missed)
		}
	}
	h := e.Health()[1]
	if h.Name != "slow" || h.LastError == nil || h.LastError.Code != "OTL-4017" {
		t.Errorf("slow device health %+v, want last error OTL-4017", h.LastError)
	}
}

func TestStopCompletesCycleInFlight(t *testing.T) {
	f := newFakeDriver()
	dev := f.dev("d")
	dev.set(func(d *fakeDev) { d.latency = 150 * time.Millisecond })
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{devCfg("d", "d", 10*time.Millisecond)}, map[string][]config.Tag{"d": regTags(2, 0, 1)}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "a read in flight", func() bool { n := 0; dev.get(func(d *fakeDev) { n = d.inFlight }); return n == 1 })
	stop()
	bs := sink.get("d/fast")
	if len(bs) == 0 {
		t.Fatal("the cycle in flight at stop was not published")
	}
	last := bs[len(bs)-1]
	if uint64(len(bs)) != e.Health()[0].Cycles || last.Seq != uint64(len(bs)) {
		t.Errorf("%d batches, last seq %d, %d cycles", len(bs), last.Seq, e.Health()[0].Cycles)
	}
	for _, tv := range e.Snapshot() {
		if tv.Quality != model.Good {
			t.Errorf("%s %v: the stop cut a read short", tv.Path, tv.Quality)
		}
	}
}

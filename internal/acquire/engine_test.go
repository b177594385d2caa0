package acquire

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func TestBudgetNeverExceeded(t *testing.T) {
	for _, inFlight := range []int{1, 2} {
		t.Run("in_flight_"+string(rune('0'+inFlight)), func(t *testing.T) {
			f := newFakeDriver()
			dc := devCfg("press", "press:502", 10*time.Millisecond)
			dc.Budget = config.Budget{MaxInFlight: inFlight, MinGap: config.Duration(20 * time.Millisecond)}
			dc.Coalesce.MaxGap = 0
			dc.Poll = []config.PollClass{{Name: "fast", Interval: config.Duration(10 * time.Millisecond)},
				{Name: "mid", Interval: config.Duration(30 * time.Millisecond)}, {Name: "slow", Interval: config.Duration(50 * time.Millisecond)}}
			tags := regTags(9, 0, 10) // nine reads: gap 0 keeps them apart
			for i := range tags {
				tags[i].Poll = dc.Poll[i%3].Name
			}
			dev := f.dev("press:502")
			dev.set(func(d *fakeDev) { d.latency = 3 * time.Millisecond })
			e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"press": tags}), testOpts(f, newRecSink()))
			if err != nil {
				t.Fatal(err)
			}
			stop := startEngine(t, e)
			waitFor(t, "30 requests", func() bool { n := 0; dev.get(func(d *fakeDev) { n = d.reads }); return n >= 30 })
			stop()
			dev.get(func(d *fakeDev) {
				if d.maxInFlight > inFlight {
					t.Errorf("device saw %d requests in flight, budget %d", d.maxInFlight, inFlight)
				}
				// With one request in flight the gap is counted from the
				// reply too, so the device never sees two requests closer
				// than the gap. With two, the gate spaces the starts and the
				// scheduler may delay one start more than the next (gate.go
				// says so): each gap may shrink by that delay, the mean may
				// not.
				for i := 1; i < len(d.arrivals); i++ {
					gap := d.arrivals[i].Sub(d.arrivals[i-1])
					if inFlight == 1 && gap < 20*time.Millisecond || gap < 10*time.Millisecond {
						t.Errorf("requests %d and %d started %v apart, budget min gap 20ms", i-1, i, gap)
					}
				}
				if n := len(d.arrivals); n > 1 {
					if mean := d.arrivals[n-1].Sub(d.arrivals[0]) / time.Duration(n-1); mean < 19*time.Millisecond {
						t.Errorf("%d requests %v apart on average, budget min gap 20ms", n, mean)
					}
				}
			})
			// The fast class cannot keep up under this budget: overruns are counted, not hidden.
			h := e.Health()[0]
			if h.Overruns == 0 {
				t.Errorf("no overruns counted although 9 reads at 20 ms gaps cannot fit a 10 ms class")
			}
		})
	}
}

func TestPollFloor(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("press", "press:502", 10*time.Millisecond)
	dc.Budget.PollFloor = config.Duration(40 * time.Millisecond)
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"press": regTags(1, 0, 1)}), testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	pc := e.Health()[0].PollClasses[0]
	if !pc.Floored || pc.Effective != 40 || pc.Interval != 10 {
		t.Fatalf("poll class %+v, want effective 40 ms, floored", pc)
	}
}

func TestIsolationFromHangingDevice(t *testing.T) {
	f := newFakeDriver()
	var devs []config.Device
	tags := map[string][]config.Tag{}
	names := []string{"hung", "ok1", "ok2", "ok3"}
	for _, n := range names {
		dc := devCfg(n, n+":502", 20*time.Millisecond)
		dc.Timeout = config.Duration(time.Second)
		dc.Coalesce.MaxGap = 0
		devs = append(devs, dc)
		tags[n] = regTags(5, 0, 50)
	}
	f.dev("hung:502").set(func(d *fakeDev) { d.hang = true })
	// A sink that is slow for the hung device's batches must not slow others either.
	sink := newRecSink()
	e, err := New(plantWith(devs, tags), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "40 cycles of every healthy device", func() bool {
		for _, n := range names[1:] {
			if sink.count(n+"/fast") < 40 {
				return false
			}
		}
		return true
	})
	stop()
	for _, n := range names[1:] {
		bs := sink.get(n + "/fast")
		for i, b := range bs {
			if b.Seq != uint64(i+1) {
				t.Fatalf("%s: batch %d has seq %d", n, i, b.Seq)
			}
			// A device sharing anything with the hung one would stall for its
			// 1 s timeout: 50 cycles. A busy machine (this one has 2 cores
			// shared with builds) may delay a tick or a few, not 15.
			if b.Missed >= 15 {
				t.Errorf("%s: batch %d missed %d cycles while another device hung", n, b.Seq, b.Missed)
			}
		}
	}
	if h := e.Health()[0]; h.Name != "hung" || h.Overruns == 0 {
		t.Errorf("hung device: %+v; want overruns counted", h)
	}
	tv, _ := snapshotOf(e, tagPath("hung", "t0"))
	if tv.Quality != model.BadTimeout && tv.Quality != model.BadNotConnected {
		t.Errorf("hung device's tag has quality %v", tv.Quality)
	}
}

func TestAdaptiveBlockSize(t *testing.T) {
	dir := t.TempDir()
	f := newFakeDriver()
	dev := f.dev("old:502")
	dev.set(func(d *fakeDev) {
		d.maxCount = 7
		for i := range 40 {
			d.regs[i] = uint16(1000 + i)
		}
	})
	dc := devCfg("old", "old:502", 10*time.Millisecond)
	cfg := plantWith([]config.Device{dc}, map[string][]config.Tag{"old": regTags(40, 0, 1)})
	opts := testOpts(f, newRecSink())
	opts.DataDir = dir
	e, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	allGood := func(e *Engine) bool {
		for _, tv := range e.Snapshot() {
			if tv.Quality != model.Good {
				return false
			}
		}
		return true
	}
	waitFor(t, "all tags good", func() bool { return allGood(e) })
	// The limit has converged: a few cycles later no read is rejected any more.
	var rej int
	dev.get(func(d *fakeDev) { rej = d.rejected })
	n := e.Health()[0].Cycles
	waitFor(t, "3 more cycles", func() bool { return e.Health()[0].Cycles >= n+3 })
	dev.get(func(d *fakeDev) {
		if d.rejected != rej {
			t.Errorf("reads still rejected after convergence: %d then %d", rej, d.rejected)
		}
	})
	stop()
	for i, tv := range e.Snapshot() {
		if tv.Value.Uint() != uint64(1000+i) && tv.Path == tagPath("old", "t"+itoa(i)) {
			t.Errorf("%s = %v", tv.Path, tv.Value)
		}
	}
	h := e.Health()[0]
	lim := h.LearnedLimits["registers"]
	if lim == 0 || lim > 7 {
		t.Fatalf("learned limit %d, want 1..7 (health %+v)", lim, h.LearnedLimits)
	}
	data, err := os.ReadFile(filepath.Join(dir, "acquire", "limits", "old.json"))
	if err != nil {
		t.Fatalf("limit not persisted: %v", err)
	}
	t.Logf("persisted: %s", data)

	// A new engine on the same data folder starts with the learned limit:
	// the device never sees an oversized read again.
	dev.set(func(d *fakeDev) { d.rejected = 0 })
	e2, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	stop2 := startEngine(t, e2)
	waitFor(t, "all tags good after restart", func() bool { return allGood(e2) })
	stop2()
	dev.get(func(d *fakeDev) {
		if d.rejected != 0 {
			t.Errorf("after restart %d reads were rejected; the learned limit was not reloaded", d.rejected)
		}
	})
	if got := e2.Health()[0].LearnedLimits["registers"]; got != lim {
		t.Errorf("reloaded limit %d, want %d", got, lim)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestSingleTagRejectedIsBadAlone(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", 10*time.Millisecond)
	dc.Coalesce.MaxGap = 0
	tags := regTags(3, 0, 10)
	cfg := plantWith([]config.Device{dc}, map[string][]config.Tag{"d": tags})
	e, err := New(cfg, testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	// Drive the reads directly against a connection that rejects everything.
	d := e.view.Load().devs[0]
	c := d.cls[0]
	d.replan(c, 0)
	w := &worker{}
	d.link.Store(&link{conn: &rejectConn{}, endpoint: "d:502"})
	for i := range c.reads {
		d.read(context.Background(), c, w, &c.reads[i])
	}
	for i := range d.st {
		if d.st[i].q != model.BadConfigurationError || d.st[i].code != 2103 {
			t.Errorf("tag %d: %v code %d, want BadConfigurationError with the driver's code 2103", i, d.st[i].q, d.st[i].code)
		}
	}
	if d.link.Load().conn == nil {
		t.Error("a rejected read dropped the connection")
	}
}

// rejectConn rejects every read.
type rejectConn struct{ fakeConn }

func (rejectConn) Read(ctx context.Context, space, start, count uint32, buf []byte) ([]byte, error) {
	return nil, errFakeRejected
}

func TestReconnectBackoffAndBadQuality(t *testing.T) {
	f := newFakeDriver()
	dev := f.dev("d:502")
	dc := devCfg("d", "d:502", 10*time.Millisecond)
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(2, 0, 1)}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	path := tagPath("d", "t0")
	waitFor(t, "good", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality == model.Good })
	dev.set(func(d *fakeDev) { d.down = true })
	waitFor(t, "bad quality", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality.IsBad() })
	tv, _ := snapshotOf(e, path)
	if tv.Code == 0 {
		t.Errorf("bad sample without a code: %+v", tv)
	}
	n := e.Health()[0].Cycles
	waitFor(t, "10 cycles while down", func() bool { return e.Health()[0].Cycles >= n+10 })
	h := e.Health()[0]
	if h.Connected || h.LastError == nil || h.LastError.Code == "" {
		t.Errorf("health while down: %+v", h)
	}
	dev.set(func(d *fakeDev) { d.down = false })
	waitFor(t, "recovery", func() bool { tv, _ := snapshotOf(e, path); return tv.Quality == model.Good })
	// Bad quality was reported on change only: a few samples (communication
	// error, then not connected), not one per cycle.
	var bad int
	for _, s := range sink.samplesOf("d/fast", path) {
		if s.Quality.IsBad() {
			bad++
			if s.Code == 0 {
				t.Errorf("bad sample without code: %+v", s)
			}
		}
	}
	if bad == 0 || bad > 4 {
		t.Errorf("%d bad samples over >10 cycles down; want 1..4 (on change only)", bad)
	}
	var connects int
	dev.get(func(d *fakeDev) { connects = d.connects })
	if connects < 2 {
		t.Errorf("connects %d, want a reconnect", connects)
	}
}

func TestFailoverAndBack(t *testing.T) {
	f := newFakeDriver()
	prim, bak := f.dev("prim:502"), f.dev("bak:502")
	prim.set(func(d *fakeDev) { d.down = true })
	bak.set(func(d *fakeDev) { d.regs[0] = 7 })
	dc := devCfg("d", "prim:502", 10*time.Millisecond)
	dc.Backup = "bak:502"
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(1, 0, 1)}), testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	waitFor(t, "failover to the backup", func() bool {
		h := e.Health()[0]
		return h.Connected && h.Endpoint == "bak:502" && h.OnBackup
	})
	waitFor(t, "value from the backup", func() bool {
		tv, _ := snapshotOf(e, tagPath("d", "t0"))
		return tv.Quality == model.Good && tv.Value.Uint() == 7
	})
	prim.set(func(d *fakeDev) { d.down = false; d.regs[0] = 9 })
	waitFor(t, "switch back to the primary", func() bool {
		h := e.Health()[0]
		return h.Connected && h.Endpoint == "prim:502" && !h.OnBackup
	})
	waitFor(t, "value from the primary", func() bool { tv, _ := snapshotOf(e, tagPath("d", "t0")); return tv.Value.Uint() == 9 })
}

func TestOverrunsCountedAndCarried(t *testing.T) {
	f := newFakeDriver()
	f.dev("d:502").set(func(d *fakeDev) { d.latency = 45 * time.Millisecond })
	dc := devCfg("d", "d:502", 20*time.Millisecond)
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(1, 0, 1)}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "6 cycles", func() bool { return sink.count("d/fast") >= 6 })
	stop()
	var missed uint64
	for i, b := range sink.get("d/fast") {
		if b.Seq != uint64(i+1) {
			t.Fatalf("seq %d at %d", b.Seq, i)
		}
		missed += b.Missed
	}
	h := e.Health()[0]
	if h.Overruns == 0 || missed == 0 {
		t.Fatalf("overruns %d, missed carried %d; a 45 ms cycle on a 20 ms interval must overrun", h.Overruns, missed)
	}
	// Every overrun is carried by a batch, except those after the last one.
	if missed > h.Overruns || h.Overruns-missed > 3 {
		t.Errorf("overruns %d but batches carry %d", h.Overruns, missed)
	}
}

func TestDeadbandScaleRangeReport(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", time.Hour)
	tags := []config.Tag{
		{Name: "db", Address: "0", Type: "uint16", Deadband: 5},
		{Name: "sc", Address: "1", Type: "uint16", Scale: &config.Scale{Gain: 0.1, Offset: -10}, Range: &config.Range{Min: 0, Max: 50}},
		{Name: "plain", Address: "2", Type: "uint16"},
	}
	run := func(report string, steps [][3]uint16) [][]model.Sample {
		dc.Report = report
		sink := &lastSink{}
		e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": tags}), testOpts(f, sink))
		if err != nil {
			t.Fatal(err)
		}
		d := e.view.Load().devs[0]
		c := d.cls[0]
		d.replan(c, 0)
		conn := &fakeConn{d: f.dev("d:502")}
		d.link.Store(&link{conn: conn, endpoint: "d:502"})
		var out [][]model.Sample
		for _, s := range steps {
			conn.d.set(func(fd *fakeDev) { fd.regs[0], fd.regs[1], fd.regs[2] = s[0], s[1], s[2] })
			d.cycle(context.Background(), c, 0)
			out = append(out, append([]model.Sample(nil), sink.samples...))
		}
		return out
	}
	steps := [][3]uint16{{100, 200, 1}, {104, 200, 1}, {106, 300, 1}, {99, 700, 2}, {99, 700, 2}}
	got := run("change", steps)
	names := func(ss []model.Sample) []string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Tag[len(s.Tag)-2:])
		}
		sort.Strings(n)
		return n
	}
	want := [][]string{{"db", "in", "sc"}, nil, {"db", "sc"}, {"db", "in", "sc"}, nil}
	for i := range want {
		if g := names(got[i]); len(g) != len(want[i]) || (len(g) > 0 && g[0] != want[i][0]) {
			t.Errorf("cycle %d reported %v, want %v", i, g, want[i])
		}
	}
	for _, s := range got[0] {
		if s.Tag == tagPath("d", "sc") && (s.Value.T != model.Float64 || s.Value.Float() != 10 || s.Quality != model.Good) {
			t.Errorf("scaled sample %+v, want float64 10 good", s)
		}
	}
	for _, s := range got[3] {
		if s.Tag == tagPath("d", "sc") && (s.Value.Float() != 60 || s.Quality != model.UncertainEngineeringUnitsExceeded) {
			t.Errorf("out of range sample %+v, want 60 UncertainEngineeringUnitsExceeded", s)
		}
	}
	all := run("all", steps)
	for i, ss := range all {
		if len(ss) != 3 {
			t.Errorf("report all: cycle %d has %d samples, want 3", i, len(ss))
		}
	}
}

func TestReloadKeepsUnchangedDevices(t *testing.T) {
	f := newFakeDriver()
	a, b := devCfg("a", "a:502", 20*time.Millisecond), devCfg("b", "b:502", 20*time.Millisecond)
	tags := map[string][]config.Tag{"a": regTags(3, 0, 1), "b": regTags(3, 0, 1)}
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{a, b}, tags), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	waitFor(t, "5 cycles", func() bool { return sink.count("a/fast") >= 5 && sink.count("b/fast") >= 5 })
	// Change b's tags, add c, keep a.
	tags2 := map[string][]config.Tag{"a": regTags(3, 0, 1), "b": regTags(4, 0, 1), "c": regTags(1, 0, 1)}
	c := devCfg("c", "c:502", 20*time.Millisecond)
	if err := e.Apply(plantWith([]config.Device{a, b, c}, tags2)); err != nil {
		t.Fatal(err)
	}
	nb := sink.count("b/fast")
	waitFor(t, "5 more cycles", func() bool {
		return sink.count("a/fast") >= nb+5 && sink.count("b/fast") >= nb+5 && sink.count("c/fast") >= 3
	})
	// Remove b.
	if err := e.Apply(plantWith([]config.Device{a, c}, tags2)); err != nil {
		t.Fatal(err)
	}
	stop()
	for _, key := range []string{"a/fast", "b/fast"} {
		for i, bt := range sink.get(key) {
			if bt.Seq != uint64(i+1) {
				t.Fatalf("%s: batch %d has seq %d: a cycle is missing", key, i, bt.Seq)
			}
			if key == "a/fast" && bt.Missed >= 10 {
				t.Errorf("%s: seq %d missed %d cycles across the reload", key, bt.Seq, bt.Missed)
			}
		}
	}
	f.dev("a:502").get(func(d *fakeDev) {
		if d.connects != 1 {
			t.Errorf("unchanged device a connected %d times, want 1 (same connection)", d.connects)
		}
	})
	f.dev("b:502").get(func(d *fakeDev) {
		if d.connects != 2 {
			t.Errorf("changed device b connected %d times, want 2 (restarted)", d.connects)
		}
	})
	if _, ok := snapshotOf(e, tagPath("b", "t0")); ok {
		t.Error("removed device's tags still in the snapshot")
	}
	if err := e.Apply(plantWith([]config.Device{{Name: "x", Driver: "nope"}}, nil)); errcode.Of(err) != errcode.AcquireUnknownDriver {
		t.Errorf("bad reload: %v", err)
	}
}

func TestWriteGovernance(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", 10*time.Millisecond)
	tags := []config.Tag{
		{Name: "ro", Address: "0", Type: "uint16"},
		{Name: "sp", Address: "1", Type: "uint16", Writable: true, Scale: &config.Scale{Gain: 0.5},
			Limits: &config.Limits{Min: 0, Max: 100, MaxStep: 30, MinInterval: config.Duration(time.Hour)}},
	}
	f.dev("d:502").set(func(d *fakeDev) { d.regs[1] = 40 }) // 20.0 in engineering units
	var events []WriteEvent
	opts := testOpts(f, newRecSink())
	opts.OnWrite = func(_ context.Context, ev WriteEvent) { events = append(events, ev) }
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": tags}), opts)
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	sp := tagPath("d", "sp")
	waitFor(t, "setpoint read", func() bool { tv, _ := snapshotOf(e, sp); return tv.Quality == model.Good })
	ctx := context.Background()
	cases := []struct {
		path string
		v    model.Value
		want errcode.Code
	}{
		{tagPath("d", "ro"), model.FloatValue(model.Float64, 1), errcode.AcquireWriteNotWritable},
		{tagPath("d", "nope"), model.FloatValue(model.Float64, 1), errcode.AcquireWriteUnknownTag},
		{sp, model.FloatValue(model.Float64, 101), errcode.AcquireWriteOutOfLimits},
		{sp, model.FloatValue(model.Float64, 60), errcode.AcquireWriteStep},
		{sp, model.StringValue("x"), errcode.AcquireWriteType},
		{sp, model.FloatValue(model.Float64, 45), 0},
		{sp, model.FloatValue(model.Float64, 46), errcode.AcquireWriteTooFast},
	}
	for _, c := range cases {
		err := e.Write(ctx, c.path, c.v)
		if got := errcode.Of(err); got != c.want || (c.want == 0) != (err == nil) {
			t.Errorf("write %s = %v: got %v, want %v", c.path, c.v, err, c.want)
		}
	}
	if len(events) != len(cases) {
		t.Fatalf("%d audit events for %d attempts", len(events), len(cases))
	}
	ok := events[5]
	if !ok.Accepted || ok.Raw.Uint() != 90 || ok.Device != "d" {
		t.Errorf("accepted event %+v, want raw 90 (45 / gain 0.5)", ok)
	}
	for i, ev := range events {
		if i != 5 && (ev.Accepted || ev.Code == "") {
			t.Errorf("refused event %d without code: %+v", i, ev)
		}
	}
	f.dev("d:502").get(func(d *fakeDev) {
		if len(d.writes) != 1 || d.regs[1] != 90 {
			t.Errorf("device writes %v, reg %d", d.writes, d.regs[1])
		}
	})
	waitFor(t, "read back", func() bool { tv, _ := snapshotOf(e, sp); return tv.Value.Float() == 45 })
}

func TestNewRejectsBadConfig(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", time.Second)
	cfg := plantWith([]config.Device{dc}, map[string][]config.Tag{"d": {{Name: "x", Address: "0", Type: "uint16", Poll: "nope"}}})
	if _, err := New(cfg, testOpts(f, nil)); errcode.Of(err) != errcode.AcquireUnknownPollClass {
		t.Errorf("unknown poll class: %v", err)
	}
	// A tag the driver cannot resolve is bad, not fatal.
	cfg = plantWith([]config.Device{dc}, map[string][]config.Tag{"d": {{Name: "x", Address: "zz", Type: "uint16"}, {Name: "y", Address: "1", Type: "uint16"}}})
	e, err := New(cfg, testOpts(f, nil))
	if err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot()
	if len(snap) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	for _, tv := range snap {
		switch tv.Path {
		case tagPath("d", "x"):
			if tv.Quality != model.BadConfigurationError || tv.Code != uint16(errcode.AcquireResolve) {
				t.Errorf("unresolvable tag: %+v", tv)
			}
		case tagPath("d", "y"):
			if tv.Quality != model.BadWaitingForInitialData {
				t.Errorf("unread tag: %+v", tv)
			}
		}
	}
}

package mtconnect

import (
	"context"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

// allItems subscribes to every data item of the simulated CNC as strings,
// so that each observation the agent assigns becomes exactly one update.
func allItems(t *testing.T, d *Driver, spec driver.DeviceSpec) []driver.Item {
	ids := []string{sim.CNCAvailability, sim.CNCEmergency, sim.CNCMode, sim.CNCSystem, sim.CNCExecution,
		sim.CNCProgram, sim.CNCPartCount, sim.CNCScrapCount, sim.CNCFeedrate, sim.CNCFeedOverride, sim.CNCXPos,
		sim.CNCSpindleSpeed, sim.CNCSpindleLoad, sim.CNCSpindleTemp, sim.CNCSpindleCond, sim.CNCCoolantTemp, sim.CNCPower}
	var specs []driver.TagSpec
	for _, id := range ids {
		specs = append(specs, driver.TagSpec{Name: id, Address: id, Type: model.String})
	}
	return items(t, d, spec, specs...)
}

// session is one connection's subscription, as the engine runs it.
type session struct {
	cancel context.CancelFunc
	done   chan error
}

func subscribe(t *testing.T, d *Driver, spec driver.DeviceSpec, its []driver.Item, rec *recorder) *session {
	t.Helper()
	c := open(t, d, spec)
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := c.Subscribe(ctx, its, rec.report)
		c.Close()
		s.done <- err
	}()
	return s
}

// caughtUp waits until the driver's next sequence is the agent's.
func caughtUp(t *testing.T, d *Driver, cnc *sim.CNC, spec driver.DeviceSpec) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		_, next := cnc.Sequences()
		r := d.state(spec.Name, spec.Endpoint)
		r.mu.Lock()
		got := r.next
		r.mu.Unlock()
		if got == next {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the driver did not catch up with the agent")
}

// streaming waits until the CNC's agent has opened n streams.
func streaming(t *testing.T, cnc *sim.CNC, n uint64) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if _, opened := cnc.Agent().Streams(); opened >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no stream was opened")
}

// drop closes the CNC's connections until the session's Subscribe ends:
// a stream may still be connecting when the first drop comes.
func drop(t *testing.T, cnc *sim.CNC, s *session) error {
	t.Helper()
	for i := 0; i < 100; i++ {
		cnc.DropStreams()
		select {
		case err := <-s.done:
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("the stream was not dropped")
	return nil
}

// TestReconnectWithoutLoss drops the stream several times, some while
// observations are arriving, and checks that every observation the agent
// assigned after the initial /current was delivered exactly once.
func TestReconnectWithoutLoss(t *testing.T) {
	cnc, clk := startCNC(t, 1<<16)
	d := New()
	spec := driver.DeviceSpec{Name: "cnc01", Endpoint: cnc.URL(), Timeout: time.Second}
	its := allItems(t, d, spec)
	rec := newRecorder()
	s := subscribe(t, d, spec, its, rec)
	caughtUp(t, d, cnc, spec)
	base := len(rec.all())
	_, startNext := cnc.Sequences()
	for round := 0; round < 6; round++ {
		clk.Advance(2 * time.Second)
		cnc.Sync()
		if round%2 == 0 {
			caughtUp(t, d, cnc, spec)
		}
		// Drop mid-way: on odd rounds before the driver has read it all.
		streaming(t, cnc, uint64(round+1))
		if err := drop(t, cnc, s); err == nil {
			t.Fatalf("round %d: a dropped stream must end Subscribe with an error", round)
		}
		clk.Advance(time.Second) // observations while disconnected
		cnc.Sync()
		s = subscribe(t, d, spec, its, rec)
	}
	caughtUp(t, d, cnc, spec)
	s.cancel()
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	_, endNext := cnc.Sequences()
	got := len(rec.all()) - base
	if want := int(endNext - startNext); got != want {
		t.Fatalf("delivered %d observations after /current, the agent assigned %d", got, want)
	}
	st := d.Stats(spec.Name, spec.Endpoint)
	if st.Missed != 0 || st.Gaps != 0 || st.Restarts != 0 || st.Reconnects < 6 {
		t.Fatalf("counters %+v", st)
	}
	t.Logf("%d observations over 7 connections, counters %+v", got, st)
}

// TestGapCounted lets the agent's small buffer move past the driver's next
// sequence while it is disconnected: the gap is counted exactly and the
// driver carries on from /current.
func TestGapCounted(t *testing.T) {
	cnc, clk := startCNC(t, 64)
	d := New()
	spec := driver.DeviceSpec{Name: "cnc01", Endpoint: cnc.URL(), Timeout: time.Second}
	its := allItems(t, d, spec)
	rec := newRecorder()
	s := subscribe(t, d, spec, its, rec)
	caughtUp(t, d, cnc, spec)
	s.cancel()
	<-s.done
	_, next := cnc.Sequences()
	clk.Advance(30 * time.Second) // hundreds of observations
	cnc.Sync()
	first, _ := cnc.Sequences()
	if first <= next {
		t.Fatalf("test setup: buffer first %d has not passed %d", first, next)
	}
	n := len(rec.all())
	s = subscribe(t, d, spec, its, rec)
	caughtUp(t, d, cnc, spec)
	s.cancel()
	<-s.done
	st := d.Stats(spec.Name, spec.Endpoint)
	if st.Gaps != 1 || st.Missed != first-next {
		t.Fatalf("counters %+v, want 1 gap of %d", st, first-next)
	}
	if len(rec.all()) < n+len(its) {
		t.Fatalf("after the gap the current values must be reported: %d new updates", len(rec.all())-n)
	}
}

// TestAgentRestart: a new instance id is counted and the stream starts
// again from /current.
func TestAgentRestart(t *testing.T) {
	cnc, clk := startCNC(t, 1024)
	d := New()
	spec := driver.DeviceSpec{Name: "cnc01", Endpoint: cnc.URL(), Timeout: time.Second}
	its := allItems(t, d, spec)
	rec := newRecorder()
	s := subscribe(t, d, spec, its, rec)
	caughtUp(t, d, cnc, spec)
	streaming(t, cnc, 1)
	cnc.Restart(0)
	if err := drop(t, cnc, s); err == nil {
		t.Fatal("a restarted agent must end Subscribe with an error")
	}
	clk.Advance(time.Second)
	cnc.Sync()
	s = subscribe(t, d, spec, its, rec)
	caughtUp(t, d, cnc, spec)
	s.cancel()
	<-s.done
	if st := d.Stats(spec.Name, spec.Endpoint); st.Restarts != 1 || st.Gaps != 0 {
		t.Fatalf("counters %+v", st)
	}
}

package acquire

import (
	"context"
	"time"
)

// gate is the one door every request to a device passes through, so that
// the device's budget holds across its poll classes and writes: at most
// maxInFlight requests at once, and request starts at least minGap apart.
//
// It holds no lock while a request runs; a waiter for the gap holds the
// start token (a channel, so that it can give up on ctx), which serialises
// starts only, never replies.
type gate struct {
	slots  chan struct{} // capacity max in flight
	start  chan struct{} // capacity 1: the right to start next
	minGap time.Duration
	next   time.Time // earliest start of the next request; guarded by start
}

// jitterGuard widens the gap slightly: the device sees arrivals, not our
// start times, and a request can sit a little in the socket or scheduler.
func jitterGuard(gap time.Duration) time.Duration {
	g := gap / 20
	if g > time.Millisecond {
		g = time.Millisecond
	}
	return g
}

func newGate(maxInFlight int, minGap time.Duration) *gate {
	if maxInFlight < 1 {
		maxInFlight = 1
	}
	if minGap > 0 {
		minGap += jitterGuard(minGap)
	}
	return &gate{slots: make(chan struct{}, maxInFlight), start: make(chan struct{}, 1), minGap: minGap}
}

// acquire waits for a free slot and the gap; the caller must call release
// when its request has completed.
func (g *gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.minGap <= 0 {
		return nil
	}
	select {
	case g.start <- struct{}{}:
	case <-ctx.Done():
		<-g.slots
		return ctx.Err()
	}
	if wait := time.Until(g.next); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-g.start
			<-g.slots
			return ctx.Err()
		}
	}
	g.next = time.Now().Add(g.minGap)
	<-g.start
	return nil
}

// release ends a request. With one request in flight at most, the gap is
// also counted from the reply: the device received the request before it
// replied, so the next request cannot reach it sooner than the gap after
// the previous one arrived, whatever delays the network or the scheduler
// add on the way. (With several in flight, starts are spaced, and the
// device can see a gap shortened by such delays.)
func (g *gate) release() {
	if g.minGap > 0 && cap(g.slots) == 1 {
		// Holding the only slot, nobody else can hold start: next is ours.
		g.next = time.Now().Add(g.minGap)
	}
	<-g.slots
}

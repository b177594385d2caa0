package sim

import (
	"math"
	"sync"
	"time"
)

// GapBounds are the upper bounds of the inter-arrival histogram; a last
// bucket counts the gaps above the largest bound.
var GapBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second,
}

// GapBucket counts the gaps up to Le (inclusive) and above the previous
// bucket's bound; the last bucket has Le = math.MaxInt64.
type GapBucket struct {
	Le    time.Duration
	Count uint64
}

// Stats is what a device has seen since it started (or ResetStats). Times
// are arrival times on the device's Clock (real, monotonic time unless a
// test gives a ManualClock): a request arrives when its whole frame has been
// read, before any fault delays it.
type Stats struct {
	Requests    uint64           // frames received, including malformed ones
	ByFunction  map[uint8]uint64 // requests by function code byte
	Exceptions  uint64           // exception replies sent
	BadFrames   uint64           // requests that could not be decoded
	BytesIn     uint64           // request bytes, MBAP headers included
	BytesOut    uint64           // reply bytes
	Accepted    uint64           // connections accepted
	Refused     uint64           // connections closed at once for lack of room (MaxConns)
	Dropped     uint64           // connections the device closed because of a fault
	Open        int              // connections open now
	InFlight    int              // requests received and not yet answered, now
	MaxInFlight int              // most requests in flight at once, across all connections
	MinGap      time.Duration    // shortest time between two consecutive arrivals; -1 with < 2 requests
	Gaps        []GapBucket      // histogram of the times between consecutive arrivals
	First       time.Time        // arrival of the first request
	Last        time.Time        // arrival of the last request
}

// stats is the device's accounting. One mutex: the request path takes it
// twice per request (arrival, completion), which costs far less than a
// syscall.
type stats struct {
	mu          sync.Mutex
	requests    uint64
	byFunc      [256]uint64
	exceptions  uint64
	badFrames   uint64
	bytesIn     uint64
	bytesOut    uint64
	accepted    uint64
	refused     uint64
	dropped     uint64
	open        int
	inFlight    int
	maxInFlight int
	minGap      time.Duration
	gaps        [11]uint64
	first, last time.Time
}

func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.byFunc, s.exceptions, s.badFrames = 0, [256]uint64{}, 0, 0
	s.bytesIn, s.bytesOut, s.accepted, s.refused, s.dropped = 0, 0, 0, 0, 0
	s.maxInFlight, s.minGap, s.gaps = s.inFlight, -1, [11]uint64{}
	s.first, s.last = time.Time{}, time.Time{}
}

// arrive records a request of n bytes with function byte fc at now.
func (s *stats) arrive(now time.Time, fc byte, n int) {
	s.mu.Lock()
	if s.requests > 0 {
		g := now.Sub(s.last)
		if s.requests == 1 || g < s.minGap {
			s.minGap = g
		}
		i := 0
		for i < len(GapBounds) && g > GapBounds[i] {
			i++
		}
		s.gaps[i]++
	} else {
		s.first = now
	}
	s.last = now
	s.requests++
	s.byFunc[fc]++
	s.bytesIn += uint64(n)
	s.inFlight++
	if s.inFlight > s.maxInFlight {
		s.maxInFlight = s.inFlight
	}
	s.mu.Unlock()
}

// done records the end of k requests (answered, ignored or abandoned) and
// out reply bytes.
func (s *stats) done(k, out int, exception bool) {
	s.mu.Lock()
	s.inFlight -= k
	s.bytesOut += uint64(out)
	if exception {
		s.exceptions++
	}
	s.mu.Unlock()
}

func (s *stats) add(f func(s *stats)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{
		Requests: s.requests, Exceptions: s.exceptions, BadFrames: s.badFrames,
		BytesIn: s.bytesIn, BytesOut: s.bytesOut, Accepted: s.accepted, Refused: s.refused,
		Dropped: s.dropped, Open: s.open, InFlight: s.inFlight, MaxInFlight: s.maxInFlight,
		MinGap: -1, First: s.first, Last: s.last,
		ByFunction: map[uint8]uint64{},
	}
	if s.requests >= 2 {
		out.MinGap = s.minGap
	}
	for fc, n := range s.byFunc {
		if n > 0 {
			out.ByFunction[uint8(fc)] = n
		}
	}
	for i, n := range s.gaps {
		le := time.Duration(math.MaxInt64)
		if i < len(GapBounds) {
			le = GapBounds[i]
		}
		out.Gaps = append(out.Gaps, GapBucket{Le: le, Count: n})
	}
	return out
}

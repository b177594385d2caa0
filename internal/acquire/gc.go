package acquire

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// GC headroom. The garbage collector lets the heap grow by GOGC percent of
// the live heap before it collects again; by default (100) the heap may
// double. For a large plant most of the live heap is the engine's static
// tables (about 90 bytes a tag: tagDef, tagState, path, index, reads),
// which the collector marks cheaply (they hold no pointers) and which
// produce no garbage: doubling them buys nothing but resident memory
// (55 MB at 300,000 tags). What the headroom must absorb is the garbage
// made between collections, which grows with the sample rate (a few MB/s
// at 300,000 samples/s, most of it the bus's copy of each message), not
// with the tables. So the headroom is kept at GCHeadroom bytes, but never
// below MinGCPercent of the live heap.
const (
	GCHeadroom   = 24 << 20
	MinGCPercent = 25
)

// GCPercentFor returns the GOGC for a live heap of live bytes: 100 (Go's
// default) up to GCHeadroom of live heap, then GCHeadroom/live, at least
// MinGCPercent. It is a percentage, not a memory limit, so the collector
// cannot be driven to thrash: the heap may always grow by at least
// MinGCPercent of what is live before the next collection, and a
// collection of mostly pointer-free tables is cheap.
func GCPercentFor(live uint64) int {
	if live <= GCHeadroom {
		return 100
	}
	return max(MinGCPercent, int(uint64(GCHeadroom)*100/live))
}

var gcTuner struct {
	mu      sync.Mutex
	running bool
	gen     uint64 // bumped by stop: a hook of an older generation ends
	percent atomic.Int32
}

// StartGCTuner sets GOGC from the live heap after every collection
// (GCPercentFor), until stop is called, which restores Go's default. It is
// the process's policy, so the application starts it (otlink run, the
// bench), not New. It does nothing when the operator set GOGC.
func StartGCTuner() (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	gcTuner.mu.Lock()
	defer gcTuner.mu.Unlock()
	if gcTuner.running {
		return func() {}
	}
	gcTuner.running = true
	gen := gcTuner.gen
	tuneGC()
	armGCHook(gen)
	return func() {
		gcTuner.mu.Lock()
		defer gcTuner.mu.Unlock()
		if gcTuner.running && gcTuner.gen == gen {
			gcTuner.running = false
			gcTuner.gen++
			gcTuner.percent.Store(0)
			debug.SetGCPercent(100)
		}
	}
}

// GCPercent is the GOGC the tuner set last; 0 when it is not running.
func GCPercent() int { return int(gcTuner.percent.Load()) }

// armGCHook runs tuneGC after the next collection: the finalizer of an
// object nobody references runs once a collection has found it garbage.
func armGCHook(gen uint64) {
	s := new([16]byte) // not a tiny-alloc'd or zero-size object: those may never be finalized
	runtime.SetFinalizer(s, func(*[16]byte) {
		gcTuner.mu.Lock()
		defer gcTuner.mu.Unlock()
		if !gcTuner.running || gcTuner.gen != gen {
			return
		}
		tuneGC()
		armGCHook(gen)
	})
}

// tuneGC sets GOGC from the live heap as of the last collection, when it
// changes. The caller holds gcTuner.mu.
func tuneGC() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := GCPercentFor(s[0].Value.Uint64())
	if int32(p) != gcTuner.percent.Load() {
		debug.SetGCPercent(p)
		gcTuner.percent.Store(int32(p))
	}
}

package acquire

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
)

// The per-tag structures are what a 300,000-tag plant pays 300,000 times;
// a field added carelessly shows here first (see docs/architecture.md,
// Memory).
func TestPerTagSizes(t *testing.T) {
	if n := unsafe.Sizeof(tagDef{}); n != 32 {
		t.Errorf("tagDef is %d bytes, want 32", n)
	}
	if n := unsafe.Sizeof(tagState{}); n != 24 {
		t.Errorf("tagState is %d bytes, want 24", n)
	}
	if n := unsafe.Sizeof(tagRef{}); n != 8 {
		t.Errorf("tagRef is %d bytes, want 8", n)
	}
}

// A cycle with more samples than a part holds is published in parts with
// the cycle's Seq, numbered from 0, Missed on the first only, every
// sample exactly once and in tag order.
func TestPublishInParts(t *testing.T) {
	const n = 2*partSamples + 100
	f := newFakeDriver()
	dc := devCfg("d", "d:502", time.Hour)
	dc.Report = "all"
	dc.Budget.MaxInFlight = 3
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": regTags(n, 0, 1)}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	d := e.view.Load().devs[0]
	c := d.cls[0]
	d.link.Store(&link{conn: &fakeConn{d: f.dev("d:502")}, endpoint: "d:502"})
	ctx := context.Background()
	d.cycle(ctx, c, 2)
	d.cycle(ctx, c, 0)
	bs := sink.get("d/fast")
	if len(bs) != 6 {
		t.Fatalf("%d batches for two cycles of %d samples, want 6 (3 parts each)", len(bs), n)
	}
	for cyc := range 2 {
		seen := 0
		for p := range 3 {
			b := bs[cyc*3+p]
			if b.Seq != uint64(cyc+1) || b.Part != uint32(p) {
				t.Errorf("cycle %d part %d: Seq %d Part %d", cyc, p, b.Seq, b.Part)
			}
			wantMissed := uint64(0)
			if cyc == 0 && p == 0 {
				wantMissed = 2
			}
			if b.Missed != wantMissed {
				t.Errorf("cycle %d part %d: Missed %d, want %d", cyc, p, b.Missed, wantMissed)
			}
			if len(b.Samples) > partSamples {
				t.Errorf("part of %d samples, more than %d", len(b.Samples), partSamples)
			}
			for _, s := range b.Samples {
				if want := tagPath("d", "t"+strconv.Itoa(seen)); s.Tag != want {
					t.Fatalf("cycle %d sample %d is %s, want %s", cyc, seen, s.Tag, want)
				}
				if !s.Quality.IsGood() || s.Value.T != model.Uint16 || s.Source == 0 || s.Source != s.Server {
					t.Fatalf("sample %s: %+v", s.Tag, s)
				}
				seen++
			}
		}
		if seen != n {
			t.Errorf("cycle %d reported %d samples, want %d", cyc, seen, n)
		}
	}
}

// Parts are bounded in bytes too: long paths make smaller parts, so that
// no message outgrows a bus's payload limit.
func TestPartsBoundedInBytes(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", time.Hour)
	dc.Report = "all"
	tags := regTags(600, 0, 1)
	long := strings.Repeat("x", 2000)
	for i := range tags {
		tags[i].Name = long + strconv.Itoa(i)
	}
	sink := newRecSink()
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": tags}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	d := e.view.Load().devs[0]
	d.link.Store(&link{conn: &fakeConn{d: f.dev("d:502")}, endpoint: "d:502"})
	d.cycle(context.Background(), d.cls[0], 0)
	bs := sink.get("d/fast")
	total := 0
	for _, b := range bs {
		size := 0
		for _, s := range b.Samples {
			size += len(s.Tag) + sampleSize
		}
		if size > partBytes+len(b.Samples[len(b.Samples)-1].Tag)+sampleSize {
			t.Errorf("part %d: about %d bytes, limit %d", b.Part, size, partBytes)
		}
		total += len(b.Samples)
	}
	if len(bs) < 3 || total != len(tags) {
		t.Errorf("%d parts with %d samples; want at least 3 parts (600 paths of 2 kB) and %d samples", len(bs), total, len(tags))
	}
}

// A cycle in which nothing changed still publishes one (empty) batch, so
// that consumers see the cycle; a changed tag is reported once.
func TestPartsEmptyCycle(t *testing.T) {
	f := newFakeDriver()
	dc := devCfg("d", "d:502", time.Hour)
	sink := newRecSink()
	tags := append(regTags(10, 0, 1), config.Tag{Name: "broken", Address: "5", Type: "nonsense"})
	e, err := New(plantWith([]config.Device{dc}, map[string][]config.Tag{"d": tags}), testOpts(f, sink))
	if err != nil {
		t.Fatal(err)
	}
	d := e.view.Load().devs[0]
	fd := f.dev("d:502")
	d.link.Store(&link{conn: &fakeConn{d: fd}, endpoint: "d:502"})
	ctx := context.Background()
	d.cycle(ctx, d.cls[0], 0)
	d.cycle(ctx, d.cls[0], 0)
	fd.set(func(fd *fakeDev) { fd.regs[3]++ })
	d.cycle(ctx, d.cls[0], 0)
	bs := sink.get("d/fast")
	if len(bs) != 3 {
		t.Fatalf("%d batches, want 3", len(bs))
	}
	// The rejected tag is reported once, first, stamped with the cycle's start.
	if s := bs[0].Samples[0]; s.Tag != tagPath("d", "broken") || s.Quality != model.BadConfigurationError || s.Source != bs[0].Start || s.Code == 0 {
		t.Errorf("first sample %+v, want the rejected tag at %d", s, bs[0].Start)
	}
	if len(bs[0].Samples) != 11 || len(bs[1].Samples) != 0 || len(bs[2].Samples) != 1 || bs[2].Samples[0].Tag != tagPath("d", "t3") {
		t.Errorf("samples per cycle %d %d %v, want 11, 0 and t3", len(bs[0].Samples), len(bs[1].Samples), bs[2].Samples)
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {10 << 20, 100}, {GCHeadroom, 100}, {2 * GCHeadroom, 50}, {4 * GCHeadroom, MinGCPercent}, {1 << 30, MinGCPercent},
	} {
		if got := GCPercentFor(c.live); got != c.want {
			t.Errorf("GCPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The tuner follows the live heap after collections and restores Go's
// default when stopped.
func TestGCTuner(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: the tuner leaves it alone")
	}
	stop := StartGCTuner()
	big := make([]byte, 3*GCHeadroom) // live: the percent must fall
	for i := range 20 {
		runtime.GC()
		if p := GCPercent(); p > 0 && p < 100 {
			break
		}
		if i == 19 {
			t.Fatalf("GOGC %d with %d MiB live, want below 100", GCPercent(), len(big)>>20)
		}
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs the hook
	}
	runtime.KeepAlive(big)
	stop()
	if p := debug.SetGCPercent(100); p != 100 || GCPercent() != 0 {
		t.Errorf("after stop: GOGC %d, tuner %d; want 100 and 0", p, GCPercent())
	}
}

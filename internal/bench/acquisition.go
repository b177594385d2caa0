package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/acquire/coalesce"
	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/modbus" // the simulated devices speak Modbus
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

// AcquisitionOptions configure `otlink bench acquisition`.
type AcquisitionOptions struct {
	Devices  int           // simulated devices
	Tags     int           // tags in all, spread evenly over the devices
	Interval time.Duration // poll interval; 0 with Find searches for the fastest without overruns
	Duration time.Duration // measuring time of one run (after a warm-up cycle)
	MaxGap   int           // coalescing max gap in registers
	Find     bool          // search the shortest interval without overruns
	Dir      string        // scratch folder for the bus store; "" = a temporary one
	Progress io.Writer     // progress lines while searching; nil = none
	// AtEnd, when set, is called at the end of each measurement while
	// everything still runs (e.g. to write a heap profile).
	AtEnd func()
}

// AcquisitionResult is what one run measured. JSON keys are stable.
type AcquisitionResult struct {
	Devices                 int     `json:"devices"`
	Tags                    int     `json:"tags"`
	IntervalMS              float64 `json:"interval_ms"`
	DurationSec             float64 `json:"duration_sec"`
	Samples                 uint64  `json:"samples"`
	SamplesPerSec           float64 `json:"samples_per_sec"`
	RequestsPerSec          float64 `json:"requests_per_sec"`
	RequestsPerCycle        float64 `json:"requests_per_cycle"`
	NaiveRequestsPerCycle   float64 `json:"naive_requests_per_cycle"`
	OptimalRequestsPerCycle float64 `json:"optimal_requests_per_cycle"`
	Overruns                uint64  `json:"overruns"`
	LatencyP50MS            float64 `json:"latency_p50_ms"`
	LatencyP99MS            float64 `json:"latency_p99_ms"`
	CPUSecPerMillion        float64 `json:"cpu_sec_per_million"`
	RSSMB                   float64 `json:"rss_mb"`
	// Where the resident memory is, sampled during the measuring window:
	// private anonymous memory (heap, stacks: what the process itself
	// costs), file-backed pages (the binary's text and data, shared and
	// reclaimable; how much of the 75 MB binary is resident depends on the
	// kernel's page-cache folio sizes), and the Go heap live after the
	// last GC.
	RSSAnonPeakMB float64 `json:"rss_anon_peak_mb"`
	RSSFileMB     float64 `json:"rss_file_mb"`
	HeapLiveMB    float64 `json:"heap_live_mb"`
	GCPercent     int     `json:"gc_percent"` // GOGC at the end of the run (acquire.StartGCTuner); 0: the operator's GOGC
	BusAcked      uint64  `json:"bus_acked"`
	BusFailed     uint64  `json:"bus_failed"`
}

func (o *AcquisitionOptions) defaults() {
	if o.Devices <= 0 {
		o.Devices = 100
	}
	if o.Tags <= 0 {
		o.Tags = 300_000
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.MaxGap <= 0 {
		o.MaxGap = 16
	}
	if o.Interval <= 0 && !o.Find {
		o.Interval = time.Second
	}
}

// Acquisition runs the acquisition benchmark. With Find it halves the
// interval from 1s while the run has no overruns and delivers more, then
// bisects between the last good and the first failing interval, and
// returns the best run without overruns (and every run measured).
func Acquisition(ctx context.Context, o AcquisitionOptions) (AcquisitionResult, []AcquisitionResult, error) {
	o.defaults()
	if !o.Find {
		r, err := acquisitionRun(ctx, o, o.Interval)
		return r, []AcquisitionResult{r}, err
	}
	var all []AcquisitionResult
	var best AcquisitionResult
	try := func(iv time.Duration) (AcquisitionResult, bool, error) {
		r, err := acquisitionRun(ctx, o, iv)
		if err != nil {
			return r, false, err
		}
		all = append(all, r)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "interval %-8s samples/s %10.0f overruns %d p99 %.1f ms\n", iv, r.SamplesPerSec, r.Overruns, r.LatencyP99MS)
		}
		ok := r.Overruns == 0 && r.SamplesPerSec >= best.SamplesPerSec
		if ok {
			best = r
		}
		return r, ok, nil
	}
	// Halve the interval from 1s until a run overruns (or delivers less),
	// then bisect between the last good interval and the failing one.
	good, bad := time.Duration(0), time.Duration(0)
	iv := time.Second
	if o.Interval > 0 {
		iv = o.Interval
	}
	for i := 0; i < 8 && iv >= 10*time.Millisecond; i++ {
		_, ok, err := try(iv)
		if err != nil {
			return best, all, err
		}
		if !ok {
			bad = iv
			break
		}
		good = iv
		iv /= 2
	}
	for i := 0; i < 3 && good > 0 && bad > 0 && good-bad > 5*time.Millisecond; i++ {
		mid := (good + bad) / 2
		_, ok, err := try(mid)
		if err != nil {
			return best, all, err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	return best, all, nil
}

// layout returns the tag addresses of one bench device: uint16 and uint32
// tags from hr:1000 with a one-register gap after every 8 tags, so that
// coalescing has gaps to bridge and multi-register values to keep whole.
func layout(n int) (addr []uint32, types []model.Type, regs int) {
	a := uint32(sim.BenchBase)
	for i := 0; i < n; i++ {
		t := model.Uint16
		if i%4 == 3 {
			t = model.Uint32
		}
		addr = append(addr, a)
		types = append(types, t)
		a += uint32(t.Bits() / 16)
		if i%8 == 7 {
			a++
		}
	}
	return addr, types, int(a) - sim.BenchBase
}

func benchConfig(p *sim.Plant, perDev int, iv time.Duration, maxGap int) (*config.Config, []uint32, []model.Type) {
	addr, types, _ := layout(perDev)
	// Every device has the same layout, so every machine shares one slice
	// of tags: the bench measures the engine, and 300,000 config.Tag of 216
	// bytes (65 MB, which a real config file costs while it is loaded) would
	// make the start-up peak the config's. Tag.Path stays empty (the engine
	// derives each path from the hierarchy), so sharing is sound.
	tags := make([]config.Tag, perDev)
	for i := range tags {
		tags[i] = config.Tag{Name: fmt.Sprintf("t%d", i), Address: fmt.Sprintf("hr:%d", addr[i]), Type: types[i].String()}
	}
	cfg := &config.Config{Version: 1, Plant: config.Plant{Enterprise: "bench"}}
	line := config.Line{Name: "line1"}
	for _, d := range p.Devices() {
		dev := config.Device{
			Name: d.Name(), Driver: "modbus", Endpoint: "tcp://" + d.Addr(), Unit: 1,
			Timeout: config.Duration(2 * time.Second), Report: "all",
			Budget:   config.Budget{MaxInFlight: 4},
			Poll:     []config.PollClass{{Name: "fast", Interval: config.Duration(iv)}},
			Coalesce: config.Coalesce{MaxGap: maxGap},
		}
		cfg.Devices = append(cfg.Devices, dev)
		m := config.Machine{Name: d.Name(), Device: d.Name(), Tags: tags}
		line.Machines = append(line.Machines, m)
	}
	// Defaults before the plant is attached: they would write each
	// machine's paths into the shared tags.
	config.Defaults(cfg)
	cfg.Plant.Sites = []config.Site{{Name: "site", Areas: []config.Area{{Name: "area", Lines: []config.Line{line}}}}}
	return cfg, addr, types
}

// optimalReads is the optimum for one device, from the coalescing planner
// with the protocol's limits and no learned limit.
func optimalReads(addr []uint32, types []model.Type, maxGap int) int {
	spans := make([]coalesce.Span, len(addr))
	for i := range addr {
		spans[i] = coalesce.Span{Start: addr[i], Count: uint32(types[i].Bits() / 16)}
	}
	reads, err := coalesce.Plan(spans, 125, uint32(maxGap))
	if err != nil {
		return -1
	}
	return len(reads)
}

// latencySink hands batches to the bus and records poll-to-bus latency:
// from the cycle's start to the batch being accepted by the bus.
type latencySink struct {
	bus     *bus.Bus
	samples atomic.Uint64
	mu      sync.Mutex
	lat     []time.Duration
	measure atomic.Bool
}

func (s *latencySink) PublishBatch(ctx context.Context, b *model.Batch) error {
	if err := s.bus.PublishBatch(ctx, b); err != nil {
		return err
	}
	if s.measure.Load() {
		d := time.Duration(time.Now().UnixNano() - b.Start)
		s.samples.Add(uint64(len(b.Samples)))
		s.mu.Lock()
		if len(s.lat) < 1_000_000 {
			s.lat = append(s.lat, d)
		}
		s.mu.Unlock()
	}
	return nil
}

func acquisitionRun(ctx context.Context, o AcquisitionOptions, iv time.Duration) (AcquisitionResult, error) {
	res := AcquisitionResult{Devices: o.Devices, Tags: o.Tags, IntervalMS: float64(iv) / 1e6}
	perDev := o.Tags / o.Devices
	if perDev < 1 {
		perDev = 1
	}
	_, _, regs := layout(perDev)
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "otlink-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	plant, err := sim.Start(ctx, sim.PlantConfig{Lines: 1, Machines: o.Devices, Bench: regs, Seed: 1})
	if err != nil {
		return res, err
	}
	defer plant.Close()
	cfg, addr, types := benchConfig(plant, perDev, iv, o.MaxGap)
	cfg.Data = dir
	if err := config.Validate(cfg); err != nil {
		return res, err
	}
	b, err := bus.Open(ctx, bus.Options{Listen: "127.0.0.1:0", MQTT: "off", DataDir: filepath.Join(dir, "bus"), Logger: quiet})
	if err != nil {
		return res, err
	}
	defer b.Close()
	sink := &latencySink{bus: b}
	eng, err := acquire.New(cfg, acquire.Options{Sink: sink, Logger: quiet, DataDir: filepath.Join(dir, "acquire")})
	if err != nil {
		return res, err
	}
	cfg = nil // the engine keeps what it needs; let the config go
	// Return the config and the start-up garbage to the OS now, as
	// otlink run does (app.Start): it cannot lower a peak already reached,
	// but the steady RSS no longer carries pages the heap will not reuse soon.
	debug.FreeOSMemory()
	// The GC headroom otlink run uses for the engine's size (see
	// acquire.StartGCTuner); stopped after the run, which may be one of several.
	stopGC := acquire.StartGCTuner()
	defer stopGC()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	// Warm up: connections, the first cycles, JIT of the page cache.
	warm := 2 * iv
	if warm < time.Second {
		warm = time.Second
	}
	select {
	case <-time.After(warm):
	case err := <-done:
		return res, err
	}
	h0 := eng.Health()
	bs0 := b.Stats()
	cpu0 := cpuTime()
	t0 := time.Now()
	sink.measure.Store(true)
	var mem memSampler
	mem.run(ctx, o.Duration, 200*time.Millisecond)
	sink.measure.Store(false)
	el := time.Since(t0)
	if o.AtEnd != nil {
		o.AtEnd()
	}
	cpu1 := cpuTime()
	h1 := eng.Health()
	bs1 := b.Stats()
	cancel()
	<-done

	var reqs, over uint64
	for i := range h1 {
		reqs += h1[i].Requests - h0[i].Requests
		over += h1[i].Overruns - h0[i].Overruns
	}
	n := sink.samples.Load()
	res.DurationSec = el.Seconds()
	res.Samples = n
	res.SamplesPerSec = float64(n) / el.Seconds()
	res.RequestsPerSec = float64(reqs) / el.Seconds()
	// Requests per cycle: the reads each device's plan makes per cycle (as
	// planned now, learned limits included), averaged over devices; counting
	// requests and cycles in the window would miscount cycles cut by its ends.
	planned := 0
	for i := range h1 {
		for _, pc := range h1[i].PollClasses {
			planned += pc.Reads
		}
	}
	if len(h1) > 0 {
		res.RequestsPerCycle = float64(planned) / float64(len(h1))
	}
	res.NaiveRequestsPerCycle = float64(perDev)
	res.OptimalRequestsPerCycle = float64(optimalReads(addr, types, o.MaxGap))
	res.Overruns = over
	res.BusAcked = bs1.Acked - bs0.Acked
	res.BusFailed = bs1.Failed - bs0.Failed
	sink.mu.Lock()
	lat := sink.lat
	sink.mu.Unlock()
	res.LatencyP50MS, res.LatencyP99MS = percentile(lat, 0.50), percentile(lat, 0.99)
	if n > 0 {
		res.CPUSecPerMillion = (cpu1 - cpu0).Seconds() / (float64(n) / 1e6)
	}
	res.RSSMB = peakRSSMB()
	res.GCPercent = acquire.GCPercent()
	res.RSSAnonPeakMB, res.RSSFileMB, res.HeapLiveMB = mem.anonPeak, mem.file, mem.heapLive
	return res, nil
}

// memSampler records where resident memory is while a run measures.
type memSampler struct{ anonPeak, file, heapLive float64 }

// run samples every step for d (or until ctx ends).
func (m *memSampler) run(ctx context.Context, d, step time.Duration) {
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(step)
	defer tick.Stop()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for {
		anon, file := procRSS()
		if anon > m.anonPeak {
			m.anonPeak, m.file = anon, file
		}
		metrics.Read(live)
		if v := float64(live[0].Value.Uint64()) / (1 << 20); v > m.heapLive {
			m.heapLive = v
		}
		select {
		case <-end.C:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// procRSS reads RssAnon and RssFile (MiB) from /proc/self/status; zeros
// where there is no /proc.
func procRSS() (anon, file float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "RssAnon" && k != "RssFile") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if k == "RssAnon" {
			anon = kb / 1024
		} else {
			file = kb / 1024
		}
	}
	return anon, file
}

func percentile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))]) / 1e6
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB is the process's peak resident set (Linux reports KiB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

package acquire

import (
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// TagValue is the latest value of one tag.
type TagValue struct {
	Path    string        `json:"path"`
	Value   model.Value   `json:"value"`
	Quality model.Quality `json:"quality"`
	Code    uint16        `json:"code,omitempty"`
	Time    int64         `json:"time"` // Unix ns of the reply; 0 when never read
	Unit    string        `json:"unit,omitempty"`
}

// ErrorInfo is a device's last error.
type ErrorInfo struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// PollClassHealth is a poll class as it runs.
type PollClassHealth struct {
	Name      string  `json:"name"`
	Interval  float64 `json:"interval_ms"`  // configured
	Effective float64 `json:"effective_ms"` // after the poll floor
	Floored   bool    `json:"floored"`      // runs slower than configured because of the floor
	Reads     int     `json:"reads"`        // block reads per cycle, as planned now
	Tags      int     `json:"tags"`
}

// DeviceHealth is what the engine knows about a device's state.
type DeviceHealth struct {
	Name          string            `json:"name"`
	Driver        string            `json:"driver"`
	Endpoint      string            `json:"endpoint"` // active endpoint
	OnBackup      bool              `json:"on_backup"`
	Connected     bool              `json:"connected"`
	LastError     *ErrorInfo        `json:"last_error,omitempty"`
	RTTP50        float64           `json:"rtt_p50_ms"`
	RTTP99        float64           `json:"rtt_p99_ms"`
	Requests      uint64            `json:"requests"`
	Errors        uint64            `json:"errors"`
	Overruns      uint64            `json:"overruns"`
	Cycles        uint64            `json:"cycles"`
	Samples       uint64            `json:"samples"`
	LearnedLimits map[string]uint32 `json:"learned_limits,omitempty"` // by space name
	Identity      *driver.Identity  `json:"identity,omitempty"`
	PollClasses   []PollClassHealth `json:"poll_classes"`
}

// rttBuckets are the upper bounds of the RTT histogram in milliseconds.
var rttBuckets = [...]float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, math.Inf(1)}

// histogram is a fixed-bucket RTT histogram: lock-free to observe, and
// quantiles are read as the upper bound of the bucket they fall in.
type histogram struct {
	counts [len(rttBuckets)]atomic.Uint64
	sumNs  atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := sort.SearchFloat64s(rttBuckets[:], ms)
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

func (h *histogram) snapshot() (counts [len(rttBuckets)]uint64, total uint64) {
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	return
}

// quantile returns the upper bound (ms) of the bucket holding quantile q;
// the last, open bucket reports the largest finite bound.
func (h *histogram) quantile(q float64) float64 {
	counts, total := h.snapshot()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var cum uint64
	for i, c := range counts {
		cum += c
		if cum >= rank {
			if math.IsInf(rttBuckets[i], 1) {
				return rttBuckets[i-1]
			}
			return rttBuckets[i]
		}
	}
	return rttBuckets[len(rttBuckets)-2]
}

type devStats struct {
	requests, errors, overruns, cycles, samples, sinkErrors atomic.Uint64
	connected                                               atomic.Bool
	rtt                                                     histogram
	identity                                                atomic.Pointer[driver.Identity]

	emu    sync.Mutex
	last   *ErrorInfo
	byCode map[uint16]uint64
	logged map[uint16]time.Time
}

func (s *devStats) init() {
	s.byCode = map[uint16]uint64{}
	s.logged = map[uint16]time.Time{}
}

// noteError counts err by code and keeps it as the last error. It reports
// whether the error should be logged: once a minute per code, so a dead
// device cannot flood the log.
func (s *devStats) noteError(err error, now time.Time) bool {
	s.errors.Add(1)
	c := uint16(errcode.Of(err))
	s.emu.Lock()
	defer s.emu.Unlock()
	s.byCode[c]++
	code := ""
	if c != 0 {
		code = errcode.Code(c).String()
	}
	s.last = &ErrorInfo{Code: code, Message: err.Error(), Time: now}
	if t, ok := s.logged[c]; ok && now.Sub(t) < time.Minute {
		return false
	}
	s.logged[c] = now
	return true
}

func (s *devStats) errorsByCode() map[uint16]uint64 {
	s.emu.Lock()
	defer s.emu.Unlock()
	out := make(map[uint16]uint64, len(s.byCode))
	for k, v := range s.byCode {
		out[k] = v
	}
	return out
}

// Health returns the state of every device, sorted by name.
func (e *Engine) Health() []DeviceHealth {
	v := e.view.Load()
	out := make([]DeviceHealth, 0, len(v.devs))
	for _, d := range v.devs {
		out = append(out, d.health())
	}
	return out
}

func (d *device) health() DeviceHealth {
	l := d.link.Load()
	h := DeviceHealth{
		Name: d.p.cfg.Name, Driver: d.p.cfg.Driver, Endpoint: l.endpoint,
		OnBackup:  d.p.cfg.Backup != "" && l.endpoint == d.p.cfg.Backup,
		Connected: l.conn != nil,
		RTTP50:    d.stats.rtt.quantile(0.5), RTTP99: d.stats.rtt.quantile(0.99),
		Requests: d.stats.requests.Load(), Errors: d.stats.errors.Load(),
		Overruns: d.stats.overruns.Load(), Cycles: d.stats.cycles.Load(), Samples: d.stats.samples.Load(),
		Identity: d.stats.identity.Load(),
	}
	d.stats.emu.Lock()
	if d.stats.last != nil {
		le := *d.stats.last
		h.LastError = &le
	}
	d.stats.emu.Unlock()
	d.lmu.Lock()
	if len(d.learned) > 0 {
		h.LearnedLimits = map[string]uint32{}
		for s, n := range d.learned {
			h.LearnedLimits[d.p.drv.SpaceName(s)] = n
		}
	}
	d.lmu.Unlock()
	for _, c := range d.cls {
		c.mu.RLock()
		reads := len(c.reads)
		c.mu.RUnlock()
		h.PollClasses = append(h.PollClasses, PollClassHealth{Name: c.def.name,
			Interval: ms(c.def.interval), Effective: ms(c.def.effective), Floored: c.def.effective != c.def.interval,
			Reads: reads, Tags: len(c.def.tags)})
	}
	return h
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Snapshot returns the latest value of every tag, including tags never read
// yet (BadWaitingForInitialData), device by device in name order.
func (e *Engine) Snapshot() []TagValue { return e.SnapshotInto(nil) }

// SnapshotInto is Snapshot appending to dst[:0], so that a caller polling
// often (a UI at 10 Hz) reuses one slice. It takes each poll class's lock
// only while copying that class's tags, never a global one.
func (e *Engine) SnapshotInto(dst []TagValue) []TagValue {
	dst = dst[:0]
	for _, d := range e.view.Load().devs {
		for _, c := range d.cls {
			c.mu.RLock()
			for _, ti := range c.def.tags {
				dst = append(dst, d.tagValue(ti))
			}
			c.mu.RUnlock()
		}
		for i := range d.p.tags {
			if d.p.tags[i].bad {
				dst = append(dst, d.tagValue(uint32(i)))
			}
		}
	}
	return dst
}

// tagValue is tag ti's latest value. The caller holds the mu of the tag's
// class, unless the tag is bad (never updated).
func (d *device) tagValue(ti uint32) TagValue {
	td, st := &d.p.tags[ti], &d.st[ti]
	tv := TagValue{Path: d.p.path(td), Value: d.value(d.cls[td.class], ti), Quality: st.q, Code: st.code, Time: st.t}
	if x := d.p.extra(td); x != nil {
		tv.Unit = x.unit
	}
	return tv
}

func spaceKey(s uint32) string { return strconv.FormatUint(uint64(s), 10) }

package lossy

import (
	"fmt"
	"math"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Duration is a time.Duration written as "500ms", "10m", "8h" in JSON and
// YAML. It is declared here, not taken from config, so that config can
// embed Settings without an import cycle.
type Duration time.Duration

// MarshalText writes the duration as Go's time.Duration.String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "10s", "5m", "8h" or "1d" (days of 24 h).
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days float64
		if _, err := fmt.Sscanf(s[:n-1], "%g", &days); err == nil {
			*d = Duration(days * float64(24*time.Hour))
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errcode.Wrap(errcode.LossySettings, err, "read duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// Settings are one tag's lossy compression settings. The zero value keeps
// every sample. Deviations are in the tag's engineering units.
type Settings struct {
	// ExcDev turns the exception test on when > 0: a sample is reported
	// when it differs from the last reported one by more than ExcDev.
	ExcDev float64 `json:"exc_dev,omitempty" yaml:"exc_dev,omitempty"`
	// ExcMin is the least time between two reported samples; faster
	// exceptions are dropped (this breaks the ExcDev guarantee).
	ExcMin Duration `json:"exc_min,omitempty" yaml:"exc_min,omitempty"`
	// ExcMax reports a sample when this long has passed since the last
	// reported one, even without a change; 0 means never.
	ExcMax Duration `json:"exc_max,omitempty" yaml:"exc_max,omitempty"`
	// CompDev turns swinging-door compression on when > 0: the samples
	// kept are those needed for linear interpolation between them to stay
	// within CompDev of every sample.
	CompDev float64 `json:"comp_dev,omitempty" yaml:"comp_dev,omitempty"`
	// CompMin is the least time between two kept samples; a door that
	// closes sooner is held open (this breaks the CompDev guarantee).
	CompMin Duration `json:"comp_min,omitempty" yaml:"comp_min,omitempty"`
	// CompMax keeps a sample when this long has passed since the last kept
	// one; 0 means never (plant historians often use 8h).
	CompMax Duration `json:"comp_max,omitempty" yaml:"comp_max,omitempty"`
}

// IsZero reports whether s keeps every sample.
func (s Settings) IsZero() bool { return s.ExcDev <= 0 && s.CompDev <= 0 }

// Validate reports settings that make no sense.
func (s Settings) Validate() error {
	switch {
	case s.ExcDev < 0 || s.CompDev < 0 || math.IsNaN(s.ExcDev) || math.IsNaN(s.CompDev) ||
		math.IsInf(s.ExcDev, 0) || math.IsInf(s.CompDev, 0):
		return errcode.New(errcode.LossySettings, "deviations exc_dev %v, comp_dev %v: must be finite and ≥ 0", s.ExcDev, s.CompDev)
	case s.ExcMin < 0 || s.ExcMax < 0 || s.CompMin < 0 || s.CompMax < 0:
		return errcode.New(errcode.LossySettings, "times must be ≥ 0")
	case s.ExcMax > 0 && s.ExcMin > s.ExcMax:
		return errcode.New(errcode.LossySettings, "exc_min %v above exc_max %v", time.Duration(s.ExcMin), time.Duration(s.ExcMax))
	case s.CompMax > 0 && s.CompMin > s.CompMax:
		return errcode.New(errcode.LossySettings, "comp_min %v above comp_max %v", time.Duration(s.CompMin), time.Duration(s.CompMax))
	}
	return nil
}

// String is a short form for responses and logs: "excdev=0.5 compdev=1 compmax=8h0m0s".
func (s Settings) String() string {
	out := ""
	add := func(k string, v any, on bool) {
		if on {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s=%v", k, v)
		}
	}
	add("excdev", s.ExcDev, s.ExcDev > 0)
	add("excmin", time.Duration(s.ExcMin), s.ExcDev > 0 && s.ExcMin > 0)
	add("excmax", time.Duration(s.ExcMax), s.ExcDev > 0 && s.ExcMax > 0)
	add("compdev", s.CompDev, s.CompDev > 0)
	add("compmin", time.Duration(s.CompMin), s.CompDev > 0 && s.CompMin > 0)
	add("compmax", time.Duration(s.CompMax), s.CompDev > 0 && s.CompMax > 0)
	if out == "" {
		return "lossless"
	}
	return out
}

// Filter decides which samples of one tag are kept. It is not safe for
// concurrent use; run one per tag.
type Filter struct {
	s    Settings
	exc  exception
	door door
	out  []model.Sample
}

// New returns a Filter for one tag. Invalid settings are the caller's to
// reject with Validate; New clamps them to "off".
func New(s Settings) *Filter {
	if s.Validate() != nil {
		s = Settings{}
	}
	f := &Filter{s: s}
	f.exc.s, f.door.s = &f.s, &f.s
	return f
}

// Settings returns the filter's settings.
func (f *Filter) Settings() Settings { return f.s }

// Offer gives the filter the next sample of its tag, in source time order,
// and returns the samples to store now (often none, at most three). The
// returned slice is reused by the next call.
func (f *Filter) Offer(s model.Sample) []model.Sample {
	f.out = f.out[:0]
	if f.s.ExcDev <= 0 {
		f.toDoor(s)
		return f.out
	}
	var buf [2]model.Sample
	for _, e := range f.exc.offer(s, buf[:0]) {
		f.toDoor(e)
	}
	return f.out
}

func (f *Filter) toDoor(s model.Sample) {
	if f.s.CompDev <= 0 {
		f.out = append(f.out, s)
		return
	}
	f.out = f.door.offer(s, f.out)
}

// Flush returns the samples held back (the last one seen by each stage)
// and resets the filter, as at shutdown or before a tag is reconfigured.
func (f *Filter) Flush() []model.Sample {
	f.out = f.out[:0]
	if f.s.ExcDev > 0 {
		if h, ok := f.exc.flush(); ok {
			f.toDoor(h)
		}
	}
	if f.s.CompDev > 0 {
		f.out = f.door.flush(f.out)
	}
	return f.out
}

// numeric returns s's value as a number when it can be compared by
// deviation: a good or uncertain sample of a numeric or bool type, not NaN.
func numeric(s model.Sample) (float64, bool) {
	if s.Quality.IsBad() || !s.Value.IsValid() || s.Value.T == model.String {
		return 0, false
	}
	v := s.Value.Float()
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

// exception is the exception test: it reports a sample when it differs
// from the last reported one by more than ExcDev (any change for bool and
// string), when its quality differs, or when ExcMax has passed. Like PI it
// also reports the sample before an exception when that one was not
// reported, so a ramp starts where it really started.
type exception struct {
	s        *Settings
	last     model.Sample // last reported
	held     model.Sample // last offered, not reported
	have     bool
	haveHeld bool
}

func (e *exception) offer(s model.Sample, out []model.Sample) []model.Sample {
	if !e.have {
		e.last, e.have, e.haveHeld = s, true, false
		return append(out, s)
	}
	report := false
	v, okv := numeric(s)
	l, okl := numeric(e.last)
	switch {
	case s.Quality.IsBad() || s.Quality != e.last.Quality:
		report = true
	case !okv || !okl:
		report = s.Value != e.last.Value // strings, NaN: any change
	case s.Value.T == model.Bool || s.Value.T != e.last.Value.T:
		report = s.Value != e.last.Value
	default:
		report = math.Abs(v-l) > e.s.ExcDev
	}
	dt := s.Source - e.last.Source
	if !report && e.s.ExcMax > 0 && dt >= int64(e.s.ExcMax) {
		report = true
	}
	if report && e.s.ExcMin > 0 && dt < int64(e.s.ExcMin) && s.Quality == e.last.Quality && !s.Quality.IsBad() {
		report = false // too soon: dropped, as ExcMin asks
	}
	if !report {
		e.held, e.haveHeld = s, true
		return out
	}
	if e.haveHeld && e.held.Source > e.last.Source {
		out = append(out, e.held)
	}
	e.last, e.haveHeld = s, false
	return append(out, s)
}

func (e *exception) flush() (model.Sample, bool) {
	h, ok := e.held, e.haveHeld && e.have && e.held.Source > e.last.Source
	*e = exception{s: e.s}
	return h, ok
}

// door is swinging-door compression. a is the last kept sample, h the
// held one (the candidate end of the current segment), and [lo, hi] the
// slopes from a that pass within CompDev of every sample after a up to h.
// A new sample p continues the segment when its slope from a lies in
// [lo, hi]; then the line a→p passes within CompDev of every sample
// between them. Otherwise the door closes: h is kept and becomes a.
type door struct {
	s      *Settings
	a, h   model.Sample
	av     float64
	haveA  bool
	haveH  bool
	lo, hi float64
}

func (d *door) band(p model.Sample, v float64) (lo, hi float64) {
	dt := float64(p.Source - d.a.Source)
	return (v - d.s.CompDev - d.av) / dt, (v + d.s.CompDev - d.av) / dt
}

func (d *door) keep(p model.Sample, out []model.Sample) []model.Sample {
	d.a, d.haveA, d.haveH = p, true, false
	d.av, _ = numeric(p)
	return append(out, p)
}

func (d *door) offer(p model.Sample, out []model.Sample) []model.Sample {
	v, ok := numeric(p)
	_, aok := numeric(d.a)
	if !d.haveA || !ok || !aok || p.Quality != d.a.Quality || p.Value.T != d.a.Value.T ||
		p.Value.T == model.Bool || p.Source <= d.a.Source {
		// Not compressible, or the start of a new run: keep what is held
		// and this sample.
		if d.haveH {
			out = append(out, d.h)
		}
		return d.keep(p, out)
	}
	if !d.haveH {
		d.h, d.haveH = p, true
		d.lo, d.hi = d.band(p, v)
		return out
	}
	dt := p.Source - d.a.Source
	slope := (v - d.av) / float64(dt)
	closes := slope < d.lo || slope > d.hi
	if d.s.CompMax > 0 && dt > int64(d.s.CompMax) {
		closes = true
	}
	if closes && d.s.CompMin > 0 && dt < int64(d.s.CompMin) {
		closes = false // held open, as CompMin asks
	}
	if closes {
		out = d.keep(d.h, out)
		if p.Source <= d.a.Source { // same time as the kept sample
			return d.keep(p, out)
		}
		d.h, d.haveH = p, true
		d.lo, d.hi = d.band(p, v)
		return out
	}
	d.h = p
	lo, hi := d.band(p, v)
	d.lo, d.hi = max(d.lo, lo), min(d.hi, hi)
	return out
}

func (d *door) flush(out []model.Sample) []model.Sample {
	if d.haveH {
		out = append(out, d.h)
	}
	*d = door{s: d.s}
	return out
}

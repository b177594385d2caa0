package acquire

import (
	"context"
	"math"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// WriteEvent is one write attempt, for the audit log. Code is 0 when the
// write was done.
type WriteEvent struct {
	Time     time.Time   `json:"time"`
	Device   string      `json:"device"`
	Path     string      `json:"path"`
	Value    model.Value `json:"value"` // as asked, in engineering units
	Raw      model.Value `json:"raw"`   // as sent, after inverse scaling; invalid when refused before
	Accepted bool        `json:"accepted"`
	Code     string      `json:"code,omitempty"`
	Error    string      `json:"error,omitempty"`
}

// Write writes v (in engineering units) to the tag at path, governed: the
// tag must be writable, v within its limits (min, max, and max_step from
// the current value), the tag's min_interval since its previous write
// passed, and the device connected through a driver that writes. The
// request passes the device's gate like any read, so the budget holds. The
// tag is read back and reported on its next cycle. Every attempt, refused
// or not, is passed to Options.OnWrite.
func (e *Engine) Write(ctx context.Context, path string, v model.Value) error {
	ev := WriteEvent{Time: e.opts.Now(), Path: path, Value: v}
	err := e.write(ctx, path, v, &ev)
	if err != nil {
		ev.Code, ev.Error = errcode.Of(err).String(), err.Error()
	} else {
		ev.Accepted = true
	}
	if e.opts.OnWrite != nil {
		e.opts.OnWrite(ctx, ev)
	}
	return err
}

func (e *Engine) write(ctx context.Context, path string, v model.Value, ev *WriteEvent) error {
	vw := e.view.Load()
	ref, ok := vw.lookup(path)
	if !ok {
		return errcode.New(errcode.AcquireWriteUnknownTag, "write %s: no such tag", path)
	}
	d, ti := vw.devs[ref.dev], ref.idx
	td := &d.p.tags[ti]
	ev.Device = d.p.cfg.Name
	x := d.p.extra(td)
	if x == nil || !x.writable {
		return errcode.New(errcode.AcquireWriteNotWritable, "write %s: tag is not writable", path)
	}
	if td.bad {
		return errcode.Wrap(errcode.AcquireWriteNotWritable, d.p.bad[ti], "write %s: tag is not resolved", path)
	}
	pt := d.p.point(td)
	if !v.IsValid() || (pt.Type == model.String) != (v.T == model.String) {
		return errcode.New(errcode.AcquireWriteType, "write %s: a %s value does not fit a %s tag", path, v.T, pt.Type)
	}
	if x.hasLimits && v.T.IsNumeric() {
		lim := &x.limits
		f := v.Float()
		if math.IsNaN(f) || f < lim.Min || f > lim.Max {
			return errcode.New(errcode.AcquireWriteOutOfLimits, "write %s: %s is outside the limits %g..%g", path, v, lim.Min, lim.Max)
		}
		if lim.MaxStep > 0 {
			c := d.cls[td.class]
			c.mu.RLock()
			cur, q := d.value(c, ti), d.st[ti].q
			c.mu.RUnlock()
			if q.IsBad() || !cur.IsValid() {
				return errcode.New(errcode.AcquireWriteStep, "write %s: the current value is unknown (%s), so the step cannot be checked", path, q)
			}
			if step := math.Abs(f - cur.Float()); step > lim.MaxStep {
				return errcode.New(errcode.AcquireWriteStep, "write %s: step %g from %s exceeds max_step %g", path, step, cur, lim.MaxStep)
			}
		}
	}
	raw, err := rawValue(td, d.p.extra(td), v)
	if err != nil {
		return errcode.Wrap(errcode.AcquireWriteOutOfLimits, err, "write %s", path)
	}
	ev.Raw = raw
	l := d.link.Load()
	if l.conn == nil {
		return errcode.New(errcode.AcquireWriteNotConnected, "write %s: device %s is not connected", path, d.p.cfg.Name)
	}
	w, ok := l.conn.(driver.Writer)
	if !ok {
		return errcode.New(errcode.AcquireWriteUnsupported, "write %s: driver %s cannot write", path, d.p.cfg.Driver)
	}
	// The interval is claimed before the request, so that two concurrent
	// writes cannot both pass it.
	d.wmu.Lock()
	now := time.Now()
	if lim := &x.limits; x.hasLimits && lim.MinInterval > 0 {
		if last, ok := d.lastWrite[ti]; ok && now.Sub(last) < lim.MinInterval.D() {
			d.wmu.Unlock()
			return errcode.New(errcode.AcquireWriteTooFast, "write %s: %s since the previous write, min_interval is %s", path, now.Sub(last).Round(time.Millisecond), lim.MinInterval.D())
		}
	}
	d.lastWrite[ti] = now
	d.wmu.Unlock()

	if err := d.gate.acquire(ctx); err != nil {
		return errcode.Wrap(errcode.AcquireWriteFailed, err, "write %s", path)
	}
	wctx, cancel := context.WithTimeout(ctx, d.p.cfg.Timeout.D())
	err = w.Write(wctx, pt, raw)
	cancel()
	d.gate.release()
	d.stats.requests.Add(1)
	if err != nil {
		d.stats.noteError(err, d.now())
		return errcode.Wrap(errcode.AcquireWriteFailed, err, "write %s on %s", path, d.p.cfg.Name)
	}
	c := d.cls[td.class]
	c.mu.Lock()
	d.st[ti].flags |= stForce
	c.mu.Unlock()
	return nil
}

// rawValue converts an engineering value to the tag's raw type, undoing
// the scaling, and checks that the raw type can hold it.
func rawValue(td *tagDef, x *tagExtra, v model.Value) (model.Value, error) {
	t := td.typ
	switch {
	case t == model.String:
		return v, nil
	case t == model.Bool:
		return model.BoolValue(v.Bool()), nil
	}
	f := v.Float()
	if x != nil && x.scaled {
		if x.gain == 0 {
			return model.Value{}, errcode.New(errcode.AcquireWriteOutOfLimits, "scale gain is 0: the raw value cannot be computed")
		}
		f = (f - x.offset) / x.gain
	}
	if t.IsFloat() {
		return model.FloatValue(t, f), nil
	}
	f = math.Round(f)
	bits := t.Bits()
	if t.IsSigned() {
		lo, hi := -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)-1
		if f < lo || f > hi {
			return model.Value{}, errcode.New(errcode.AcquireWriteOutOfLimits, "raw value %g does not fit %s", f, t)
		}
		return model.IntValue(t, int64(f)), nil
	}
	if f < 0 || f > math.Ldexp(1, bits)-1 {
		return model.Value{}, errcode.New(errcode.AcquireWriteOutOfLimits, "raw value %g does not fit %s", f, t)
	}
	return model.UintValue(t, uint64(f)), nil
}

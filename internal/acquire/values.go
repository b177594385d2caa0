package acquire

import (
	"math"

	"github.com/otlink/otlink/internal/model"
)

// update sets tag ti's latest value and marks it to be reported (polled
// devices) or appends a sample to the class's batch (pushing devices) when
// it is to be reported. The caller holds c.mu, which also guards
// c.batch.Samples.
//
// A value is reported when it is the tag's first, when its quality or code
// changed (a quality change is always a change), after a write (read
// back), and otherwise by the device's report mode: "all" reports every
// good or uncertain sample, "change" (the default) only a changed value,
// where numbers with a deadband change only when they move by more than
// the deadband from the last reported value. Bad samples are reported on
// change only, in both modes, so a dead device does not flood the bus.
//
// The state keeps the latest value only, not the last reported one as
// well: without a deadband they are the same whenever it matters (an
// unreported value equals the reported one, and the quality and code
// never differ from the reported ones), and with a deadband only the
// reported number is needed (device.rf).
func (d *device) update(c *classRun, ti uint32, v model.Value, q model.Quality, code uint16, now int64) {
	td := &d.p.tags[ti]
	st := &d.st[ti]
	x := d.p.extra(td)
	if !q.IsBad() && x != nil {
		if x.scaled {
			v = model.FloatValue(model.Float64, v.Float()*x.gain+x.offset)
		}
		if x.hasRange && v.T.IsNumeric() {
			if f := v.Float(); f < x.rmin || f > x.rmax {
				q = model.UncertainEngineeringUnitsExceeded
			}
		}
	}
	bits := packValue(v)
	deadband := x != nil && x.deadband > 0 && v.T.IsNumeric()
	changed := st.flags&stReported == 0 || st.flags&stForce != 0 || q != st.q || code != st.code
	if !changed && !q.IsBad() {
		switch {
		case d.p.reportAll:
			changed = true
		case deadband:
			// The last report was good (the quality did not change), so rf holds it.
			a := v.Float()
			rf := d.rf[ti]
			if math.IsNaN(a) || math.IsNaN(rf) {
				changed = math.Float64bits(a) != math.Float64bits(rf)
			} else {
				changed = math.Abs(a-rf) > x.deadband
			}
		case v.T == model.String:
			changed = st.vt != v.T || c.strs[ti] != v.Str()
		default:
			changed = st.vt != v.T || st.bits != bits
		}
	}
	st.bits, st.vt, st.q, st.code, st.t = bits, v.T, q, code, now
	if v.T == model.String {
		if c.strs == nil {
			c.strs = map[uint32]string{}
		}
		c.strs[ti] = v.Str()
	} else if td.typ == model.String {
		delete(c.strs, ti)
	}
	if !changed {
		return
	}
	st.flags = (st.flags | stReported) &^ stForce
	if deadband {
		d.rf[ti] = v.Float()
	}
	if !d.p.push {
		// Polled: the sample is built from the state when the cycle is
		// published (publish), in parts of bounded size, so a class keeps
		// no batch of its own (72 bytes a tag with report: all). A tag is
		// read once a cycle, so its latest value is the one to report.
		st.flags |= stPending
		return
	}
	// Pushed: every value that arrives between two ticks is reported, so
	// each is kept as it comes.
	c.batch.Samples = append(c.batch.Samples, model.Sample{Tag: d.p.path(td), Value: v, Quality: q, Source: now, Server: now, Code: code})
}

// sampleOf is tag ti's latest state as a sample. The caller holds c.mu.
func (d *device) sampleOf(c *classRun, ti uint32) model.Sample {
	st := &d.st[ti]
	return model.Sample{Tag: d.p.path(&d.p.tags[ti]), Value: d.value(c, ti), Quality: st.q, Code: st.code, Source: st.t, Server: st.t}
}

// packValue keeps the number of v in 8 bytes (the type is kept apart, and
// a string's text in classRun.strs): a model.Value is 32 bytes, and every
// tag has one.
func packValue(v model.Value) uint64 {
	switch t := v.T; {
	case t.IsFloat():
		return math.Float64bits(v.Float())
	case t.IsSigned():
		return uint64(v.Int())
	case t == model.Bool, t.IsUnsigned():
		return v.Uint()
	}
	return 0
}

// unpackValue is the inverse of packValue; s is the text of a string.
func unpackValue(t model.Type, bits uint64, s string) model.Value {
	switch {
	case t == model.Bool:
		return model.BoolValue(bits != 0)
	case t.IsFloat():
		return model.FloatValue(t, math.Float64frombits(bits))
	case t.IsSigned():
		return model.IntValue(t, int64(bits))
	case t.IsUnsigned():
		return model.UintValue(t, bits)
	case t == model.String:
		return model.StringValue(s)
	}
	return model.Value{}
}

// value returns tag ti's latest value. The caller holds c.mu (read or write).
func (d *device) value(c *classRun, ti uint32) model.Value {
	st := &d.st[ti]
	var s string
	if st.vt == model.String {
		s = c.strs[ti]
	}
	return unpackValue(st.vt, st.bits, s)
}

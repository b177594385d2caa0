package acquire

import (
	"math"

	"github.com/otlink/otlink/internal/model"
)

// update sets tag ti's latest value and appends a sample to w when it is
// to be reported. The caller holds the mu of the tag's class.
//
// A value is reported when it is the tag's first, when its quality or code
// changed (a quality change is always a change), after a write (read
// back), and otherwise by the device's report mode: "all" reports every
// good or uncertain sample, "change" (the default) only a changed value,
// where numbers with a deadband change only when they move by more than
// the deadband from the last reported value. Bad samples are reported on
// change only, in both modes, so a dead device does not flood the bus.
func (d *device) update(w *worker, ti int, v model.Value, q model.Quality, code uint16, now int64) {
	td := &d.p.tags[ti]
	st := &d.st[ti]
	if !q.IsBad() {
		if td.scaled {
			v = model.FloatValue(model.Float64, v.Float()*td.cfg.Scale.Gain+td.cfg.Scale.Offset)
		}
		if r := td.cfg.Range; r != nil && v.T.IsNumeric() {
			if f := v.Float(); f < r.Min || f > r.Max {
				q = model.UncertainEngineeringUnitsExceeded
			}
		}
	}
	st.v, st.q, st.code, st.t = v, q, code, now
	changed := !st.reported || q != st.rq || code != st.rcode || st.force
	if !changed && !q.IsBad() {
		switch {
		case d.p.reportAll:
			changed = true
		case td.cfg.Deadband > 0 && v.T.IsNumeric() && st.rv.T.IsNumeric():
			a, b := v.Float(), st.rv.Float()
			if math.IsNaN(a) || math.IsNaN(b) {
				changed = !v.Equal(st.rv)
			} else {
				changed = math.Abs(a-b) > td.cfg.Deadband
			}
		default:
			changed = !v.Equal(st.rv)
		}
	}
	if !changed {
		return
	}
	st.rv, st.rq, st.rcode, st.reported, st.force = v, q, code, true, false
	w.samples = append(w.samples, model.Sample{Tag: td.path, Value: v, Quality: q, Source: now, Server: now, Code: code})
}

package monitor

import (
	"time"

	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// windowed are the detections that detect.Engine evaluates over a time
// window when its alerts are read. Reading them freezes the engine's
// windows (the engine is built for files), so the monitor keeps the
// events these detections use for the longest window and, each second
// something new came, replays them into a fresh engine and reads its
// windowed alerts. The wanted contract is an Engine.Evaluate(now) that
// evaluates without freezing (see the report in docs/monitor.md).
var windowed = map[string]bool{
	"identity_scan": true, "diag_enum": true, "address_sweep": true, "port_scan": true,
	"exception_storm": true, "unusual_rate": true,
}

// maxWindowEvents bounds the events kept for replay.
const maxWindowEvents = 8192

// horizon is the longest default window of the engine (the scan window).
const horizon = 5 * time.Minute

type wevent struct {
	t    int64
	flow flow.Flow    // a copy: only its addresses, counters and flags are read
	pdu  *dissect.PDU // nil for a flow end
}

type window struct {
	events []wevent
	dirty  bool
}

// pdu keeps the PDUs the windowed detections use: identity requests and
// exception responses.
func (w *window) pdu(f *flow.Flow, p *dissect.PDU) {
	if p.Action != dissect.ActIdentify && p.Exception == 0 {
		return
	}
	c := *p
	c.Objects = make([]dissect.Object, len(p.Objects))
	for i, o := range p.Objects {
		o.Values = append([]float64(nil), o.Values...)
		c.Objects[i] = o
	}
	c.Identity = nil
	w.push(wevent{t: p.Meta.Time, flow: snapshot(f), pdu: &c})
}

func (w *window) flowEnd(f *flow.Flow) { w.push(wevent{t: f.Last, flow: snapshot(f)}) }

// snapshot copies the fields of a flow the engine reads, without the
// table's links and dissector state.
func snapshot(f *flow.Flow) flow.Flow {
	return flow.Flow{Key: f.Key, Client: f.Client, Server: f.Server, T: f.T, Proto: f.Proto, First: f.First, Last: f.Last,
		FirstFrame: f.FirstFrame, Packets: f.Packets, Bytes: f.Bytes, Flags: f.Flags}
}

func (w *window) push(e wevent) {
	if len(w.events) >= maxWindowEvents {
		w.events = append(w.events[:0], w.events[len(w.events)/2:]...)
	}
	w.events = append(w.events, e)
	w.dirty = true
}

// evaluate replays the events within the horizon of the newest one and
// returns the windowed alerts they raise.
func (w *window) evaluate(base *detect.Baseline) []*detect.Alert {
	if !w.dirty || len(w.events) == 0 {
		return nil
	}
	w.dirty = false
	newest := w.events[len(w.events)-1].t
	i := 0
	for i < len(w.events) && w.events[i].t < newest-int64(horizon) {
		i++
	}
	w.events = append(w.events[:0], w.events[i:]...)
	e := detect.New(detect.Config{Baseline: base})
	for k := range w.events {
		ev := &w.events[k]
		if ev.pdu != nil {
			e.PDU(&ev.flow, ev.pdu)
		} else {
			e.FlowEnd(&ev.flow)
		}
	}
	var out []*detect.Alert
	for _, a := range e.Alerts() {
		if windowed[a.Detection] && a.Detection != "unusual_rate" {
			out = append(out, a)
		}
	}
	return out
}

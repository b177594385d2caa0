package analyze

import (
	"maps"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// Pipeline runs observers (inventory, detections) on a goroutine of their
// own while another goroutine reads, dissects and counts: for a file the
// two halves cost about the same, and a second core takes a third off the
// time of `otlink analyze` on one file; the live monitor uses it too. The
// observers see the same PDUs and flow ends in the same order as without
// it, so the output is the same. It is a flow.Handler for the dissecting
// side (PDU, FlowEnd); events reach the observers a batch at a time, or
// when Flush is called.
//
// What crosses over is copied into batches that are recycled: each PDU
// (the dissector reuses its own), and each ended flow, whose counters the
// flow table may still change (stray packets of a closed connection). A
// PDU's flow is passed as it is: observers read of it only the endpoints,
// transport, protocol and id, which are fixed before its first PDU.
type Pipeline struct {
	obs  []Observer
	fobs []FlowObserver
	cur  *batch
	full chan *batch
	free chan *batch
	done chan struct{}
}

// pipeBatch is the number of events sent at once: few enough that the
// observers start early, many enough that channel handoffs cost nothing.
const pipeBatch = 1024

type event struct {
	f   *flow.Flow // a PDU's flow; nil for a flow end
	idx int        // the PDU in pdus, or the flow in ends
}

type batch struct {
	evs  []event
	pdus []dissect.PDU
	objs []dissect.Object
	vals []float64
	ends []flow.Flow
}

// NewPipeline starts the observers' goroutine; Close stops it.
func NewPipeline(obs []Observer, fobs []FlowObserver) *Pipeline {
	p := &Pipeline{obs: obs, fobs: fobs, full: make(chan *batch, 2), free: make(chan *batch, 4), done: make(chan struct{})}
	for range 3 {
		p.free <- &batch{}
	}
	p.cur = <-p.free
	go p.run()
	return p
}

// PDU implements Observer on the dissecting goroutine: it copies q.
func (p *Pipeline) PDU(f *flow.Flow, q *dissect.PDU) {
	b := p.cur
	c := *q
	if len(q.Objects) > 0 {
		start := len(b.objs)
		for _, o := range q.Objects {
			if o.Values != nil {
				v := len(b.vals)
				b.vals = append(b.vals, o.Values...)
				o.Values = b.vals[v:len(b.vals):len(b.vals)]
			}
			b.objs = append(b.objs, o)
		}
		c.Objects = b.objs[start:len(b.objs):len(b.objs)]
	}
	if q.Identity != nil {
		c.Identity = maps.Clone(q.Identity)
	}
	b.pdus = append(b.pdus, c)
	b.evs = append(b.evs, event{f: f, idx: len(b.pdus) - 1})
	if len(b.evs) >= pipeBatch {
		p.send()
	}
}

// FlowEnd implements FlowObserver on the dissecting goroutine: it copies
// the flow as it ends.
func (p *Pipeline) FlowEnd(f *flow.Flow) {
	b := p.cur
	b.ends = append(b.ends, *f)
	b.evs = append(b.evs, event{idx: len(b.ends) - 1})
	if len(b.evs) >= pipeBatch {
		p.send()
	}
}

// Flush hands over the events so far, for a live source that has gone
// quiet: its alerts must not wait for a full batch.
func (p *Pipeline) Flush() {
	if len(p.cur.evs) > 0 {
		p.send()
	}
}

func (p *Pipeline) send() {
	p.full <- p.cur
	p.cur = <-p.free
}

// Close hands over what is left and waits until the observers saw it all.
func (p *Pipeline) Close() {
	if len(p.cur.evs) > 0 {
		p.full <- p.cur
	}
	close(p.full)
	<-p.done
}

// run is the observers' goroutine.
func (p *Pipeline) run() {
	defer close(p.done)
	for b := range p.full {
		for _, e := range b.evs {
			if e.f == nil {
				f := &b.ends[e.idx]
				for _, o := range p.fobs {
					o.FlowEnd(f)
				}
				continue
			}
			q := &b.pdus[e.idx]
			for _, o := range p.obs {
				o.PDU(e.f, q)
			}
		}
		clear(b.pdus) // drop references to strings and maps of the last round
		clear(b.ends)
		b.evs, b.pdus, b.objs, b.vals, b.ends = b.evs[:0], b.pdus[:0], b.objs[:0], b.vals[:0], b.ends[:0]
		p.free <- b
	}
}

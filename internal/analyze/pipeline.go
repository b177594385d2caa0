package analyze

import (
	"maps"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// pipeline runs a file's observers (inventory, detections) on a goroutine
// of their own while the file's goroutine reads, dissects and counts:
// the two halves cost about the same, so a second core nearly halves the
// time of `otlink analyze` on one file. The observers see the same PDUs
// and flow ends in the same order as without it, so the output is the
// same.
//
// What crosses over is copied into batches that are recycled: each PDU
// (the dissector reuses its own), and each ended flow, whose counters the
// flow table may still change (stray packets of a closed connection). A
// PDU's flow is passed as it is: observers read of it only the endpoints,
// transport, protocol and id, which are fixed before its first PDU.
type pipeline struct {
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

func newPipeline(obs []Observer, fobs []FlowObserver) *pipeline {
	p := &pipeline{obs: obs, fobs: fobs, full: make(chan *batch, 2), free: make(chan *batch, 4), done: make(chan struct{})}
	for range 3 {
		p.free <- &batch{}
	}
	p.cur = <-p.free
	go p.run()
	return p
}

// PDU implements Observer on the dissecting goroutine: it copies q.
func (p *pipeline) PDU(f *flow.Flow, q *dissect.PDU) {
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
func (p *pipeline) FlowEnd(f *flow.Flow) {
	b := p.cur
	b.ends = append(b.ends, *f)
	b.evs = append(b.evs, event{idx: len(b.ends) - 1})
	if len(b.evs) >= pipeBatch {
		p.send()
	}
}

func (p *pipeline) send() {
	p.full <- p.cur
	p.cur = <-p.free
}

// close hands over what is left and waits until the observers saw it all.
func (p *pipeline) close() {
	if len(p.cur.evs) > 0 {
		p.full <- p.cur
	}
	close(p.full)
	<-p.done
}

// run is the observers' goroutine.
func (p *pipeline) run() {
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

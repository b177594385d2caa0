package monitor

import (
	"net/netip"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
	"github.com/otlink/otlink/internal/monitor/view"
)

// The war room's read model is bounded whatever the traffic:
//
//   - at most MaxFlows flows are retained (open and recently ended); a new
//     flow takes the place of the flow that ended longest ago, else of the
//     open flow seen least recently if it has been quiet for evictIdle
//     seconds, else it is not retained (its packets are still counted);
//   - each keeps its last RecentPDUs PDUs, each PDU with at most
//     pduObjects objects of pduValues values and pduIdentity identity
//     fields of identityLen bytes, and at most maxFunctions distinct
//     functions;
//   - rates keep rateSecs one-second buckets per protocol label, and the
//     labels are the registered dissectors plus tcp, udp and other.
//
// A retained PDU takes at most about 1 KB, so the worst case is about
// MaxFlows × RecentPDUs × 1 KB ≈ 32 MB, and typically a tenth of it
// (PDUs without values).
const (
	MaxFlows     = 2048
	RecentPDUs   = 16
	RateWindow   = 5 // seconds averaged by the rates
	rateSecs     = 64
	seriesSecs   = 60
	pduObjects   = 4
	pduValues    = 8
	pduIdentity  = 16
	identityLen  = 128
	maxFunctions = 32
)

// Protocol labels of traffic no dissector took.
const (
	labelTCP   = "tcp"
	labelUDP   = "udp"
	labelOther = "other" // not TCP or UDP over IP, or an IP fragment
)

// fnCount counts one function of a flow. A flow uses a few functions, so
// a slice searched in order beats a map that hashes the name per PDU.
type fnCount struct {
	code uint32
	name string
	n    uint64
}

// vflow is one conversation as the war room sees it. Its counters are
// per packet, so open flows show traffic (the inventory counts only ended
// flows).
type vflow struct {
	id             uint64
	evicted        bool // no longer retained: the table flow gets a new one
	prev, next     *vflow
	moved          int64 // second of the last move to the front of its list
	client, server netip.AddrPort
	vlan           uint16
	transport      string
	proto          string // label: a dissector's name, or tcp / udp
	first, last    time.Time
	packets, bytes [2]uint64
	pdus           uint64
	fns            []fnCount // at most maxFunctions
	ring           []view.PDU
	head           int // next slot of ring once it is full
	ended          string
}

type rateRing struct {
	sec    [rateSecs]int64
	pk, by [rateSecs]uint64
}

func (r *rateRing) add(s int64, n, b uint64) {
	i := s % rateSecs
	if r.sec[i] != s {
		r.sec[i], r.pk[i], r.by[i] = s, 0, 0
	}
	r.pk[i] += n
	r.by[i] += b
}

func (r *rateRing) at(s int64) (uint64, uint64) {
	i := s % rateSecs
	if s < 0 || r.sec[i] != s {
		return 0, 0
	}
	return r.pk[i], r.by[i]
}

// live is the war room's state. Its lock is taken after Monitor.mu when
// both are held.
type live struct {
	mu  sync.Mutex
	now func() time.Time // the rates' clock; tests set it
	all map[uint64]*vflow
	// The retained flows in two lists, most recent first: open flows by
	// when they were last seen (moved to the front at most once a second,
	// as the flow table does), ended flows by when they ended. Eviction
	// takes the tail of ended, else of open: no sort.
	open, ended vlist
	nextID      uint64
	rates       map[string]*rateRing
	totals      map[string]*[2]uint64 // packets, wire bytes per label
}

func newLive() *live {
	return &live{now: time.Now, all: map[uint64]*vflow{}, rates: map[string]*rateRing{}, totals: map[string]*[2]uint64{}}
}

// packet counts one frame, after the flow table took it: tf is the flow
// it went through and dir its direction (flow.Table.PacketFlow), nil for
// a frame that is not TCP or UDP over IP or is an IP fragment. A PDU the
// frame completed has already named the flow's protocol. The retained
// flow hangs on tf.User: no second decode, no lookup by key.
func (l *live) packet(tf *flow.Flow, dir dissect.Dir, ci capture.Info) {
	now := l.now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if tf == nil {
		l.count(labelOther, now, uint64(ci.Len))
		return
	}
	f := l.flowOf(tf, now, ci.Time)
	if f == nil {
		// Not retained (the model is full of active flows): counted only.
		label := tf.Proto
		if label == "" {
			label = tf.T.String()
		}
		l.count(label, now, uint64(ci.Len))
		return
	}
	if f.ended == "" && f.moved != now {
		l.open.remove(f)
		l.open.pushFront(f)
		f.moved = now
	}
	f.last = time.Unix(0, ci.Time).UTC()
	f.packets[dir&1]++
	f.bytes[dir&1] += uint64(ci.Len)
	l.count(f.proto, now, uint64(ci.Len))
}

func (l *live) count(label string, now int64, n uint64) {
	r := l.rates[label]
	if r == nil {
		r = &rateRing{}
		l.rates[label] = r
		l.totals[label] = &[2]uint64{}
	}
	r.add(now, 1, n)
	t := l.totals[label]
	t[0]++
	t[1] += n
}

// evictIdle is how long, in seconds, an open flow must have been quiet
// before a new flow may take its place. Evicting busy flows would not
// help: with more active flows than MaxFlows, least-recently-seen
// eviction drops the flow seen next (a poller cycles through them), and
// every packet would start a flow again.
const evictIdle = 10

// add retains f if there is room, making room from the flow that ended
// longest ago or else an open flow quiet for evictIdle; false when every
// retained flow is open and busy.
func (l *live) add(f *vflow, now int64) bool {
	if len(l.all) >= MaxFlows {
		lst := &l.ended
		if lst.tail == nil {
			lst = &l.open
			if lst.tail == nil || now-lst.tail.moved <= evictIdle {
				return false
			}
		}
		old := lst.tail
		lst.remove(old)
		delete(l.all, old.id)
		old.evicted = true
	}
	l.nextID++
	f.id = l.nextID
	l.all[f.id] = f
	l.open.pushFront(f)
	f.moved = now
	return true
}

// refused marks a table flow the model could not retain, with the second
// of the refusal: admission is tried again the next second.
type refused int64

// vlist is a doubly linked list of retained flows.
type vlist struct{ head, tail *vflow }

func (v *vlist) pushFront(f *vflow) {
	f.prev, f.next = nil, v.head
	if v.head != nil {
		v.head.prev = f
	}
	v.head = f
	if v.tail == nil {
		v.tail = f
	}
}

func (v *vlist) remove(f *vflow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		v.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		v.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// flowOf returns the retained flow of a flow-table flow, starting one for
// a new table flow or one whose retained flow was evicted.
// last is the capture time of the packet or PDU at hand: tf.Last is the
// flow table's to write (pdu runs on another goroutine).
func (l *live) flowOf(tf *flow.Flow, now, last int64) *vflow {
	if r, ok := tf.User.(refused); ok && int64(r) == now {
		return nil
	}
	f, _ := tf.User.(*vflow)
	if f == nil || f.evicted {
		f = &vflow{first: time.Unix(0, tf.First).UTC(), last: time.Unix(0, last).UTC(), transport: tf.T.String(), vlan: tf.VLAN,
			client: tf.Client, server: tf.Server, proto: tf.T.String()}
		if tf.Proto != "" {
			f.proto = tf.Proto
		}
		if !l.add(f, now) {
			tf.User = refused(now)
			return nil
		}
		tf.User = f
	}
	if f.client != tf.Client {
		// The table knows better (a PDU oriented it): swap the counters.
		f.client, f.server = tf.Client, tf.Server
		f.packets[0], f.packets[1] = f.packets[1], f.packets[0]
		f.bytes[0], f.bytes[1] = f.bytes[1], f.bytes[0]
	}
	if tf.Proto != "" && tf.Proto != f.proto {
		// A heuristic found the protocol: the flow's packets so far move
		// to it in the totals (the rate buckets keep them where they fell).
		n, b := f.packets[0]+f.packets[1], f.bytes[0]+f.bytes[1]
		if old := l.totals[f.proto]; old != nil && old[0] >= n && old[1] >= b {
			old[0] -= n
			old[1] -= b
			if l.totals[tf.Proto] == nil {
				l.rates[tf.Proto] = &rateRing{}
				l.totals[tf.Proto] = &[2]uint64{}
			}
			l.totals[tf.Proto][0] += n
			l.totals[tf.Proto][1] += b
		}
		f.proto = tf.Proto
	}
	return f
}

// pdu records a PDU of a flow; it copies what it keeps (the dissector
// reuses p).
func (l *live) pdu(tf *flow.Flow, p *dissect.PDU) {
	now := l.now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.flowOf(tf, now, p.Meta.Time)
	if f == nil {
		return
	}
	f.pdus++
	l.countFunction(f, p)
	// The ring's slots are reused with their objects, values and identity
	// map: a PDU costs no allocation once the ring is full (FlowPDUs
	// copies what it hands out).
	var r *view.PDU
	if len(f.ring) < RecentPDUs {
		f.ring = append(f.ring, view.PDU{})
		r = &f.ring[len(f.ring)-1]
	} else {
		r = &f.ring[f.head]
		f.head = (f.head + 1) % RecentPDUs
	}
	objs, ident := r.Objects[:0], r.Identity
	*r = view.PDU{Time: time.Unix(0, p.Meta.Time).UTC(), Frame: p.Meta.Frame, Dir: "request", Function: p.Function, Name: p.Name,
		Action: p.Action.String(), Unit: p.Unit, Exception: p.Exception, Malformed: p.Malformed}
	if p.Meta.Dir == dissect.ToClient {
		r.Dir = "response"
	}
	for i, o := range p.Objects {
		if i == pduObjects {
			break
		}
		var vals []float64
		if i < cap(objs) {
			vals = objs[:i+1][i].Values[:0]
		}
		vals = append(vals, o.Values[:min(len(o.Values), pduValues)]...)
		objs = append(objs, view.Object{Space: o.Space, Start: o.Start, Count: o.Count, Values: vals})
	}
	if len(objs) > 0 {
		r.Objects = objs
	}
	if len(p.Identity) > 0 {
		if ident == nil {
			ident = map[string]string{}
		}
		clear(ident)
		for k, v := range p.Identity {
			if len(ident) == pduIdentity {
				break
			}
			ident[clip(k)] = clip(v)
		}
		r.Identity = ident
	}
}

// countFunction counts p's function on f, at most maxFunctions distinct.
func (l *live) countFunction(f *vflow, p *dissect.PDU) {
	for i := range f.fns {
		if c := &f.fns[i]; c.code == p.Function && c.name == p.Name {
			c.n++
			return
		}
	}
	if len(f.fns) < maxFunctions {
		f.fns = append(f.fns, fnCount{p.Function, p.Name, 1})
	}
}

func clip(s string) string {
	if len(s) > identityLen {
		return s[:identityLen]
	}
	return s
}

// end marks the retained flow of tf as ended.
func (l *live) end(tf *flow.Flow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, _ := tf.User.(*vflow); f != nil && !f.evicted && f.ended == "" {
		f.ended = tf.End.String()
		l.open.remove(f)
		l.ended.pushFront(f)
	}
}

package monitor

import (
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
	"github.com/otlink/otlink/internal/monitor/view"
)

// The war room's read model is bounded whatever the traffic:
//
//   - at most MaxFlows flows are retained (open and recently ended); beyond
//     it the ended ones go first, then the least recently seen;
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

type lkey struct {
	iface int
	k     flow.Key
}

type fnKey struct {
	code uint32
	name string
}

// vflow is one conversation as the war room sees it. Its counters are
// per packet, so open flows show traffic (the inventory counts only ended
// flows).
type vflow struct {
	id             uint64
	key            lkey
	tableID        uint64 // the flow table's id, once a PDU named it
	client, server netip.AddrPort
	vlan           uint16
	transport      string
	proto          string // label: a dissector's name, or tcp / udp
	first, last    time.Time
	packets, bytes [2]uint64
	pdus           uint64
	fns            map[fnKey]uint64
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
	mu     sync.Mutex
	now    func() time.Time // the rates' clock; tests set it
	ports  map[dissect.Port]string
	open   map[lkey]*vflow
	all    map[uint64]*vflow
	nextID uint64
	rates  map[string]*rateRing
	totals map[string]*[2]uint64 // packets, wire bytes per label
	pkt    []flow.Packet         // one decode buffer per interface
}

func newLive(ifaces int) *live {
	l := &live{now: time.Now, ports: map[dissect.Port]string{}, open: map[lkey]*vflow{}, all: map[uint64]*vflow{},
		rates: map[string]*rateRing{}, totals: map[string]*[2]uint64{}, pkt: make([]flow.Packet, ifaces)}
	// The same port choice as the flow table: the first registered
	// dissector of a port takes it.
	for _, d := range dissect.All() {
		for _, p := range d.Ports() {
			if _, dup := l.ports[p]; !dup {
				l.ports[p] = d.Proto()
			}
		}
	}
	return l
}

func lessEP(a *[16]byte, pa uint16, b *[16]byte, pb uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return pa <= pb
}

func addrPort(ipv uint8, a *[16]byte, port uint16) netip.AddrPort {
	if ipv == 4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(*a), port)
}

// packet counts one frame of interface iface. It runs on the capture
// goroutine after the flow table took the frame, so a PDU the frame
// completed has already named its flow's protocol.
func (l *live) packet(iface int, data []byte, ci capture.Info) {
	p := &l.pkt[iface]
	res := flow.Decode(data, ci.Link, p)
	now := l.now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if res != flow.OK {
		l.count(labelOther, now, uint64(ci.Len))
		return
	}
	var k lkey
	k.iface = iface
	k.k.Proto, k.k.IPv, k.k.VLAN = p.Proto, p.IPv, p.VLAN
	fromA := lessEP(&p.Src, p.SrcPort, &p.Dst, p.DstPort)
	if fromA {
		k.k.A, k.k.PA, k.k.B, k.k.PB = p.Src, p.SrcPort, p.Dst, p.DstPort
	} else {
		k.k.A, k.k.PA, k.k.B, k.k.PB = p.Dst, p.DstPort, p.Src, p.SrcPort
	}
	src := addrPort(p.IPv, &p.Src, p.SrcPort)
	syn := p.Proto == 6 && p.Flags&(flow.SYN|flow.ACK|flow.FIN|flow.RST) == flow.SYN
	f := l.open[k]
	// A flow the table ended is over, except for the stray packets a
	// closed TCP connection still gets; a new SYN starts another.
	if f != nil && f.ended != "" && (f.ended != flow.Closed.String() || syn) {
		delete(l.open, k)
		f = nil
	}
	t := time.Unix(0, ci.Time).UTC()
	if f == nil {
		f = l.newFlow(k, p, src, t)
	}
	f.last = t
	d := 0
	if src != f.client {
		d = 1
	}
	f.packets[d]++
	f.bytes[d] += uint64(ci.Len)
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

// newFlow starts a flow oriented as the flow table orients one: a SYN
// names the client, a SYN-ACK the server, else a dissector's port is the
// server's, else a port below 1024 facing one above, else the sender is
// the client. A PDU corrects it later (pdu).
func (l *live) newFlow(k lkey, p *flow.Packet, src netip.AddrPort, t time.Time) *vflow {
	dst := addrPort(p.IPv, &p.Dst, p.DstPort)
	tr := dissect.UDP
	f := &vflow{key: k, first: t, transport: labelUDP}
	if p.Proto == 6 {
		tr, f.transport = dissect.TCP, labelTCP
	}
	srcIsClient := true
	switch fl := p.Flags & (flow.SYN | flow.ACK | flow.FIN | flow.RST); {
	case tr == dissect.TCP && fl == flow.SYN:
	case tr == dissect.TCP && fl == flow.SYN|flow.ACK:
		srcIsClient = false
	case l.ports[dissect.Port{T: tr, Port: p.DstPort}] != "":
	case l.ports[dissect.Port{T: tr, Port: p.SrcPort}] != "":
		srcIsClient = false
	case p.SrcPort < 1024 && p.DstPort >= 1024:
		srcIsClient = false
	}
	f.client, f.server = src, dst
	if !srcIsClient {
		f.client, f.server = dst, src
	}
	if p.VLAN[0] != 0 {
		f.vlan = p.VLAN[0] - 1
	}
	f.proto = f.transport
	if n := l.ports[dissect.Port{T: tr, Port: f.server.Port()}]; n != "" {
		f.proto = n
	} else if n := l.ports[dissect.Port{T: tr, Port: f.client.Port()}]; n != "" && f.client.Port() != f.server.Port() {
		f.proto = n
	}
	l.add(f)
	return f
}

func (l *live) add(f *vflow) {
	l.nextID++
	f.id = l.nextID
	l.open[f.key] = f
	l.all[f.id] = f
	if len(l.all) > MaxFlows {
		l.evict()
	}
}

// evict drops an eighth of the retained flows at once, so that a scan
// creating a flow per packet does not sort on every packet: ended flows
// first, then the least recently seen.
func (l *live) evict() {
	fs := make([]*vflow, 0, len(l.all))
	for _, f := range l.all {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool {
		if ei, ej := fs[i].ended != "", fs[j].ended != ""; ei != ej {
			return ei
		}
		return fs[i].last.Before(fs[j].last)
	})
	n := len(fs) - MaxFlows + MaxFlows/8
	for _, f := range fs[:n] {
		delete(l.all, f.id)
		if l.open[f.key] == f {
			delete(l.open, f.key)
		}
	}
}

// flowOf returns the retained flow of a flow-table flow, starting one
// when the table started a new flow on the same key.
func (l *live) flowOf(iface int, tf *flow.Flow) *vflow {
	k := lkey{iface, tf.Key}
	f := l.open[k]
	if f != nil && f.tableID != 0 && f.tableID != tf.ID {
		f = nil
	}
	if f == nil {
		f = &vflow{key: k, first: time.Unix(0, tf.First).UTC(), last: time.Unix(0, tf.Last).UTC(), transport: tf.T.String(), vlan: tf.VLAN,
			client: tf.Client, server: tf.Server, proto: tf.T.String()}
		l.add(f)
	}
	f.tableID = tf.ID
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
func (l *live) pdu(iface int, tf *flow.Flow, p *dissect.PDU) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.flowOf(iface, tf)
	f.pdus++
	if f.fns == nil {
		f.fns = map[fnKey]uint64{}
	}
	fk := fnKey{p.Function, p.Name}
	if _, ok := f.fns[fk]; ok || len(f.fns) < maxFunctions {
		f.fns[fk]++
	}
	r := view.PDU{Time: time.Unix(0, p.Meta.Time).UTC(), Frame: p.Meta.Frame, Dir: "request", Function: p.Function, Name: p.Name,
		Action: p.Action.String(), Unit: p.Unit, Exception: p.Exception, Malformed: p.Malformed}
	if p.Meta.Dir == dissect.ToClient {
		r.Dir = "response"
	}
	for i, o := range p.Objects {
		if i == pduObjects {
			break
		}
		c := view.Object{Space: o.Space, Start: o.Start, Count: o.Count}
		if len(o.Values) > 0 {
			c.Values = slices.Clone(o.Values[:min(len(o.Values), pduValues)])
		}
		r.Objects = append(r.Objects, c)
	}
	if len(p.Identity) > 0 {
		r.Identity = map[string]string{}
		for k, v := range p.Identity {
			if len(r.Identity) == pduIdentity {
				break
			}
			r.Identity[clip(k)] = clip(v)
		}
	}
	if len(f.ring) < RecentPDUs {
		f.ring = append(f.ring, r)
	} else {
		f.ring[f.head] = r
		f.head = (f.head + 1) % RecentPDUs
	}
}

func clip(s string) string {
	if len(s) > identityLen {
		return s[:identityLen]
	}
	return s
}

// end marks the retained flow of tf as ended.
func (l *live) end(iface int, tf *flow.Flow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.open[lkey{iface, tf.Key}]
	if f == nil || f.tableID != 0 && f.tableID != tf.ID {
		return
	}
	f.ended = tf.End.String()
}

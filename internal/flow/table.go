package flow

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/dissect"
)

// Config bounds the table. Zero fields take the defaults.
type Config struct {
	MaxFlows      int           // flows tracked at once; the least recently seen is evicted beyond it (default 262144)
	Idle          time.Duration // a flow with no packet for this long ends (default 5 min)
	Linger        time.Duration // a TCP flow closed by FIN/RST stays this long for stray packets (default 10 s)
	MaxFlowBuffer int           // out-of-order bytes buffered per TCP direction (default 256 KiB)
	MaxBuffer     int           // out-of-order bytes buffered over all flows (default 64 MiB)
	MaxSegments   int           // out-of-order segments per TCP direction (default 256)

	MaxFragDatagrams int           // IP datagrams in reassembly at once; the oldest is dropped beyond it (default 1024)
	MaxFragBytes     int           // bytes held by IP datagrams in reassembly (default 8 MiB)
	FragTimeout      time.Duration // an IP datagram not complete this long after its first fragment is dropped (default 30 s, as Linux)

	// Shards > 1 splits one capture over that many tables, each on its
	// own goroutine reading every frame: the table keeps only the flows
	// and IP datagrams whose address pair falls in its Shard (0-based),
	// so both directions of a conversation and its fragments meet in one
	// table, and it follows the capture's clock on every frame, so flows
	// time out as in one table. Frames without an address pair (not IP,
	// other transports, cut short) are counted by shard 0. Summed, the
	// shards' PDUs and counters are those of one table; the bounds above
	// apply to each table.
	Shard, Shards int
}

func (c *Config) defaults() {
	if c.MaxFlows <= 0 {
		c.MaxFlows = 1 << 18
	}
	if c.Idle <= 0 {
		c.Idle = 5 * time.Minute
	}
	if c.Linger <= 0 {
		c.Linger = 10 * time.Second
	}
	if c.MaxFlowBuffer <= 0 {
		c.MaxFlowBuffer = 256 << 10
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = 64 << 20
	}
	if c.MaxSegments <= 0 {
		c.MaxSegments = 256
	}
	if c.MaxFragDatagrams <= 0 {
		c.MaxFragDatagrams = 1024
	}
	if c.MaxFragBytes <= 0 {
		c.MaxFragBytes = 8 << 20
	}
	if c.FragTimeout <= 0 {
		c.FragTimeout = 30 * time.Second
	}
	if c.Shards <= 1 {
		c.Shards, c.Shard = 1, 0
	}
	c.Shard = (c.Shard%c.Shards + c.Shards) % c.Shards
}

// Handler receives what the table produces. The PDU is valid only during
// the call (dissectors reuse it); the Flow stays valid until FlowEnd
// returns.
type Handler interface {
	PDU(f *Flow, p *dissect.PDU)
	FlowEnd(f *Flow)
}

// End says why a flow ended.
type End uint8

const (
	Open    End = iota // still in the table
	Closed             // TCP FIN both ways or RST
	Idle               // no packet for Config.Idle
	Evicted            // pushed out by the table's size bound
	Flushed            // end of input
)

var endNames = [...]string{"open", "closed", "idle", "evicted", "flushed"}

func (e End) String() string { return endNames[e] }

// Key identifies a flow: the two endpoints in a canonical order, the
// transport and the VLAN tags. BACnet/Ethernet flows have IPv 0, Proto
// and ports the LLC SAP and addresses made from the MACs (see decodeLLC).
type Key struct {
	A, B   [16]byte
	PA, PB uint16
	Proto  uint8
	IPv    uint8
	VLAN   [2]uint16
}

// Flow is one conversation and its counters. Direction index 0 is client
// to server (dissect.ToServer), 1 server to client.
type Flow struct {
	// The fields every packet reads or writes come first, so that a packet
	// touches few cache lines of its flow (and the LRU list's neighbours
	// only their first line): a capture interleaves thousands of flows.
	prev, next *Flow
	Key        Key
	End        End
	T          dissect.Transport
	clientIsA  bool
	probed     bool
	epoch      uint32 // Table.epoch when last moved to the LRU front
	oriented   bool   // orientation from a SYN, a port or the first packet
	fin        [2]bool
	Flags      [2]uint8 // TCP flags seen in each direction, ORed (port scans: a SYN and no payload)
	Last       int64    // capture time of the last packet, Unix ns
	Packets    [2]uint64
	Bytes      [2]uint64 // payload bytes
	parser     dissect.Parser
	st         [2]stream
	MAC        [2][6]byte // Ethernet source address of each direction's last frame, zero when unknown
	PDUs       uint64

	ID             uint64
	Client, Server netip.AddrPort
	VLAN           uint16 // outer VLAN id, 0 when untagged
	Proto          string // the dissector's protocol, "" when none matched
	First          int64  // capture time of the first packet, Unix ns
	Gaps           uint64 // holes in the TCP byte streams
	FirstFrame     uint64 // frame number of the flow's first packet, for evidence
	FragOverlaps   uint64 // IP datagrams of the flow reassembled from overlapping or inconsistent fragments (evasion)

	// User is free for the handler (e.g. per-flow state of an observer).
	User any

	d        dissect.Dissector
	closedAt int64
}

// Stats counts what the table saw.
type Stats struct {
	Frames      uint64 // frames handled: given to Packet, or of this shard (see Config.Shards)
	NotIP       uint64
	OtherL4     uint64
	Fragments   uint64 // IP fragments (frames)
	Reassembled uint64 // IP datagrams reassembled from fragments
	// Fragments that overlap bytes already held (other than an exact
	// duplicate) or contradict the datagram's end: an evasion indicator.
	FragOverlaps   uint64
	FragDuplicates uint64 // fragments received twice, identical
	FragBad        uint64 // fragments no host accepts: empty, past 64 KiB, a middle one not a multiple of 8 bytes
	FragTimeouts   uint64 // incomplete datagrams dropped after Config.FragTimeout
	FragDropped    uint64 // incomplete datagrams dropped by the MaxFragDatagrams or MaxFragBytes bound
	Truncated      uint64
	UnknownLink    uint64
	Flows          uint64 // flows created
	Dissected      uint64 // flows with a dissector
	Evicted        uint64
	Expired        uint64
	Retransmits    uint64 // TCP segments carrying only bytes already delivered
	OutOfOrder     uint64 // TCP segments buffered
	Gaps           uint64 // holes skipped (Parser.Gap calls)
	GapBytes       uint64
	Overflows      uint64 // gaps forced by a full buffer
	Buffered       int    // out-of-order bytes held now
}

// Add adds the counters of o, as of another shard of the same capture.
func (s *Stats) Add(o Stats) {
	s.Frames += o.Frames
	s.NotIP += o.NotIP
	s.OtherL4 += o.OtherL4
	s.Fragments += o.Fragments
	s.Reassembled += o.Reassembled
	s.FragOverlaps += o.FragOverlaps
	s.FragDuplicates += o.FragDuplicates
	s.FragBad += o.FragBad
	s.FragTimeouts += o.FragTimeouts
	s.FragDropped += o.FragDropped
	s.Truncated += o.Truncated
	s.UnknownLink += o.UnknownLink
	s.Flows += o.Flows
	s.Dissected += o.Dissected
	s.Evicted += o.Evicted
	s.Expired += o.Expired
	s.Retransmits += o.Retransmits
	s.OutOfOrder += o.OutOfOrder
	s.Gaps += o.Gaps
	s.GapBytes += o.GapBytes
	s.Overflows += o.Overflows
	s.Buffered += o.Buffered
}

// Table is a flow table. It is not safe for concurrent use: one table per
// capture goroutine.
type Table struct {
	cfg     Config
	h       Handler
	flows   index
	last    *Flow       // the flow of the frame PacketFlow handles, nil when none
	lastDir dissect.Dir // its direction
	head    *Flow       // most recently seen
	tail    *Flow
	closedQ []*Flow
	now     int64
	sweep   int64
	epoch   uint32 // counts sweeps: a flow moves to the LRU front once per epoch
	nextID  uint64
	stats   Stats
	pkt     Packet
	ports   map[dissect.Port]dissect.Dissector
	probes  []dissect.Dissector
	cur     *Flow
	emitFn  func(*dissect.PDU)
	meta    dissect.Meta
	frag    defrag
	evasive bool           // the packet being handled is a datagram with overlapping fragments
	shared  map[string]any // output buffers shared by the flows of a dissector (dissect.Sharer)
}

// equal is k == o in word compares: the compiler's == on Key calls
// memequal, a function call per packet.
func (k *Key) equal(o *Key) bool {
	ne := binary.NativeEndian
	return ne.Uint64(k.A[:]) == ne.Uint64(o.A[:]) && ne.Uint64(k.A[8:]) == ne.Uint64(o.A[8:]) &&
		ne.Uint64(k.B[:]) == ne.Uint64(o.B[:]) && ne.Uint64(k.B[8:]) == ne.Uint64(o.B[8:]) &&
		k.PA == o.PA && k.PB == o.PB && k.Proto == o.Proto && k.IPv == o.IPv && k.VLAN == o.VLAN
}

// NewTable returns a table that gives flows to the dissectors registered
// now and their output to h.
func NewTable(cfg Config, h Handler) *Table {
	cfg.defaults()
	t := &Table{cfg: cfg, h: h, shared: map[string]any{}, ports: map[dissect.Port]dissect.Dissector{}}
	for _, d := range dissect.All() {
		for _, p := range d.Ports() {
			if _, dup := t.ports[p]; !dup {
				t.ports[p] = d
			}
		}
		t.probes = append(t.probes, d)
	}
	t.emitFn = t.emit
	return t
}

// Stats returns the counters so far.
func (t *Table) Stats() Stats { return t.stats }

// Len is the number of flows in the table.
func (t *Table) Len() int { return t.flows.len() }

// Packet decodes one frame (frame is its 1-based number in the capture)
// and runs it through its flow.
func (t *Table) Packet(data []byte, ci capture.Info, frame uint64) {
	t.PacketFlow(data, ci, frame)
}

// PacketFlow is Packet that also returns the flow the frame went through
// and its direction, for a per-packet view of flows (the war room): nil
// for a frame that is not TCP or UDP over IP or is an IP fragment. The
// flow's User field is free for such a caller.
func (t *Table) PacketFlow(data []byte, ci capture.Info, frame uint64) (*Flow, dissect.Dir) {
	t.last = nil
	t.packet(data, ci, frame)
	return t.last, t.lastDir
}

func (t *Table) packet(data []byte, ci capture.Info, frame uint64) {
	if ci.Time > t.now {
		t.now = ci.Time
	}
	p := &t.pkt
	res := Decode(data, ci.Link, p)
	if res == LLC && t.ports[dissect.Port{T: dissect.LLC, Port: SAPBACnet}] == nil {
		res = NotIP
	}
	if res == OK || res == LLC || res == Fragment {
		// Sweeps run on the frames of flows and datagrams, the same frames
		// in every shard.
		if t.now-t.sweep >= int64(time.Second) {
			t.expire()
			t.sweep = t.now
			t.epoch++
		}
		if t.cfg.Shards > 1 && shardOf(p, t.cfg.Shards) != t.cfg.Shard {
			return
		}
	} else if t.cfg.Shard > 0 {
		return
	}
	t.stats.Frames++
	switch res {
	case OK, LLC:
	case NotIP:
		t.stats.NotIP++
		return
	case OtherL4:
		t.stats.OtherL4++
		return
	case Fragment:
		t.stats.Fragments++
		d := t.fragment(p)
		if d == nil {
			return
		}
		p.Proto = d.proto
		var r Result
		if p.IPv == 6 {
			r = ip6Chain(d.buf, p)
		} else {
			r = decodeL4(d.buf, p)
		}
		if r == OK {
			t.evasive = d.overlap
			t.transport(p, ci, frame)
			t.evasive = false
			t.last = nil // counted as a fragment, not as a packet of the flow
		} else if r == Truncated {
			t.stats.Truncated++
		} else {
			t.stats.OtherL4++
		}
		t.release(d)
		return
	case Truncated:
		t.stats.Truncated++
		return
	case UnknownLink:
		t.stats.UnknownLink++
		return
	}
	t.transport(p, ci, frame)
}

// transport runs a decoded TCP or UDP packet through its flow.
func (t *Table) transport(p *Packet, ci capture.Info, frame uint64) {
	var k Key
	k.Proto, k.IPv, k.VLAN = p.Proto, p.IPv, p.VLAN
	fromA := lessEP(&p.Src, p.SrcPort, &p.Dst, p.DstPort)
	if fromA {
		k.A, k.PA, k.B, k.PB = p.Src, p.SrcPort, p.Dst, p.DstPort
	} else {
		k.A, k.PA, k.B, k.PB = p.Dst, p.DstPort, p.Src, p.SrcPort
	}
	h := k.hash()
	f := t.flows.get(&k, h)
	if f != nil && f.End == Closed && p.Flags&(SYN|ACK) == SYN {
		// A new connection on the same 4-tuple after a close.
		t.remove(f)
		f = nil
	}
	if f == nil {
		f = t.newFlow(&k, h, p, fromA)
		f.FirstFrame = frame
	} else if f.epoch != t.epoch {
		t.touch(f)
	}
	f.Last = ci.Time
	if t.evasive {
		f.FragOverlaps++
	}
	if !f.probed && len(p.Payload) > 0 && f.End != Closed {
		t.probe(f, fromA, p.Payload)
	}
	dir := dissect.ToClient
	if fromA == f.clientIsA {
		dir = dissect.ToServer
	}
	t.last, t.lastDir = f, dir
	f.Packets[dir]++
	f.Bytes[dir] += uint64(len(p.Payload))
	f.Flags[dir] |= p.Flags
	f.MAC[dir] = p.SrcMAC
	t.meta = dissect.Meta{Time: ci.Time, Frame: frame, Dir: dir, T: f.T}
	if f.End == Closed {
		return
	}
	t.cur = f
	if f.T != dissect.TCP {
		if len(p.Payload) > 0 {
			t.deliver(f, dir, p.Payload)
		}
		return
	}
	t.tcp(f, dir, p)
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

func (t *Table) newFlow(k *Key, h uint64, p *Packet, fromA bool) *Flow {
	if t.flows.len() >= t.cfg.MaxFlows && t.tail != nil {
		t.stats.Evicted++
		t.finish(t.tail, Evicted)
	}
	t.nextID++
	t.stats.Flows++
	f := &Flow{ID: t.nextID, Key: *k, First: t.now, T: dissect.UDP}
	if p.IPv == 0 {
		f.T = dissect.LLC
	} else if p.Proto == 6 {
		f.T = dissect.TCP
	}
	if p.VLAN[0] != 0 {
		f.VLAN = p.VLAN[0] - 1
	}
	// Orientation: a SYN names the client, a SYN-ACK the server; else a
	// dissector's port is the server; else a port below 1024 facing one
	// above; else the sender of the first packet is the client.
	// A SYN that also carries FIN or RST is no handshake (damage, a scan,
	// a fuzzed capture): it orients nothing.
	srcIsClient := true
	switch {
	case f.T == dissect.TCP && p.Flags&(SYN|ACK|FIN|RST) == SYN:
		f.oriented = true
	case f.T == dissect.TCP && p.Flags&(SYN|ACK|FIN|RST) == SYN|ACK:
		srcIsClient, f.oriented = false, true
	default:
		dd, ds := t.ports[dissect.Port{T: f.T, Port: p.DstPort}], t.ports[dissect.Port{T: f.T, Port: p.SrcPort}]
		switch {
		case dd != nil:
		case ds != nil:
			srcIsClient = false
		case p.SrcPort < 1024 && p.DstPort >= 1024:
			srcIsClient = false
		}
	}
	f.clientIsA = srcIsClient == fromA
	if srcIsClient {
		f.Client, f.Server = addrPort(p.IPv, &p.Src, p.SrcPort), addrPort(p.IPv, &p.Dst, p.DstPort)
	} else {
		f.Client, f.Server = addrPort(p.IPv, &p.Dst, p.DstPort), addrPort(p.IPv, &p.Src, p.SrcPort)
	}
	if d := t.ports[dissect.Port{T: f.T, Port: f.Server.Port()}]; d != nil {
		t.attach(f, d)
	} else if d := t.ports[dissect.Port{T: f.T, Port: f.Client.Port()}]; d != nil && f.Client.Port() != f.Server.Port() {
		t.attach(f, d)
	}
	t.flows.put(f, h)
	t.pushFront(f)
	return f
}

func (t *Table) attach(f *Flow, d dissect.Dissector) {
	f.d, f.Proto, f.probed = d, d.Proto(), true
	if sh, ok := d.(dissect.Sharer); ok {
		b, ok := t.shared[d.Proto()]
		if !ok {
			b = sh.NewShared()
			t.shared[d.Proto()] = b
		}
		f.parser = sh.NewSharedParser(b)
	} else {
		f.parser = d.NewParser()
	}
	t.stats.Dissected++
}

// probe looks for a dissector on a flow's first payload when no port
// matched. A matching probe names the sender the client unless a SYN
// already did; with a SYN, only the client's first payload is probed.
func (t *Table) probe(f *Flow, fromA bool, b []byte) {
	senderIsClient := fromA == f.clientIsA
	if f.oriented && !senderIsClient {
		return
	}
	f.probed = true
	for _, d := range t.probes {
		if !d.Probe(f.T, b) {
			continue
		}
		if !senderIsClient {
			f.clientIsA = !f.clientIsA
			f.Client, f.Server = f.Server, f.Client
			f.Packets[0], f.Packets[1] = f.Packets[1], f.Packets[0]
			f.Bytes[0], f.Bytes[1] = f.Bytes[1], f.Bytes[0]
			f.st[0], f.st[1] = f.st[1], f.st[0]
			f.fin[0], f.fin[1] = f.fin[1], f.fin[0]
			f.MAC[0], f.MAC[1] = f.MAC[1], f.MAC[0]
			f.Flags[0], f.Flags[1] = f.Flags[1], f.Flags[0]
		}
		t.attach(f, d)
		return
	}
}

// deliver hands in-order bytes to the flow's parser.
func (t *Table) deliver(f *Flow, dir dissect.Dir, b []byte) {
	if f.parser == nil {
		return
	}
	t.meta.Dir = dir
	f.parser.Data(t.meta, b, t.emitFn)
}

func (t *Table) emit(p *dissect.PDU) {
	if t.evasive && p.Malformed == "" {
		p.Malformed = "ip fragments overlap inconsistently"
	}
	t.cur.PDUs++
	t.h.PDU(t.cur, p)
}

// touch moves f to the front of the LRU list. The transport calls it once
// per sweep epoch (a second of capture time) per flow, not per packet:
// moving a flow touches its two neighbours and the head, three flows'
// memory that a packet does not otherwise need. The list is then ordered
// by the epoch of the last move, so an idle flow ends at most one sweep
// late, and eviction takes a flow idle for at least an epoch when any is.
func (t *Table) touch(f *Flow) {
	f.epoch = t.epoch
	if t.head == f {
		return
	}
	t.unlink(f)
	t.pushFront(f)
}

func (t *Table) pushFront(f *Flow) {
	f.epoch = t.epoch
	f.prev, f.next = nil, t.head
	if t.head != nil {
		t.head.prev = f
	}
	t.head = f
	if t.tail == nil {
		t.tail = f
	}
}

func (t *Table) unlink(f *Flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		t.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// close ends f's dissection (FIN both ways or RST); the flow stays in the
// table for Config.Linger so that late packets do not start a new flow.
func (t *Table) close(f *Flow) {
	t.flush(f)
	f.End = Closed
	f.closedAt = t.now
	t.closedQ = append(t.closedQ, f)
	t.h.FlowEnd(f)
}

// finish ends f for reason e and removes it.
func (t *Table) finish(f *Flow, e End) {
	if f.End != Closed {
		t.flush(f)
		f.End = e
		t.h.FlowEnd(f)
	}
	t.remove(f)
}

func (t *Table) remove(f *Flow) {
	t.unlink(f)
	t.flows.del(f, f.Key.hash())
	for d := range f.st {
		t.stats.Buffered -= f.st[d].buffered()
		f.st[d].ooo = nil
	}
}

// expire ends flows idle for longer than Config.Idle, drops closed flows
// older than Config.Linger and IP datagrams left incomplete for longer
// than Config.FragTimeout.
func (t *Table) expire() {
	t.expireFrags()
	for t.tail != nil && t.now-t.tail.Last > int64(t.cfg.Idle) {
		if t.tail.End != Closed {
			t.stats.Expired++
		}
		t.finish(t.tail, Idle)
	}
	i := 0
	for ; i < len(t.closedQ) && t.now-t.closedQ[i].closedAt > int64(t.cfg.Linger); i++ {
		f := t.closedQ[i]
		if t.flows.get(&f.Key, f.Key.hash()) == f {
			t.remove(f)
		}
	}
	if i > 0 {
		n := copy(t.closedQ, t.closedQ[i:])
		clear(t.closedQ[n:])
		t.closedQ = t.closedQ[:n]
	}
}

// Flush ends every flow, as at the end of a file: buffered out-of-order
// bytes are delivered after a gap.
func (t *Table) Flush() {
	for t.tail != nil {
		t.finish(t.tail, Flushed)
	}
	t.closedQ = t.closedQ[:0]
}

package asset

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// Role is what a host does on the plant network, inferred from behaviour.
type Role string

const (
	Unknown     Role = "unknown"
	Controller  Role = "controller"  // answers industrial requests on a server port
	HMI         Role = "hmi"         // polls (and writes) tags of a few controllers
	Engineering Role = "engineering" // program upload/download, stop/start, diagnostics
	Historian   Role = "historian"   // reads many points from many controllers
)

// Asset is one host of the inventory.
type Asset struct {
	IP         string            `json:"ip"`
	MAC        string            `json:"mac,omitempty"`
	Vendor     string            `json:"vendor,omitempty"` // from the MAC's OUI
	Name       string            `json:"name,omitempty"`   // configured device name
	Driver     string            `json:"driver,omitempty"` // configured driver
	Configured bool              `json:"configured"`       // declared in the otlink config
	Seen       bool              `json:"seen"`             // seen on the wire
	Role       Role              `json:"role"`
	RoleReason string            `json:"role_reason,omitempty"`
	ServerOf   []string          `json:"server_of"` // protocols it answers
	ClientOf   []string          `json:"client_of"` // protocols it speaks as a client
	Peers      int               `json:"peers"`     // distinct hosts it talked to
	Identity   map[string]string `json:"identity,omitempty"`
	VLANs      []uint16          `json:"vlans,omitempty"`
	First      time.Time         `json:"first_seen,omitzero"`
	Last       time.Time         `json:"last_seen,omitzero"`
	Packets    uint64            `json:"packets"` // packets sent and received
	Bytes      uint64            `json:"bytes"`   // payload bytes sent and received
}

// host is the running state of one address.
type host struct {
	addr      netip.Addr
	mac       [6]byte
	first     int64
	last      int64
	packets   uint64
	bytes     uint64
	sent      uint64 // packets sent by the host (broadcast targets send none)
	server    map[string]bool
	client    map[string]bool
	peers     map[netip.Addr]struct{}
	vlans     map[uint16]struct{}
	identity  map[string]string
	answered  uint64                  // industrial requests answered as a server
	reads     uint64                  // read requests sent
	writes    uint64                  // write requests sent
	eng       uint64                  // program, mode, firmware, restart requests sent
	identify  uint64                  // identity / diagnostic / block-list requests sent
	ctrls     map[netip.Addr]struct{} // servers it sent industrial requests to
	points    points                  // distinct objects read or written (bounded)
	id        uint32                  // 1-based number of the host in its inventory
	configure *Asset                  // configured device merged in, nil when none
}

// pointKey names an address space of one server host.
func pointKey(server uint32, space uint16) uint64 {
	return uint64(server)<<16 | uint64(space)
}

// spaceID numbers address space names ("holding", "coil"...): a few per
// protocol, so a linear search, the same string usually found first by
// pointer.
func (inv *Inventory) spaceID(s string) uint16 {
	for i, x := range inv.spaces {
		if x == s {
			return uint16(i)
		}
	}
	if len(inv.spaces) == 4095 {
		return 4095 // every further name shares the last number
	}
	inv.spaces = append(inv.spaces, s)
	return uint16(len(inv.spaces) - 1)
}

// maxPoints bounds the distinct objects remembered per host.
const maxPoints = 4096

// Inventory builds assets from flows and PDUs. It is not safe for
// concurrent use (one per capture goroutine), like the flow table.
type Inventory struct {
	hosts      map[netip.Addr]*host
	configured []Asset
	spaces     []string // address space names by spaceID
	// byFlow remembers the hosts of recent flows, so that a PDU costs one
	// comparison instead of two map lookups keyed by address (profiled:
	// the inventory was 30 % of `otlink analyze`).
	byFlow [flowCache]flowHosts
}

// flowHosts is what the inventory remembers of one flow.
type flowHosts struct {
	f        *flow.Flow
	id       uint64
	cli, srv *host
	ctrl     bool   // srv is in cli.ctrls already
	objs     uint64 // signature of the last request's objects, 0 = none
}

// flowCache is the number of flows remembered, a power of two: flow ids
// are consecutive, so it holds the last flowCache flows created.
const flowCache = 4096

// New returns an empty inventory.
func New() *Inventory { return &Inventory{hosts: map[netip.Addr]*host{}} }

// Configure merges configured devices (see FromConfig): they are listed
// even when never seen, and marked configured when seen.
func (inv *Inventory) Configure(devs []Asset) { inv.configured = append(inv.configured, devs...) }

// skip reports addresses that are not hosts: multicast, broadcast and
// unspecified.
func skip(a netip.Addr) bool {
	if !a.IsValid() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	return a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

func (inv *Inventory) get(a netip.Addr) *host {
	a = a.Unmap()
	if skip(a) {
		return nil
	}
	h := inv.hosts[a]
	if h == nil {
		h = &host{addr: a, server: map[string]bool{}, client: map[string]bool{}, peers: map[netip.Addr]struct{}{},
			vlans: map[uint16]struct{}{}, ctrls: map[netip.Addr]struct{}{},
			id: uint32(len(inv.hosts)+1) & (1<<20 - 1)}
		inv.hosts[a] = h
	}
	return h
}

// identityDeny are identity keys that describe a session, not the device.
var identityDeny = map[string]bool{"username": true, "password": true, "keep_alive": true, "will_topic": true, "security_policy": true, "security_mode": true}

// hostsOf returns the cached hosts of f.
func (inv *Inventory) hostsOf(f *flow.Flow) *flowHosts {
	c := &inv.byFlow[f.ID&(flowCache-1)]
	if c.f != f || c.id != f.ID {
		*c = flowHosts{f: f, id: f.ID, cli: inv.get(f.Client.Addr()), srv: inv.get(f.Server.Addr())}
	}
	return c
}

// PDU implements analyze.Observer.
func (inv *Inventory) PDU(f *flow.Flow, p *dissect.PDU) {
	c := inv.hostsOf(f)
	cli, srv := c.cli, c.srv
	sender := cli
	if p.Meta.Dir == dissect.ToClient {
		sender = srv
	}
	if sender != nil && len(p.Identity) > 0 {
		if sender.identity == nil {
			sender.identity = map[string]string{}
		}
		for k, v := range p.Identity {
			if v != "" && !identityDeny[k] && len(sender.identity) < 64 {
				sender.identity[k] = v
			}
		}
	}
	if p.Meta.Dir != dissect.ToServer || p.Response {
		return
	}
	// A request (or a spontaneous message) from the client side.
	if srv != nil && f.T == dissect.TCP || srv != nil && p.Request {
		srv.answered++
	}
	if cli == nil {
		return
	}
	if srv != nil && !c.ctrl {
		cli.ctrls[srv.addr] = struct{}{}
		c.ctrl = true
	}
	switch p.Action {
	case dissect.ActRead:
		cli.reads++
	case dissect.ActWrite:
		cli.writes++
	case dissect.ActStop, dissect.ActStart, dissect.ActModeChange, dissect.ActUpload, dissect.ActDownload, dissect.ActFirmware, dissect.ActRestart:
		cli.eng++
	case dissect.ActIdentify:
		cli.identify++
	}
	if (p.Action == dissect.ActRead || p.Action == dissect.ActWrite) && cli.points.len() < maxPoints && len(p.Objects) > 0 {
		// A poller repeats the same request: its objects are counted once.
		sig := objectsSig(p.Objects)
		if sig == c.objs {
			return
		}
		c.objs = sig
		var sid uint32 // 0 for a server that is no host (multicast, broadcast)
		if srv != nil {
			sid = srv.id
		}
		for _, o := range p.Objects {
			if cli.points.len() >= maxPoints {
				break
			}
			// At most 256 addresses of one object, as a bound on what one
			// PDU can add.
			cli.points.add(pointKey(sid, inv.spaceID(o.Space)), o.Start, min(o.Count, 256))
		}
	}
}

// objectsSig is a hash of the spaces and ranges of objs, never 0.
func objectsSig(objs []dissect.Object) uint64 {
	h := uint64(14695981039346656037)
	for _, o := range objs {
		for i := range len(o.Space) {
			h = (h ^ uint64(o.Space[i])) * 1099511628211
		}
		h = (h ^ uint64(o.Start)) * 1099511628211
		h = (h ^ uint64(o.Count)) * 1099511628211
	}
	return h | 1
}

// FlowEnd implements analyze.FlowObserver: traffic counters, MACs,
// protocols and peers come from flows, so hosts that speak no industrial
// protocol are inventoried too.
func (inv *Inventory) FlowEnd(f *flow.Flow) {
	c := inv.hostsOf(f)
	cli, srv := c.cli, c.srv
	c.f = nil // the flow ends: free the slot and the flow
	for d, h := range [2]*host{cli, srv} {
		if h == nil {
			continue
		}
		if h.first == 0 || f.First < h.first {
			h.first = f.First
		}
		h.last = max(h.last, f.Last)
		h.packets += f.Packets[0] + f.Packets[1]
		h.bytes += f.Bytes[0] + f.Bytes[1]
		h.sent += f.Packets[d]
		if f.MAC[d] != ([6]byte{}) && f.Packets[d] > 0 {
			h.mac = f.MAC[d]
		}
		if f.VLAN != 0 {
			h.vlans[f.VLAN] = struct{}{}
		}
	}
	if cli != nil && srv != nil {
		cli.peers[srv.addr] = struct{}{}
		srv.peers[cli.addr] = struct{}{}
	}
	// A protocol counts only when the flow carried PDUs: a dissector is
	// attached by port, and a port scan must not make a host a server.
	if f.Proto != "" && f.PDUs > 0 {
		if cli != nil {
			cli.client[f.Proto] = true
		}
		if srv != nil && f.Packets[1] > 0 {
			srv.server[f.Proto] = true
		}
	}
}

// Report implements analyze.Reporter.
func (inv *Inventory) Report(fs *analyze.FileSummary) {
	for _, a := range inv.Assets() {
		fs.Assets = append(fs.Assets, a)
	}
}

// Has reports whether a was seen.
func (inv *Inventory) Has(a netip.Addr) bool { _, ok := inv.hosts[a.Unmap()]; return ok }

// Role returns the role inferred so far for a.
func (inv *Inventory) Role(a netip.Addr) Role {
	h := inv.hosts[a.Unmap()]
	if h == nil {
		return Unknown
	}
	r, _ := h.role()
	return r
}

// role infers what a host does from what it sent and answered.
func (h *host) role() (Role, string) {
	req := h.reads + h.writes
	switch {
	case h.eng > 0:
		return Engineering, fmt.Sprintf("sent %d program, mode, firmware or restart requests", h.eng)
	case h.identify >= 3 && h.identify > req:
		return Engineering, fmt.Sprintf("sent %d diagnostic, identity or block-list requests", h.identify)
	case h.answered > 0 && len(h.server) > 0:
		return Controller, fmt.Sprintf("answered %d industrial requests (%s)", h.answered, joinKeys(h.server))
	case req > 0 && len(h.ctrls) >= 5 && h.writes*20 <= req:
		return Historian, fmt.Sprintf("read %d points from %d controllers", min(h.points.len(), maxPoints), len(h.ctrls))
	case req > 0:
		return HMI, fmt.Sprintf("polled %d points from %d controllers (%d reads, %d writes)", min(h.points.len(), maxPoints), len(h.ctrls), h.reads, h.writes)
	}
	return Unknown, ""
}

func joinKeys(m map[string]bool) string {
	s := ""
	for _, k := range sortedKeys(m) {
		if s != "" {
			s += ", "
		}
		s += k
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Len is the number of assets Assets would return, without building them
// (the monitor's statistics ask for it while packets wait).
func (inv *Inventory) Len() int {
	n := 0
	for _, h := range inv.hosts {
		if !broadcastTarget(h) {
			n++
		}
	}
	for _, c := range inv.configured {
		ip, err := netip.ParseAddr(c.IP)
		if h := inv.hosts[ip.Unmap()]; err != nil || h == nil || broadcastTarget(h) {
			n++
		}
	}
	return n
}

// broadcastTarget reports a subnet broadcast address (x.x.x.255) that
// never sent a packet: a BACnet or discovery target, not a host.
func broadcastTarget(h *host) bool {
	return h.sent == 0 && h.addr.Is4() && h.addr.As4()[3] == 255
}

// sharedMAC is the number of addresses behind one MAC beyond which the MAC
// is taken to be a router's and not reported for them.
const sharedMAC = 3

// Assets returns the inventory sorted by address, configured devices
// merged in.
func (inv *Inventory) Assets() []Asset {
	macUse := map[[6]byte]int{}
	for _, h := range inv.hosts {
		if h.mac != ([6]byte{}) {
			macUse[h.mac]++
		}
	}
	byIP := map[netip.Addr]*Asset{}
	out := make([]Asset, 0, len(inv.hosts)+len(inv.configured))
	for _, h := range inv.hosts {
		if broadcastTarget(h) {
			continue
		}
		a := Asset{IP: h.addr.String(), Seen: true, ServerOf: sortedKeys(h.server), ClientOf: sortedKeys(h.client), Peers: len(h.peers),
			Packets: h.packets, Bytes: h.bytes}
		if h.mac != ([6]byte{}) && macUse[h.mac] < sharedMAC {
			hw := net.HardwareAddr(h.mac[:])
			a.MAC, a.Vendor = hw.String(), Vendor(hw)
		}
		a.Role, a.RoleReason = h.role()
		if len(h.identity) > 0 {
			a.Identity = make(map[string]string, len(h.identity))
			for k, v := range h.identity {
				a.Identity[k] = v
			}
		}
		for v := range h.vlans {
			a.VLANs = append(a.VLANs, v)
		}
		slices.Sort(a.VLANs)
		if h.first != 0 {
			a.First, a.Last = time.Unix(0, h.first).UTC(), time.Unix(0, h.last).UTC()
		}
		out = append(out, a)
	}
	for i := range out {
		ip, _ := netip.ParseAddr(out[i].IP)
		byIP[ip] = &out[i]
	}
	for _, c := range inv.configured {
		ip, err := netip.ParseAddr(c.IP)
		if a := byIP[ip.Unmap()]; err == nil && a != nil {
			a.Configured, a.Name, a.Driver = true, c.Name, c.Driver
			continue
		}
		c.Configured, c.Seen, c.Role = true, false, Unknown
		c.ServerOf, c.ClientOf = []string{}, []string{}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := netip.ParseAddr(out[i].IP)
		b, _ := netip.ParseAddr(out[j].IP)
		if c := a.Compare(b); c != 0 {
			return c < 0
		}
		return out[i].Name < out[j].Name
	})
	return out
}

var (
	_ analyze.Observer     = (*Inventory)(nil)
	_ analyze.FlowObserver = (*Inventory)(nil)
	_ analyze.Reporter     = (*Inventory)(nil)
)

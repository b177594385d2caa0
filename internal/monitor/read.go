package monitor

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/monitor/view"
)

// ZoneRule says how the connection map groups hosts. The configuration
// has no zones yet: a host's zone is its IPv4 /24 or IPv6 /64 subnet,
// prefixed with its VLAN when its traffic is tagged.
const ZoneRule = "subnet: IPv4 /24, IPv6 /64; prefixed with the VLAN id when the traffic is tagged"

// zoneOf returns the configured zone (monitor.zones) that holds a, the
// first that does, else the subnet rule's zone.
func (m *Monitor) zoneOf(a netip.Addr, vlan uint16) string {
	a = a.Unmap()
	for _, z := range m.zones {
		for _, p := range z.nets {
			if p.Contains(a) {
				return z.name
			}
		}
	}
	return ZoneOf(a, vlan)
}

// zone is a configured zone, parsed (the config validator checked it).
type zone struct {
	name string
	nets []netip.Prefix
}

func parseZones(cfg []config.MonitorZone) []zone {
	out := make([]zone, 0, len(cfg))
	for _, z := range cfg {
		zz := zone{name: z.Name}
		for _, n := range z.Networks {
			if p, err := netip.ParsePrefix(n); err == nil {
				zz.nets = append(zz.nets, p.Masked())
			}
		}
		out = append(out, zz)
	}
	return out
}

// ZoneOf returns the subnet zone of an address seen on VLAN vlan (0:
// untagged): the rule for hosts in no configured zone.
func ZoneOf(a netip.Addr, vlan uint16) string {
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	z := a.String()
	if err == nil {
		z = p.String()
	}
	if vlan != 0 {
		z = fmt.Sprintf("VLAN %d %s", vlan, z)
	}
	return z
}

// MaxEdges bounds the edges of the connection map: the busiest are kept.
const MaxEdges = 300

// Rates returns the packet and byte rates per protocol over the last
// RateWindow complete seconds, with the last seriesSecs seconds of
// packets.
func (m *Monitor) Rates() view.Rates {
	s := m.Stats()
	out := view.Rates{Learning: s.Learning, Window: RateWindow, Packets: s.Packets, Bytes: s.Bytes, Drops: s.Drops, Protos: []view.ProtoRate{}}
	l := m.live
	l.mu.Lock()
	now := l.now().Unix()
	for label, r := range l.rates {
		pr := view.ProtoRate{Proto: label, Packets: l.totals[label][0], Bytes: l.totals[label][1], Series: make([]uint64, seriesSecs)}
		var pk, by uint64
		for i := int64(1); i <= RateWindow; i++ {
			p, b := r.at(now - i)
			pk += p
			by += b
		}
		pr.PPS, pr.BPS = float64(pk)/RateWindow, float64(by)/RateWindow
		for i := range seriesSecs {
			pr.Series[i], _ = r.at(now - int64(seriesSecs-i))
		}
		out.Protos = append(out.Protos, pr)
	}
	l.mu.Unlock()
	sort.Slice(out.Protos, func(i, j int) bool {
		a, b := out.Protos[i], out.Protos[j]
		if a.PPS != b.PPS {
			return a.PPS > b.PPS
		}
		if a.Packets != b.Packets {
			return a.Packets > b.Packets
		}
		return a.Proto < b.Proto
	})
	return out
}

// inventory returns the inventory's assets by address.
func (m *Monitor) inventory() map[string]asset.Asset {
	m.mu.Lock()
	as := m.inv.Assets()
	m.mu.Unlock()
	out := make(map[string]asset.Asset, len(as))
	for _, a := range as {
		out[a.IP] = a
	}
	return out
}

func (f *vflow) view() view.Flow {
	v := view.Flow{ID: f.id, Client: f.client.String(), Server: f.server.String(), Transport: f.transport, Proto: f.proto, VLAN: f.vlan,
		First: f.first, Last: f.last, Packets: f.packets, Bytes: f.bytes, PDUs: f.pdus, Ended: f.ended, Functions: f.functions()}
	return v
}

func (f *vflow) functions() []view.Function {
	out := make([]view.Function, 0, len(f.fns))
	for _, c := range f.fns {
		out = append(out, view.Function{Proto: f.proto, Code: c.code, Name: c.name, Count: c.n})
	}
	sortFunctions(out)
	return out
}

func sortFunctions(l []view.Function) {
	sort.Slice(l, func(i, j int) bool {
		if l[i].Count != l[j].Count {
			return l[i].Count > l[j].Count
		}
		if l[i].Proto != l[j].Proto {
			return l[i].Proto < l[j].Proto
		}
		return l[i].Code < l[j].Code
	})
}

// hostStat is a host's traffic over the retained flows.
type hostStat struct {
	addr           netip.Addr
	vlan           uint16
	packets, bytes uint64
	flows          int
	peers          map[netip.Addr]struct{}
}

// hosts sums the retained flows per host. Called with l.mu held.
func (l *live) hosts() map[netip.Addr]*hostStat {
	out := map[netip.Addr]*hostStat{}
	get := func(a netip.Addr, vlan uint16) *hostStat {
		a = a.Unmap()
		h := out[a]
		if h == nil {
			h = &hostStat{addr: a, vlan: vlan, peers: map[netip.Addr]struct{}{}}
			out[a] = h
		}
		return h
	}
	for _, f := range l.all {
		c, s := get(f.client.Addr(), f.vlan), get(f.server.Addr(), f.vlan)
		for _, h := range []*hostStat{c, s} {
			h.packets += f.packets[0] + f.packets[1]
			h.bytes += f.bytes[0] + f.bytes[1]
			h.flows++
		}
		c.peers[s.addr] = struct{}{}
		s.peers[c.addr] = struct{}{}
	}
	return out
}

// Map returns the connection map over the retained flows: who talks to
// whom, with which protocols and functions, hosts grouped by zone.
func (m *Monitor) Map() view.Map {
	inv := m.inventory()
	type ekey struct{ c, s netip.Addr }
	edges := map[ekey]*view.Edge{}
	fns := map[ekey]map[view.Function]uint64{}
	l := m.live
	l.mu.Lock()
	hs := l.hosts()
	for _, f := range l.all {
		k := ekey{f.client.Addr().Unmap(), f.server.Addr().Unmap()}
		e := edges[k]
		if e == nil {
			e = &view.Edge{Client: k.c.String(), Server: k.s.String(), Protos: []string{}}
			edges[k] = e
			fns[k] = map[view.Function]uint64{}
		}
		if !contains(e.Protos, f.proto) {
			e.Protos = append(e.Protos, f.proto)
		}
		for _, c := range f.fns {
			fns[k][view.Function{Proto: f.proto, Code: c.code, Name: c.name}] += c.n
		}
		e.Packets += f.packets[0] + f.packets[1]
		e.Bytes += f.bytes[0] + f.bytes[1]
		e.Flows++
		if f.last.After(e.Last) {
			e.Last = f.last
		}
	}
	l.mu.Unlock()
	rule := ZoneRule
	if len(m.zones) > 0 {
		rule = "configured zones (monitor.zones); other hosts by " + ZoneRule
	}
	out := view.Map{Rule: rule, Zones: []view.Zone{}, Edges: make([]view.Edge, 0, len(edges))}
	for k, e := range edges {
		e.Functions = []view.Function{}
		for f, n := range fns[k] {
			f.Count = n
			e.Functions = append(e.Functions, f)
		}
		sortFunctions(e.Functions)
		sort.Strings(e.Protos)
		out.Edges = append(out.Edges, *e)
	}
	sort.Slice(out.Edges, func(i, j int) bool {
		a, b := out.Edges[i], out.Edges[j]
		if a.Packets != b.Packets {
			return a.Packets > b.Packets
		}
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		return a.Server < b.Server
	})
	if len(out.Edges) > MaxEdges {
		out.Edges = out.Edges[:MaxEdges]
	}
	// The hosts of the edges kept, by zone.
	zones := map[string][]view.Host{}
	seen := map[string]bool{}
	for _, e := range out.Edges {
		for _, ip := range []string{e.Client, e.Server} {
			if seen[ip] {
				continue
			}
			seen[ip] = true
			a := netip.MustParseAddr(ip)
			h := hs[a]
			vh := view.Host{IP: ip, Role: string(asset.Unknown), Zone: m.zoneOf(a, h.vlan), Packets: h.packets, Bytes: h.bytes}
			if ia, ok := inv[ip]; ok {
				vh.Name, vh.Role = ia.Name, string(ia.Role)
			}
			zones[vh.Zone] = append(zones[vh.Zone], vh)
		}
	}
	for name, hosts := range zones {
		sort.Slice(hosts, func(i, j int) bool { return addrLess(hosts[i].IP, hosts[j].IP) })
		out.Zones = append(out.Zones, view.Zone{Name: name, Hosts: hosts})
	}
	sort.Slice(out.Zones, func(i, j int) bool { return out.Zones[i].Name < out.Zones[j].Name })
	return out
}

func addrLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return x.Less(y)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Talkers returns the n hosts with the most bytes over the retained flows.
func (m *Monitor) Talkers(n int) []view.Talker {
	inv := m.inventory()
	l := m.live
	l.mu.Lock()
	hs := l.hosts()
	l.mu.Unlock()
	out := make([]view.Talker, 0, len(hs))
	for a, h := range hs {
		t := view.Talker{IP: a.String(), Zone: m.zoneOf(a, h.vlan), Role: string(asset.Unknown), Packets: h.packets, Bytes: h.bytes, Peers: len(h.peers)}
		if ia, ok := inv[t.IP]; ok {
			t.Role = string(ia.Role)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return addrLess(out[i].IP, out[j].IP)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Assets returns the inventory (configured devices merged in) with each
// host's traffic over the retained flows, and the hosts of retained flows
// the inventory has not taken yet.
func (m *Monitor) Assets() []view.Asset {
	m.mu.Lock()
	as := m.inv.Assets()
	m.mu.Unlock()
	l := m.live
	l.mu.Lock()
	hs := l.hosts()
	l.mu.Unlock()
	out := make([]view.Asset, 0, len(as))
	done := map[netip.Addr]bool{}
	for _, a := range as {
		v := view.Asset{IP: a.IP, MAC: a.MAC, Vendor: a.Vendor, Name: a.Name, Role: string(a.Role), RoleReason: a.RoleReason,
			ServerOf: a.ServerOf, ClientOf: a.ClientOf, Identity: a.Identity, First: a.First, Last: a.Last}
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			var vlan uint16
			if len(a.VLANs) > 0 {
				vlan = a.VLANs[0]
			}
			if h := hs[ip]; h != nil {
				v.Packets, v.Bytes, v.Flows, vlan = h.packets, h.bytes, h.flows, h.vlan
			}
			v.Zone = m.zoneOf(ip, vlan)
			done[ip] = true
		}
		out = append(out, v)
	}
	for ip, h := range hs {
		if done[ip] || !ip.IsValid() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		out = append(out, view.Asset{IP: ip.String(), Role: string(asset.Unknown), Zone: m.zoneOf(ip, h.vlan), ServerOf: []string{}, ClientOf: []string{},
			Packets: h.packets, Bytes: h.bytes, Flows: h.flows})
	}
	for i := range out {
		if out[i].ServerOf == nil {
			out[i].ServerOf = []string{}
		}
		if out[i].ClientOf == nil {
			out[i].ClientOf = []string{}
		}
	}
	sort.Slice(out, func(i, j int) bool { return addrLess(out[i].IP, out[j].IP) })
	return out
}

// maxAssetFlows bounds the flows listed for one asset: the most recent.
const maxAssetFlows = 500

// AssetFlows returns the retained flows of the host at ip, most recent
// first.
func (m *Monitor) AssetFlows(ip string) ([]view.Flow, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, errcode.New(errcode.SecurityBadInput, "address %q does not parse", ip)
	}
	a = a.Unmap()
	l := m.live
	l.mu.Lock()
	out := []view.Flow{}
	for _, f := range l.all {
		if f.client.Addr().Unmap() == a || f.server.Addr().Unmap() == a {
			out = append(out, f.view())
		}
	}
	l.mu.Unlock()
	if len(out) == 0 {
		m.mu.Lock()
		known := m.inv.Has(a)
		m.mu.Unlock()
		if !known {
			return nil, errcode.New(errcode.APINotFound, "no asset %s", a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Last.Equal(out[j].Last) {
			return out[i].Last.After(out[j].Last)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > maxAssetFlows {
		out = out[:maxAssetFlows]
	}
	return out, nil
}

// FlowPDUs returns a retained flow and its recent PDUs, oldest first.
func (m *Monitor) FlowPDUs(id uint64) (view.Flow, []view.PDU, error) {
	l := m.live
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.all[id]
	if f == nil {
		return view.Flow{}, nil, errcode.New(errcode.APINotFound, "no flow %d: it ended long ago or never was", id)
	}
	// Deep copies: the ring's slots are reused by the next PDUs.
	out := make([]view.PDU, 0, len(f.ring))
	for _, r := range append(f.ring[f.head:len(f.ring):len(f.ring)], f.ring[:f.head]...) {
		if len(r.Objects) > 0 {
			objs := make([]view.Object, len(r.Objects))
			for i, o := range r.Objects {
				objs[i] = o
				objs[i].Values = slices.Clone(o.Values)
			}
			r.Objects = objs
		}
		r.Identity = maps.Clone(r.Identity)
		out = append(out, r)
	}
	return f.view(), out, nil
}

// now is the read model's clock, for tests.
func (m *Monitor) setClock(now func() time.Time) {
	m.live.mu.Lock()
	m.live.now = now
	m.live.mu.Unlock()
}

package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/flow"
)

// BaselineVersion is the version of the baseline file format.
const BaselineVersion = 1

// Baseline is the allow-list learned from normal traffic. It is saved as
// indented JSON meant to be reviewed and edited (docs/detections.md).
type Baseline struct {
	Version     int          `json:"version"`
	Learned     Learned      `json:"learned"`
	Assets      []BaseAsset  `json:"assets"`
	Connections []Connection `json:"connections"`

	idx *baseIndex
}

// Learned says what the baseline was learned from.
type Learned struct {
	From  time.Time `json:"from,omitzero"`
	To    time.Time `json:"to,omitzero"`
	Files []string  `json:"files,omitempty"`
}

// BaseAsset is a host allowed on the network.
type BaseAsset struct {
	IP   string `json:"ip"`
	Note string `json:"note,omitempty"`
}

// Connection is an allowed (client, server, protocol) with the functions
// the client used and its request rate.
type Connection struct {
	Client        string     `json:"client"`
	Server        string     `json:"server"`
	Proto         string     `json:"proto"`
	Requests      uint64     `json:"requests"`        // request PDUs learned
	PeakPerMinute int        `json:"peak_per_minute"` // most request PDUs in one minute
	Functions     []Function `json:"functions"`
	Note          string     `json:"note,omitempty"`
}

// Function is an allowed function of a connection with the address ranges
// it touched. An entry with no ranges allows any address.
type Function struct {
	Code   uint32  `json:"code"`
	Map    string  `json:"map,omitempty"` // "" functions, "commands" (enip), "unconfirmed" (bacnet): as in the summary
	Name   string  `json:"name,omitempty"`
	Action string  `json:"action"`
	Count  uint64  `json:"count"`
	Ranges []Range `json:"ranges,omitempty"`
}

// Range is an inclusive address range of one address space.
type Range struct {
	Space string `json:"space"`
	Start uint32 `json:"start"`
	End   uint32 `json:"end"`
}

// maxRanges bounds the ranges kept per function: beyond it they are
// merged into one span per space.
const maxRanges = 64

func mapName(c dissect.Counting) string {
	switch c {
	case dissect.CountCommand:
		return "commands"
	case dissect.CountUnconfirmed:
		return "unconfirmed"
	}
	return ""
}

type connKey struct {
	client, server netip.Addr
	proto          string
}

type fnKey struct {
	code uint32
	m    string
}

// writeActions are the actions that change a device.
func writeAction(a dissect.Action) bool {
	switch a {
	case dissect.ActWrite, dissect.ActDownload, dissect.ActFirmware, dissect.ActStop, dissect.ActStart,
		dissect.ActModeChange, dissect.ActRestart, dissect.ActTimeSet:
		return true
	}
	return false
}

var actionByName = func() map[string]dissect.Action {
	m := map[string]dissect.Action{}
	for a := dissect.ActOther; a <= dissect.ActConnect; a++ {
		m[a.String()] = a
	}
	return m
}()

type baseFn struct {
	f      *Function
	action dissect.Action
}

type baseConn struct {
	c   *Connection
	fns map[fnKey]baseFn
}

type baseIndex struct {
	assets  map[netip.Addr]bool
	conns   map[connKey]*baseConn
	writers map[netip.Addr]bool
}

// index validates the baseline and builds its lookup tables.
func (b *Baseline) index() error {
	if b.Version != BaselineVersion {
		return errcode.New(errcode.DetectBaselineFormat, "baseline version %d, want %d", b.Version, BaselineVersion)
	}
	ix := &baseIndex{assets: map[netip.Addr]bool{}, conns: map[connKey]*baseConn{}, writers: map[netip.Addr]bool{}}
	for i, a := range b.Assets {
		ip, err := netip.ParseAddr(a.IP)
		if err != nil {
			return errcode.Wrap(errcode.DetectBaselineFormat, err, "assets[%d]", i)
		}
		ix.assets[ip.Unmap()] = true
	}
	for i := range b.Connections {
		c := &b.Connections[i]
		cl, err := netip.ParseAddr(c.Client)
		if err != nil {
			return errcode.Wrap(errcode.DetectBaselineFormat, err, "connections[%d].client", i)
		}
		sv, err := netip.ParseAddr(c.Server)
		if err != nil {
			return errcode.Wrap(errcode.DetectBaselineFormat, err, "connections[%d].server", i)
		}
		if c.Proto == "" {
			return errcode.New(errcode.DetectBaselineFormat, "connections[%d]: empty proto", i)
		}
		k := connKey{cl.Unmap(), sv.Unmap(), c.Proto}
		bc := ix.conns[k]
		if bc == nil {
			bc = &baseConn{c: c, fns: map[fnKey]baseFn{}}
			ix.conns[k] = bc
		}
		for j := range c.Functions {
			f := &c.Functions[j]
			act, ok := actionByName[f.Action]
			if !ok {
				return errcode.New(errcode.DetectBaselineFormat, "connections[%d].functions[%d]: unknown action %q", i, j, f.Action)
			}
			if f.Map != "" && f.Map != "commands" && f.Map != "unconfirmed" {
				return errcode.New(errcode.DetectBaselineFormat, "connections[%d].functions[%d]: map %q, want \"\", commands or unconfirmed", i, j, f.Map)
			}
			for r, rg := range f.Ranges {
				if rg.End < rg.Start {
					return errcode.New(errcode.DetectBaselineFormat, "connections[%d].functions[%d].ranges[%d]: end %d before start %d", i, j, r, rg.End, rg.Start)
				}
			}
			bc.fns[fnKey{f.Code, f.Map}] = baseFn{f, act}
			if writeAction(act) {
				ix.writers[cl.Unmap()] = true
			}
		}
		// The hosts of an allowed connection are allowed assets.
		ix.assets[cl.Unmap()], ix.assets[sv.Unmap()] = true, true
	}
	b.idx = ix
	return nil
}

// LoadBaseline reads and validates a baseline file.
func LoadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.DetectBaselineRead, err, "read baseline %s", path)
	}
	return ParseBaseline(data, path)
}

// ParseBaseline decodes and validates a baseline; name is used in errors.
func ParseBaseline(data []byte, name string) (*Baseline, error) {
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, errcode.Wrap(errcode.DetectBaselineFormat, err, "baseline %s", name)
	}
	if err := b.index(); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	return &b, nil
}

// Save writes the baseline as indented JSON.
func (b *Baseline) Save(path string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return errcode.Wrap(errcode.DetectBaselineWrite, err, "encode baseline")
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return errcode.Wrap(errcode.DetectBaselineWrite, err, "write baseline %s", path)
	}
	return nil
}

// Learner builds a Baseline from traffic. One Learner may observe several
// files in turn (it is not safe for concurrent use).
type Learner struct {
	assets map[netip.Addr]bool
	conns  map[connKey]*learnConn
	files  []string
	from   int64
	to     int64
	// byFlow remembers the connection of recent flows (by flow id), so
	// that a request costs no lookup keyed by two addresses and a name.
	byFlow [flowNames]learnSlot
}

type learnSlot struct {
	f     *flow.Flow
	id    uint64
	proto string
	c     *learnConn
}

type learnConn struct {
	requests uint64
	minute   int64
	inMinute int
	peak     int
	fns      map[fnKey]*learnFn
}

type learnFn struct {
	name   string
	action dissect.Action
	count  uint64
	ranges []Range
}

// NewLearner returns an empty learner.
func NewLearner() *Learner {
	return &Learner{assets: map[netip.Addr]bool{}, conns: map[connKey]*learnConn{}}
}

// ForFile returns the learner as the observers of one file, recording the
// file's name in the baseline.
func (l *Learner) ForFile(path string) []analyze.Observer {
	l.files = append(l.files, path)
	return []analyze.Observer{l}
}

// clientRequest reports whether p is a request from the client side, the
// PDUs the baseline is made of.
func clientRequest(p *dissect.PDU) bool {
	return p.Meta.Dir == dissect.ToServer && !p.Response && p.Counting != dissect.CountNone
}

// PDU implements analyze.Observer.
func (l *Learner) PDU(f *flow.Flow, p *dissect.PDU) {
	if p.Meta.Time != 0 {
		if l.from == 0 || p.Meta.Time < l.from {
			l.from = p.Meta.Time
		}
		l.to = max(l.to, p.Meta.Time)
	}
	if !clientRequest(p) || p.Malformed != "" {
		return
	}
	slot := &l.byFlow[f.ID&(flowNames-1)]
	c := slot.c
	if slot.f != f || slot.id != f.ID || slot.proto != p.Proto {
		k := connKey{f.Client.Addr().Unmap(), f.Server.Addr().Unmap(), p.Proto}
		c = l.conns[k]
		if c == nil {
			c = &learnConn{fns: map[fnKey]*learnFn{}, minute: -1}
			l.conns[k] = c
		}
		*slot = learnSlot{f, f.ID, p.Proto, c}
	}
	c.requests++
	m := p.Meta.Time / int64(time.Minute)
	if m != c.minute {
		c.minute, c.inMinute = m, 0
	}
	c.inMinute++
	c.peak = max(c.peak, c.inMinute)
	fk := fnKey{p.Function, mapName(p.Counting)}
	fn := c.fns[fk]
	if fn == nil {
		fn = &learnFn{name: p.Name, action: p.Action}
		c.fns[fk] = fn
	}
	fn.count++
	for _, o := range p.Objects {
		if o.Count == 0 {
			continue
		}
		fn.ranges = mergeRange(fn.ranges, Range{o.Space, o.Start, o.Start + o.Count - 1})
	}
}

// FlowEnd implements analyze.FlowObserver: every host that sent a packet
// is an allowed asset.
func (l *Learner) FlowEnd(f *flow.Flow) {
	if f.Packets[0] > 0 && !skipAddr(f.Client.Addr()) {
		l.assets[f.Client.Addr().Unmap()] = true
	}
	if f.Packets[1] > 0 && !skipAddr(f.Server.Addr()) {
		l.assets[f.Server.Addr().Unmap()] = true
	}
}

func skipAddr(a netip.Addr) bool {
	return !a.IsValid() || a.IsMulticast() || a.IsUnspecified() || a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

// mergeRange adds r to a sorted list of ranges, merging overlapping and
// adjacent ones of the same space.
func mergeRange(l []Range, r Range) []Range {
	for _, x := range l {
		if x.Space == r.Space && x.Start <= r.Start && r.End <= x.End {
			return l // covered: a poller reads the same registers again and again
		}
	}
	i := sort.Search(len(l), func(i int) bool {
		return l[i].Space > r.Space || l[i].Space == r.Space && l[i].Start >= r.Start
	})
	l = append(l, Range{})
	copy(l[i+1:], l[i:])
	l[i] = r
	out := l[:0]
	for _, x := range l {
		if n := len(out); n > 0 && out[n-1].Space == x.Space && uint64(x.Start) <= uint64(out[n-1].End)+1 {
			out[n-1].End = max(out[n-1].End, x.End)
			continue
		}
		out = append(out, x)
	}
	if len(out) > maxRanges {
		var spans []Range
		for _, x := range out {
			if n := len(spans); n > 0 && spans[n-1].Space == x.Space {
				spans[n-1].End = max(spans[n-1].End, x.End)
				continue
			}
			spans = append(spans, x)
		}
		out = spans
	}
	return out
}

// inRanges reports whether [start, start+count) lies within the ranges.
func inRanges(l []Range, space string, start, count uint32) bool {
	end := uint64(start) + uint64(max(count, 1)) - 1
	for _, r := range l {
		if r.Space == space && r.Start <= start && end <= uint64(r.End) {
			return true
		}
	}
	return false
}

// Baseline returns what was learned, sorted for review.
func (l *Learner) Baseline() *Baseline {
	b := &Baseline{Version: BaselineVersion, Assets: []BaseAsset{}, Connections: []Connection{}}
	if l.from != 0 {
		b.Learned.From, b.Learned.To = time.Unix(0, l.from).UTC(), time.Unix(0, l.to).UTC()
	}
	b.Learned.Files = append([]string(nil), l.files...)
	ips := make([]netip.Addr, 0, len(l.assets))
	for a := range l.assets {
		ips = append(ips, a)
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	for _, a := range ips {
		b.Assets = append(b.Assets, BaseAsset{IP: a.String()})
	}
	keys := make([]connKey, 0, len(l.conns))
	for k := range l.conns {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.client != c.client {
			return a.client.Less(c.client)
		}
		if a.server != c.server {
			return a.server.Less(c.server)
		}
		return a.proto < c.proto
	})
	for _, k := range keys {
		lc := l.conns[k]
		c := Connection{Client: k.client.String(), Server: k.server.String(), Proto: k.proto, Requests: lc.requests, PeakPerMinute: lc.peak, Functions: []Function{}}
		fks := make([]fnKey, 0, len(lc.fns))
		for fk := range lc.fns {
			fks = append(fks, fk)
		}
		sort.Slice(fks, func(i, j int) bool { return fks[i].m < fks[j].m || fks[i].m == fks[j].m && fks[i].code < fks[j].code })
		for _, fk := range fks {
			fn := lc.fns[fk]
			c.Functions = append(c.Functions, Function{Code: fk.code, Map: fk.m, Name: fn.name, Action: fn.action.String(), Count: fn.count, Ranges: fn.ranges})
		}
		b.Connections = append(b.Connections, c)
	}
	_ = b.index() // cannot fail on what was learned
	return b
}

var (
	_ analyze.Observer     = (*Learner)(nil)
	_ analyze.FlowObserver = (*Learner)(nil)
)

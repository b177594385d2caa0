package acquire

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/otlink/otlink/internal/acquire/coalesce"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Defaults the engine applies when a config built in code leaves a value
// zero (config.Load applies the same ones to files).
const (
	defaultTimeout = time.Second
	defaultPoll    = time.Second
)

// tagDef is a tag as the engine reads it: static, built without I/O.
// There is one per configured tag (300,000 in a large plant), so it keeps
// only what reads, writes and snapshots need, in 32 bytes and without a
// pointer (the garbage collector need not scan 300,000 of them): its path
// is a range of the plan's path arena, its codec and its other settings
// are indexes into the plan's tables, shared among alike tags, and the
// config itself is not retained.
type tagDef struct {
	pathOff uint32 // the path is plan.paths[pathOff:pathOff+pathLen]
	space   uint32
	start   uint32
	count   uint32
	x       uint32 // index into plan.extras; 0: no scale, range, deadband, unit nor write settings
	codec   uint32 // index into plan.codecs
	pathLen uint16 // bus.MaxTagLen (4096) and config limits keep paths far shorter
	class   uint16
	typ     model.Type
	bad     bool // the driver rejected the tag (why: plan.bad): it stays BadConfigurationError
}

// path returns the tag's path. The string shares the plan's arena: one
// allocation per device instead of one per tag (a path is 30-60 bytes and
// each allocation would round it up to a size class).
func (p *plan) path(td *tagDef) string {
	if td.pathLen == 0 {
		return ""
	}
	return unsafe.String(&p.paths[td.pathOff], int(td.pathLen))
}

// extra returns the tag's shared settings, nil when it has none.
func (p *plan) extra(td *tagDef) *tagExtra {
	if td.x == 0 {
		return nil
	}
	return &p.extras[td.x]
}

func (p *plan) point(td *tagDef) driver.Point {
	return driver.Point{Space: td.space, Start: td.start, Count: td.count, Type: td.typ, Codec: p.codecs[td.codec]}
}

// tagExtra is the value processing, unit and write settings of a tag.
// Tags with equal settings share one (see buildPlans), so a plant of many
// alike tags pays for few.
type tagExtra struct {
	gain, offset float64 // eng = raw*gain + offset, when scaled
	rmin, rmax   float64 // engineering range, when hasRange
	deadband     float64
	limits       config.Limits // when hasLimits
	unit         string
	scaled       bool
	hasRange     bool
	writable     bool
	hasLimits    bool
}

// tagExtraOf returns the settings of t; the zero tagExtra when it has none.
func tagExtraOf(t *config.Tag) tagExtra {
	x := tagExtra{deadband: t.Deadband, unit: t.Unit, writable: t.Writable}
	if t.Scale != nil {
		x.scaled, x.gain, x.offset = true, t.Scale.Gain, t.Scale.Offset
	}
	if t.Range != nil {
		x.hasRange, x.rmin, x.rmax = true, t.Range.Min, t.Range.Max
	}
	if t.Limits != nil {
		x.hasLimits, x.limits = true, *t.Limits
	}
	return x
}

// classDef is a poll class of a device.
type classDef struct {
	name      string
	interval  time.Duration // configured
	effective time.Duration // after the poll floor
	tags      []uint32      // indexes into plan.tags, resolved ones only
	bad       int           // tags of the class the driver rejected
}

// plan is everything static about one device: built by New and Apply, no I/O.
type plan struct {
	cfg       config.Device
	drv       driver.Driver
	spec      driver.DeviceSpec
	tags      []tagDef
	paths     []byte           // every tag's path, back to back (tagDef.pathOff); never appended to once built
	codecs    []driver.Codec   // the distinct codecs of the tags (tagDef.codec)
	extras    []tagExtra       // tags' settings (tagDef.x); extras[0] is none; shared by the plans of one build
	bad       map[uint32]error // why a tag is bad, by index into tags
	classes   []classDef
	reportAll bool
	maxGap    uint32
	// push: the device pushes values (driver.Pusher); its tags are
	// subscribed to, not polled, and addrs holds their configured
	// addresses (by tag index) for driver.Item.Address. Polled devices
	// keep no addresses: 300,000 of them would cost megabytes.
	push  bool
	addrs []string
	pos   int // position in the config, while building

	// fingerprint is the SHA-256 of the device's and its tags'
	// configuration (JSON) and paths: what a reload compares. A hash, not
	// the JSON itself, which would cost as much memory as the config.
	fingerprint [sha256.Size]byte
	fp          hash.Hash               // while building
	codecSeen   map[driver.Codec]uint32 // while building: index of each codec in codecs
	fpEnc       *json.Encoder           // writes to fp
}

// walkTags calls fn for every tag of the hierarchy with its path and the
// device it is read from (the tag's own, else its machine's). It is the
// engine's copy of the walk config.Load does to fill Tag.Path, so that
// configs built in code work too. The path is built in a buffer the walk
// reuses: it is valid only during the call (copy it to keep it), so that
// walking 300,000 tags allocates nothing per tag.
func walkTags(c *config.Config, fn func(t *config.Tag, path, device string)) {
	var buf []byte
	config.EachMachine(c, func(m *config.Machine, prefix []string) {
		buf = buf[:0]
		for _, s := range prefix {
			buf = append(append(buf, s...), '/')
		}
		buf = append(append(buf, m.Name...), '/')
		n := len(buf)
		for i := range m.Tags {
			t := &m.Tags[i]
			path := t.Path
			if path == "" {
				buf = append(buf[:n], t.Name...)
				path = unsafe.String(unsafe.SliceData(buf), len(buf))
			}
			dev := t.Device
			if dev == "" {
				dev = m.Device
			}
			fn(t, path, dev)
		}
	})
}

// noDevice marks an index entry of a tag that no plan reads (its device is
// disabled); the index drops it.
const noDevice = math.MaxUint32

// buildPlans turns a config into device plans. Problems that make the
// config unusable (an unknown driver, device or poll class, a duplicate
// path) are returned together; a tag the driver cannot resolve only
// becomes bad, so one typo does not stop a plant.
//
// It also returns the tags' index, sorted by path, which the duplicate
// check builds anyway, with tagRef.dev the device's position in order; the
// view reuses it. A sorted slice of 8-byte refs, not a map by path: lookups
// by path are rare (writes, the API) and a map of 300,000 paths costs 18 MB.
func buildPlans(c *config.Config, lookup func(string) (driver.Driver, bool)) (map[string]*plan, []string, []tagRef, error) {
	plans := map[string]*plan{}
	var order []string
	var errs []error
	// Tags per device, so that each plan's tags are allocated once at
	// their size: appending would leave as much garbage as it keeps.
	count := map[string]int{}
	pathBytes := map[string]int{}
	total := 0
	walkTags(c, func(_ *config.Tag, path, dev string) { count[dev]++; pathBytes[dev] += len(path); total++ })
	for _, d := range c.Devices {
		if d.Disabled {
			continue
		}
		if _, dup := plans[d.Name]; dup {
			errs = append(errs, errcode.New(errcode.AcquireUnknownDevice, "device %s is configured twice", d.Name))
			continue
		}
		drv, ok := lookup(d.Driver)
		if !ok {
			errs = append(errs, errcode.New(errcode.AcquireUnknownDriver, "device %s: driver %q is not in this build (have %v)", d.Name, d.Driver, driver.Names()))
			continue
		}
		p := &plan{cfg: d, drv: drv, reportAll: d.Report == "all", tags: make([]tagDef, 0, count[d.Name]),
			paths: make([]byte, 0, pathBytes[d.Name]), bad: map[uint32]error{}}
		if p.cfg.Timeout <= 0 {
			p.cfg.Timeout = config.Duration(defaultTimeout)
		}
		if p.cfg.Budget.MaxInFlight <= 0 {
			p.cfg.Budget.MaxInFlight = 1
		}
		if len(p.cfg.Poll) == 0 {
			p.cfg.Poll = []config.PollClass{{Name: "default", Interval: config.Duration(defaultPoll)}}
		}
		if d.Coalesce.MaxGap > 0 {
			p.maxGap = uint32(d.Coalesce.MaxGap)
		}
		unit := d.Unit
		if unit == 0 {
			unit = 1
		}
		p.spec = driver.DeviceSpec{Name: d.Name, Endpoint: d.Endpoint, Unit: uint8(unit), Timeout: p.cfg.Timeout.D(),
			ByteOrder: d.ByteOrder, WordOrder: d.WordOrder, Options: d.Options}
		if pu, ok := drv.(driver.Pusher); ok && pu.Pushes(p.spec) {
			p.push = true
		}
		for _, pc := range p.cfg.Poll {
			iv := pc.Interval.D()
			if iv <= 0 {
				iv = defaultPoll
			}
			eff := iv
			if f := p.cfg.Budget.PollFloor.D(); f > eff {
				eff = f
			}
			p.classes = append(p.classes, classDef{name: pc.Name, interval: iv, effective: eff})
		}
		if len(p.classes) > math.MaxUint16 {
			errs = append(errs, errcode.New(errcode.AcquireUnknownPollClass, "device %s has %d poll classes, more than %d", d.Name, len(p.classes), math.MaxUint16))
			continue
		}
		p.fp = sha256.New()
		p.fpEnc = json.NewEncoder(p.fp)
		_ = p.fpEnc.Encode(&p.cfg) // a hash.Hash never fails to write
		p.pos = len(order)
		plans[d.Name] = p
		order = append(order, d.Name)
	}
	// Every tag's path with where it is read (noDevice: nowhere), sorted
	// after the walk to find duplicates; the paths are the config's (or
	// the tagDef's) strings, not copies.
	type entry struct {
		path string
		ref  tagRef
	}
	entries := make([]entry, 0, total)
	extras := map[tagExtra]uint32{}
	xs := []tagExtra{{}} // xs[0]: none
	// What the fingerprint hashes of a tag; one, reused, so that encoding
	// 300,000 tags allocates nothing per tag.
	fpTag := &struct {
		T *config.Tag
		P string
	}{}
	walkTags(c, func(t *config.Tag, path, dev string) {
		p, ok := plans[dev]
		if !ok {
			entries = append(entries, entry{strings.Clone(path), tagRef{dev: noDevice}})
			if !deviceDisabled(c, dev) {
				errs = append(errs, errcode.New(errcode.AcquireUnknownDevice, "tag %s: device %q is not configured", path, dev))
			}
			return
		}
		cls := 0
		if t.Poll != "" {
			cls = -1
			for i, pc := range p.classes {
				if pc.name == t.Poll {
					cls = i
				}
			}
			if cls < 0 {
				errs = append(errs, errcode.New(errcode.AcquireUnknownPollClass, "tag %s: device %s has no poll class %q", path, dev, t.Poll))
				return
			}
		}
		fpTag.T, fpTag.P = t, path
		_ = p.fpEnc.Encode(fpTag)
		if len(path) > math.MaxUint16 {
			errs = append(errs, errcode.New(errcode.AcquireResolve, "tag %.64s...: path of %d bytes, more than %d", path, len(path), math.MaxUint16))
			return
		}
		td := tagDef{pathOff: uint32(len(p.paths)), pathLen: uint16(len(path)), class: uint16(cls)}
		p.paths = append(p.paths, path...)
		path = p.path(&td) // the walk's buffer is reused: from here on, the arena's copy
		if x := tagExtraOf(t); x != (tagExtra{}) {
			i, ok := extras[x]
			if !ok {
				i = uint32(len(xs))
				xs = append(xs, x)
				extras[x] = i
			}
			td.x = i
		}
		typ, ok := model.ParseType(t.Type)
		var err error
		var pt driver.Point
		if !ok {
			err = errcode.New(errcode.AcquireResolve, "tag %s: unknown type %q", path, t.Type)
		} else {
			pt, err = p.drv.Resolve(p.spec, driver.TagSpec{Name: t.Name, Address: t.Address, Type: typ,
				Length: t.Length, ByteOrder: t.ByteOrder, WordOrder: t.WordOrder})
			if err != nil {
				err = errcode.Wrap(errcode.AcquireResolve, err, "tag %s: address %q", path, t.Address)
			} else if pt.Count == 0 || pt.Codec == nil {
				err = errcode.New(errcode.AcquireResolve, "tag %s: driver %s resolved address %q to no units", path, p.cfg.Driver, t.Address)
			} else if m := p.spaceLimit(pt.Space, 0); pt.Count > m {
				err = errcode.New(errcode.AcquirePointTooLarge, "tag %s: %d units, more than the %d one read of %s may cover (driver limit or coalesce.max_count)", path, pt.Count, m, p.drv.SpaceName(pt.Space))
			}
		}
		if err != nil {
			td.bad = true
			p.bad[uint32(len(p.tags))] = err
			p.classes[cls].bad++
		} else {
			td.space, td.start, td.count, td.typ = pt.Space, pt.Start, pt.Count, pt.Type
			td.codec = p.codecIndex(pt.Codec)
		}
		entries = append(entries, entry{path, tagRef{dev: uint32(p.pos), idx: uint32(len(p.tags))}})
		p.tags = append(p.tags, td)
		if p.push {
			p.addrs = append(p.addrs, t.Address)
		}
	})
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	n := 0
	for i := range entries {
		if i > 0 && entries[i].path == entries[i-1].path {
			if i == 1 || entries[i-1].path != entries[i-2].path {
				errs = append(errs, errcode.New(errcode.AcquireDuplicateTag, "tag %s is configured twice", entries[i].path))
			}
			continue
		}
		if entries[i].ref.dev != noDevice {
			n++
		}
	}
	var index []tagRef
	if len(errs) == 0 {
		index = make([]tagRef, 0, n)
		for i := range entries {
			if entries[i].ref.dev != noDevice {
				index = append(index, entries[i].ref)
			}
		}
	}
	entries = nil
	for _, p := range plans {
		p.extras = xs
		p.fp.Sum(p.fingerprint[:0])
		p.fp, p.fpEnc, p.codecSeen = nil, nil, nil
		// Each class's tags, allocated at their size.
		n := make([]int, len(p.classes))
		for i := range p.tags {
			if !p.tags[i].bad {
				n[p.tags[i].class]++
			}
		}
		for ci := range p.classes {
			p.classes[ci].tags = make([]uint32, 0, n[ci])
		}
		for i := range p.tags {
			if td := &p.tags[i]; !td.bad {
				p.classes[td.class].tags = append(p.classes[td.class].tags, uint32(i))
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, errors.Join(errs...)
	}
	return plans, order, index, nil
}

// codecIndex returns the index of c in p.codecs, adding it if new. Codecs
// the driver shares (modbus shares one per encoding) are kept once; a
// codec of a type that cannot be compared is kept per tag.
func (p *plan) codecIndex(c driver.Codec) uint32 {
	comparable := reflect.TypeOf(c).Comparable()
	if comparable {
		if i, ok := p.codecSeen[c]; ok {
			return i
		}
	}
	i := uint32(len(p.codecs))
	p.codecs = append(p.codecs, c)
	if comparable {
		if p.codecSeen == nil {
			p.codecSeen = map[driver.Codec]uint32{}
		}
		p.codecSeen[c] = i
	}
	return i
}

func deviceDisabled(c *config.Config, name string) bool {
	for _, d := range c.Devices {
		if d.Name == name {
			return d.Disabled
		}
	}
	return false
}

// readPlan is one block read of a class.
type readPlan struct {
	space, start, count uint32
	tags                []uint32 // indexes into plan.tags
	halved              bool     // a retry of a timed-out block: do not halve again
}

// spaceLimit is the most units one read of space may cover: the least of
// the driver's limit, the configured cap and the learned limit.
func (p *plan) spaceLimit(space uint32, learned uint32) uint32 {
	m := p.drv.MaxCount(space)
	if c := p.cfg.Coalesce.MaxCount; c > 0 && uint32(c) < m {
		m = uint32(c)
	}
	if learned > 0 && learned < m {
		m = learned
	}
	return m
}

// planReads coalesces tags (of one class) into reads, space by space, with
// limit(space) units at most. A tag larger than a learned limit is read
// alone rather than dropped.
func (p *plan) planReads(tags []uint32, limit func(space uint32) uint32, halved bool) ([]readPlan, error) {
	bySpace := map[uint32][]uint32{}
	var spaces []uint32
	for _, ti := range tags {
		s := p.tags[ti].space
		if _, ok := bySpace[s]; !ok {
			spaces = append(spaces, s)
		}
		bySpace[s] = append(bySpace[s], ti)
	}
	var out []readPlan
	spans := []coalesce.Span{}
	for _, s := range spaces {
		all := bySpace[s]
		ts := all[:0:0]
		spans = spans[:0]
		max := limit(s)
		for _, ti := range all {
			td := &p.tags[ti]
			if td.count > max {
				out = append(out, readPlan{space: s, start: td.start, count: td.count, halved: halved, tags: []uint32{ti}})
				continue
			}
			ts = append(ts, ti)
			spans = append(spans, coalesce.Span{Start: td.start, Count: td.count})
		}
		reads, err := coalesce.Plan(spans, max, p.maxGap)
		if err != nil {
			return nil, errcode.Wrap(errcode.AcquirePointTooLarge, err, "plan reads of %s on %s", p.drv.SpaceName(s), p.cfg.Name)
		}
		for _, r := range reads {
			rp := readPlan{space: s, start: r.Start, count: r.Count, halved: halved, tags: make([]uint32, len(r.Points))}
			for i, pi := range r.Points {
				rp.tags[i] = ts[pi]
			}
			out = append(out, rp)
		}
	}
	return out, nil
}

func (p *plan) String() string { return fmt.Sprintf("device %s (%s)", p.cfg.Name, p.cfg.Driver) }

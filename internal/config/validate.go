package config

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// EndpointChecker is implemented by drivers that can check an endpoint URL
// without I/O (supported schemes, required parts). Drivers that do not
// implement it get a generic check: scheme://host:port, or a path for
// serial lines.
type EndpointChecker interface {
	CheckEndpoint(endpoint string) error
}

// validator checks a decoded config and records problems at the places the
// decoder remembered.
type validator struct {
	file    string
	find    func(path string) (key, val pos, ok bool) // places in the file
	bad     map[string]bool
	present func(path string) bool
	probs   Errors

	devices map[string]*devInfo
}

// devInfo is what tag checks need of a device.
type devInfo struct {
	dev    *Device
	path   string
	drv    driver.Driver // nil when the driver is unknown
	spec   driver.DeviceSpec
	ok     bool // device settings valid enough to resolve addresses
	points []placed
	ntags  int // tags that name this device, an upper bound of len(points)
}

// placed is a resolved tag, for overlap checks. It holds no strings: the
// tag's label, address and YAML path are built only for a reported
// overlap, so 300k resolved tags cost 32 bytes each.
type placed struct {
	space, start, count uint32
	ti                  int32 // index of the tag in mc.m.Tags
	typ                 model.Type
	mc                  *machCtx
}

func (p *placed) end() uint32 { return p.start + p.count }
func (p *placed) tag() *Tag   { return &p.mc.m.Tags[p.ti] }

// label is the tag's hierarchy path, for messages.
func (p *placed) label() string {
	return model.JoinPath(append(append([]string(nil), p.mc.segs...), p.mc.m.Name, p.tag().Name)...)
}

// addr is the address as written, normalised.
func (p *placed) addr() string { return strings.ToLower(strings.TrimSpace(p.tag().Address)) }

// path is the YAML path of the tag's address.
func (p *placed) path() string { return loc{p.mc.path, "tags", int(p.ti)}.at("address") }

// machCtx is what the tags of one machine share: built once per machine.
type machCtx struct {
	m    *Machine
	path string   // YAML path of the machine
	segs []string // enterprise, site, area, line[, cell]
}

// loc is the YAML path of a list item, built only when a problem needs
// it: building the path of every field of every tag up front allocated
// hundreds of MB at 300k tags.
type loc struct {
	parent string // YAML path of the list's parent, or of the item itself when list is ""
	list   string // key of the list, e.g. "tags"
	i      int
}

// path is the item's YAML path, e.g. $.plant...machines[3].tags[12].
func (l loc) path() string {
	if l.list == "" {
		return l.parent
	}
	b := make([]byte, 0, len(l.parent)+len(l.list)+16)
	b = append(b, l.parent...)
	b = append(b, '.')
	b = append(b, l.list...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(l.i), 10)
	b = append(b, ']')
	return string(b)
}

// at is the YAML path of key under the item.
func (l loc) at(key string) string { return l.path() + "." + key }

// at returns the position of path's value, or of its nearest ancestor.
func (v *validator) at(path string) pos {
	for p := path; p != ""; {
		if _, x, ok := v.find(p); ok {
			return x
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return pos{}
}

// reported tells whether the decoder already reported path or a section
// holding it; checking what could not be decoded would only repeat it.
func (v *validator) reported(path string) bool {
	for p := path; p != ""; {
		if v.bad[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return v.bad["$"]
		}
		p = p[:i]
	}
	return false
}

func (v *validator) add(code errcode.Code, path, hint, format string, args ...any) {
	if v.reported(path) {
		return
	}
	p := v.at(path)
	v.probs = append(v.probs, &Problem{File: v.file, Line: p.line, Col: p.col, Code: code,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Path: path})
}

// addKey reports at the key of path rather than its value.
func (v *validator) addKey(code errcode.Code, path, hint, format string, args ...any) {
	if v.reported(path) {
		return
	}
	p, _, ok := v.find(path)
	if !ok {
		p = v.at(path)
	}
	v.probs = append(v.probs, &Problem{File: v.file, Line: p.line, Col: p.col, Code: code,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Path: path})
}

func (v *validator) lineOf(path string) int { return v.at(path).line }

// names checks the name of one item among its siblings.
type names struct {
	kind string
	seen map[string]loc // name -> the first item with it
}

func newNames(kind string) *names { return &names{kind: kind, seen: map[string]loc{}} }

// reset empties ns for the next group of siblings, keeping its memory:
// one map serves the tags of every machine in turn.
func (ns *names) reset(n int) *names {
	if ns.seen == nil {
		ns.seen = make(map[string]loc, n)
	}
	clear(ns.seen)
	return ns
}

func (v *validator) name(ns *names, item loc, name string) {
	switch {
	case name == "" && !v.present(item.at("name")):
		v.add(errcode.ConfigMissing, item.path(), "", "%s has no name", ns.kind)
		return
	case !validName(name):
		hint := "use letters, digits, '_' and '-'"
		if s := sanitizeName(name); validName(s) {
			hint = fmt.Sprintf("for example %q", s)
		}
		v.add(errcode.ConfigInvalidName, item.at("name"), hint, "%s name %q is not a valid path segment", ns.kind, name)
		return
	}
	if first, dup := ns.seen[name]; dup {
		where := ""
		if l := v.lineOf(first.at("name")); l > 0 {
			where = fmt.Sprintf(" (first at line %d)", l)
		}
		v.add(errcode.ConfigDuplicateName, item.at("name"), "", "%s %q is defined twice%s", ns.kind, name, where)
		return
	}
	ns.seen[name] = item
}

func (v *validator) check(c *Config) {
	if c.Version == 0 && !v.present("$.version") {
		v.add(errcode.ConfigMissing, "$", "add 'version: 1' as the first line", "missing key \"version\"")
	} else if c.Version != Version {
		v.add(errcode.ConfigVersion, "$.version", "", "config version %d is not supported; this release reads version %d", c.Version, Version)
	}
	v.checkDevices(c)
	v.checkPlant(c)
	v.checkOverlaps()
	v.checkBus(c)
	v.checkHistorian(c)
	v.checkMonitor(c)
	v.checkNorth(c)
	v.checkOPCUA(c)
	v.checkMTConnect(c)
}

func (v *validator) checkDevices(c *Config) {
	v.devices = map[string]*devInfo{}
	ns := newNames("device")
	for i := range c.Devices {
		d := &c.Devices[i]
		p := fmt.Sprintf("$.devices[%d]", i)
		v.name(ns, loc{parent: p}, d.Name)
		info := &devInfo{dev: d, path: p, ok: true}
		if d.Name != "" {
			if _, dup := v.devices[d.Name]; !dup {
				v.devices[d.Name] = info
			}
		}
		if d.Driver == "" {
			v.add(errcode.ConfigMissing, p, "", "device %q has no driver", d.Name)
			info.ok = false
		} else if drv, ok := driver.Lookup(d.Driver); ok {
			info.drv = drv
		} else {
			v.add(errcode.ConfigUnknownDriver, p+".driver", choiceHint(d.Driver, driver.Names(), "drivers"), "device %q: unknown driver %q", d.Name, d.Driver)
			info.ok = false
		}
		if d.Endpoint == "" {
			v.add(errcode.ConfigMissing, p, "", "device %q has no endpoint", d.Name)
		} else if err := checkEndpoint(info.drv, d.Endpoint); err != nil {
			v.add(errcode.ConfigBadEndpoint, p+".endpoint", "write scheme://host:port, e.g. tcp://192.168.1.10:502", "device %q: endpoint %q: %v", d.Name, d.Endpoint, err)
		}
		if d.Backup != "" {
			if err := checkEndpoint(info.drv, d.Backup); err != nil {
				v.add(errcode.ConfigBadEndpoint, p+".backup", "write scheme://host:port", "device %q: backup endpoint %q: %v", d.Name, d.Backup, err)
			} else if d.Backup == d.Endpoint {
				v.add(errcode.ConfigBadEndpoint, p+".backup", "give the address of the redundant path, or remove backup", "device %q: backup endpoint is the same as endpoint", d.Name)
			}
		}
		if d.Unit < 0 || d.Unit > 255 {
			v.add(errcode.ConfigOutOfRange, p+".unit", "", "device %q: unit %d is outside 0..255", d.Name, d.Unit)
			info.ok = false
		}
		if d.Timeout <= 0 {
			v.add(errcode.ConfigBadInterval, p+".timeout", "", "device %q: timeout %s must be positive", d.Name, d.Timeout)
		}
		if !v.order(loc{parent: p}, "byte_order", d.ByteOrder) || !v.order(loc{parent: p}, "word_order", d.WordOrder) {
			info.ok = false
		}
		b := d.Budget
		if b.MaxInFlight < 1 || b.MaxInFlight > 16 {
			v.add(errcode.ConfigBudgetRange, p+".budget.max_in_flight", "most PLCs serve one request at a time: use 1", "device %q: budget max_in_flight %d is outside 1..16", d.Name, b.MaxInFlight)
		}
		if b.MinGap < 0 {
			v.add(errcode.ConfigBudgetRange, p+".budget.min_gap", "", "device %q: budget min_gap %s must not be negative", d.Name, b.MinGap)
		}
		if b.PollFloor < 0 {
			v.add(errcode.ConfigBudgetRange, p+".budget.poll_floor", "", "device %q: budget poll_floor %s must not be negative", d.Name, b.PollFloor)
		}
		pn := newNames("poll class")
		for j, pc := range d.Poll {
			pp := fmt.Sprintf("%s.poll[%d]", p, j)
			v.name(pn, loc{parent: pp}, pc.Name)
			switch {
			case pc.Interval <= 0:
				if !v.present(pp+".interval") && !v.bad[pp+".interval"] {
					v.add(errcode.ConfigMissing, pp, "", "device %q: poll class %q has no interval", d.Name, pc.Name)
				} else {
					v.add(errcode.ConfigBadInterval, pp+".interval", "", "device %q: poll class %q interval %s must be positive", d.Name, pc.Name, pc.Interval)
				}
			case b.PollFloor > 0 && pc.Interval < b.PollFloor:
				v.add(errcode.ConfigPollBelowFloor, pp+".interval", fmt.Sprintf("use %s or more", b.PollFloor),
					"device %q: poll class %q interval %s is below the budget's poll_floor %s", d.Name, pc.Name, pc.Interval, b.PollFloor)
			}
		}
		if d.Coalesce.MaxGap < 0 {
			v.add(errcode.ConfigOutOfRange, p+".coalesce.max_gap", "0 reads only adjacent tags together", "device %q: coalesce max_gap %d must not be negative", d.Name, d.Coalesce.MaxGap)
		}
		if d.Coalesce.MaxCount < 0 {
			v.add(errcode.ConfigOutOfRange, p+".coalesce.max_count", "0 means the protocol limit", "device %q: coalesce max_count %d must not be negative", d.Name, d.Coalesce.MaxCount)
		}
		if d.Report != "change" && d.Report != "all" && d.Report != "" {
			v.add(errcode.ConfigBadChoice, p+".report", choiceHint(d.Report, []string{"change", "all"}, "choices"), "device %q: report %q is not \"change\" or \"all\"", d.Name, d.Report)
		}
		if info.ok {
			info.spec = driver.DeviceSpec{Name: d.Name, Endpoint: d.Endpoint, Unit: uint8(d.Unit), Timeout: d.Timeout.D(),
				ByteOrder: d.ByteOrder, WordOrder: d.WordOrder, Options: d.Options}
		}
	}
}

// order checks the byte or word order value s of item's key.
func (v *validator) order(item loc, key, s string) bool {
	switch s {
	case "", "big", "little":
		return true
	}
	hint := "use \"big\" or \"little\""
	switch strings.ToUpper(s) {
	case "ABCD":
		hint = "ABCD is byte_order big, word_order big"
	case "CDAB":
		hint = "CDAB is byte_order big, word_order little"
	case "BADC":
		hint = "BADC is byte_order little, word_order big"
	case "DCBA":
		hint = "DCBA is byte_order little, word_order little"
	}
	v.add(errcode.ConfigUnknownOrder, item.at(key), hint, "%s %q is not \"big\" or \"little\"", key, s)
	return false
}

func (v *validator) checkPlant(c *Config) {
	pl := c.Plant
	if pl.Enterprise == "" {
		v.add(errcode.ConfigMissing, "$.plant", "add 'enterprise: <company>' under plant", "plant has no enterprise")
	} else if !validName(pl.Enterprise) {
		v.add(errcode.ConfigInvalidName, "$.plant.enterprise", fmt.Sprintf("for example %q", sanitizeName(pl.Enterprise)), "enterprise name %q is not a valid path segment", pl.Enterprise)
	}
	v.countTags(c)
	var tags names // one map for the tags of every machine in turn
	tags.kind = "tag"
	sites := newNames("site")
	for si, s := range pl.Sites {
		sp := fmt.Sprintf("$.plant.sites[%d]", si)
		v.name(sites, loc{"$.plant", "sites", si}, s.Name)
		areas := newNames("area")
		for ai, a := range s.Areas {
			ap := fmt.Sprintf("%s.areas[%d]", sp, ai)
			v.name(areas, loc{sp, "areas", ai}, a.Name)
			lines := newNames("line")
			for li, l := range a.Lines {
				lp := fmt.Sprintf("%s.lines[%d]", ap, li)
				v.name(lines, loc{ap, "lines", li}, l.Name)
				// Cells and machines of a line share the path level below it.
				kids := newNames("cell or machine")
				for ci, cl := range l.Cells {
					cp := fmt.Sprintf("%s.cells[%d]", lp, ci)
					v.name(kids, loc{lp, "cells", ci}, cl.Name)
					ms := newNames("machine")
					for mi := range cl.Machines {
						v.name(ms, loc{cp, "machines", mi}, cl.Machines[mi].Name)
						mc := &machCtx{m: &cl.Machines[mi], path: loc{cp, "machines", mi}.path(), segs: []string{pl.Enterprise, s.Name, a.Name, l.Name, cl.Name}}
						v.checkMachine(mc, &tags)
					}
				}
				for mi := range l.Machines {
					v.name(kids, loc{lp, "machines", mi}, l.Machines[mi].Name)
					mc := &machCtx{m: &l.Machines[mi], path: loc{lp, "machines", mi}.path(), segs: []string{pl.Enterprise, s.Name, a.Name, l.Name}}
					v.checkMachine(mc, &tags)
				}
			}
		}
	}
}

// countTags counts the tags each device may place, so that its points are
// allocated once at their final size.
func (v *validator) countTags(c *Config) {
	walkMachines(c, func(m *Machine, _ string, _ []string) {
		for ti := range m.Tags {
			dn := m.Tags[ti].Device
			if dn == "" {
				dn = m.Device
			}
			if info, ok := v.devices[dn]; ok {
				info.ntags++
			}
		}
	})
}

func (v *validator) checkMachine(mc *machCtx, tags *names) {
	m := mc.m
	var mdev *devInfo
	if m.Device != "" {
		var ok bool
		if mdev, ok = v.devices[m.Device]; !ok {
			v.add(errcode.ConfigUnknownDevice, mc.path+".device", choiceHint(m.Device, v.deviceNames(), "devices"), "machine %q: unknown device %q", m.Name, m.Device)
		}
	}
	ns := tags.reset(len(m.Tags))
	for ti := range m.Tags {
		v.name(ns, loc{mc.path, "tags", ti}, m.Tags[ti].Name)
		v.checkTag(mc, ti, mdev)
	}
}

func (v *validator) deviceNames() []string {
	out := make([]string, 0, len(v.devices))
	for n := range v.devices {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// hasPoll tells whether d has a poll class named name.
func hasPoll(d *Device, name string) bool {
	for _, pc := range d.Poll {
		if pc.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) checkTag(mc *machCtx, ti int, mdev *devInfo) {
	m := mc.m
	t := &m.Tags[ti]
	tl := loc{mc.path, "tags", ti}
	resolvable := true
	dev := mdev
	switch {
	case t.Device != "":
		var ok bool
		if dev, ok = v.devices[t.Device]; !ok {
			v.add(errcode.ConfigUnknownDevice, tl.at("device"), choiceHint(t.Device, v.deviceNames(), "devices"), "tag %q: unknown device %q", t.Name, t.Device)
			resolvable = false
		}
	case m.Device == "":
		v.add(errcode.ConfigNoDevice, tl.path(), "set device on the machine or on the tag", "tag %q has no device", t.Name)
		resolvable = false
	case mdev == nil:
		resolvable = false // unknown machine device, reported once on the machine
	}
	if t.Address == "" {
		v.add(errcode.ConfigMissing, tl.path(), "", "tag %q has no address", t.Name)
		resolvable = false
	}
	typ := model.TypeInvalid
	if t.Type == "" {
		v.add(errcode.ConfigMissing, tl.path(), "", "tag %q has no type", t.Name)
		resolvable = false
	} else if typ2, ok := model.ParseType(t.Type); ok {
		typ = typ2
	} else {
		v.add(errcode.ConfigUnknownType, tl.at("type"), typeHint(t.Type), "tag %q: unknown data type %q", t.Name, t.Type)
		resolvable = false
	}
	switch {
	case t.Length < 0:
		v.add(errcode.ConfigStringLength, tl.at("length"), "", "tag %q: length %d must not be negative", t.Name, t.Length)
		resolvable = false
	case typ == model.String && t.Length == 0 && fixedStrings(dev):
		v.add(errcode.ConfigStringLength, tl.at("type"), "add 'length: <characters>'", "string tag %q has no length", t.Name)
		resolvable = false
	}
	if !v.order(tl, "byte_order", t.ByteOrder) || !v.order(tl, "word_order", t.WordOrder) {
		resolvable = false
	}
	if t.Poll != "" && dev != nil && !hasPoll(dev.dev, t.Poll) {
		var classes []string
		for _, pc := range dev.dev.Poll {
			classes = append(classes, pc.Name)
		}
		v.add(errcode.ConfigUnknownPoll, tl.at("poll"), choiceHint(t.Poll, classes, "classes of "+dev.dev.Name), "tag %q: device %q has no poll class %q", t.Name, dev.dev.Name, t.Poll)
	}
	numeric := typ.IsNumeric()
	if s := t.Scale; s != nil {
		switch {
		case typ != model.TypeInvalid && !numeric:
			v.add(errcode.ConfigBadScale, tl.at("scale"), "remove scale", "tag %q: scale applies to numeric tags, not %s", t.Name, typ)
		case s.Gain == 0 || math.IsNaN(s.Gain) || math.IsInf(s.Gain, 0):
			v.add(errcode.ConfigBadScale, tl.at("scale.gain"), "omit gain for 1", "tag %q: scale gain %v turns every reading into the offset", t.Name, s.Gain)
		}
	}
	if r := t.Range; r != nil && !(r.Min < r.Max) {
		v.add(errcode.ConfigBadRange, tl.at("range"), "", "tag %q: range min %v must be below max %v", t.Name, r.Min, r.Max)
	}
	switch {
	case t.Deadband < 0 || math.IsNaN(t.Deadband):
		v.add(errcode.ConfigBadDeadband, tl.at("deadband"), "", "tag %q: deadband %v must not be negative", t.Name, t.Deadband)
	case t.Deadband > 0 && typ != model.TypeInvalid && !numeric:
		v.add(errcode.ConfigBadDeadband, tl.at("deadband"), "remove deadband", "tag %q: deadband applies to numeric tags, not %s", t.Name, typ)
	}
	v.checkLossy(t, tl, typ)
	if t.Writable && numeric && t.Limits == nil {
		v.addKey(errcode.ConfigWritableNoLimit, tl.at("writable"), "add limits: {min: ..., max: ...}", "writable tag %q has no limits", t.Name)
	}
	if l := t.Limits; l != nil {
		if l.Min > l.Max {
			v.add(errcode.ConfigBadLimits, tl.at("limits"), "", "tag %q: limits min %v is above max %v", t.Name, l.Min, l.Max)
		}
		if l.MaxStep < 0 {
			v.add(errcode.ConfigBadLimits, tl.at("limits.max_step"), "", "tag %q: limits max_step %v must not be negative", t.Name, l.MaxStep)
		}
		if l.MinInterval < 0 {
			v.add(errcode.ConfigBadInterval, tl.at("limits.min_interval"), "", "tag %q: limits min_interval %s must not be negative", t.Name, l.MinInterval)
		}
	}
	if !resolvable || dev == nil || !dev.ok || dev.drv == nil {
		return
	}
	spec := driver.TagSpec{Name: t.Name, Address: t.Address, Type: typ, Length: t.Length, ByteOrder: t.ByteOrder, WordOrder: t.WordOrder}
	pt, err := resolve(dev.drv, dev.spec, spec)
	if err != nil {
		v.add(errcode.ConfigBadAddress, tl.at("address"), "", "tag %q: address %q: %v", t.Name, t.Address, err)
		return
	}
	if dev.points == nil {
		dev.points = make([]placed, 0, dev.ntags)
	}
	dev.points = append(dev.points, placed{space: pt.Space, start: pt.Start, count: pt.Count, typ: pt.Type, ti: int32(ti), mc: mc})
}

// resolve calls the driver and turns a panic into an error: the config
// checker must not crash on an address a driver did not expect.
func resolve(d driver.Driver, dev driver.DeviceSpec, t driver.TagSpec) (p driver.Point, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("driver failed on this address: %v", r)
		}
	}()
	return d.Resolve(dev, t)
}

// checkOverlaps reports tags of one device whose units overlap with
// different meanings. Bits may overlap the register that holds them; the
// same address with the same type twice is a duplicate.
func (v *validator) checkOverlaps() {
	var active []*placed
	for _, name := range v.deviceNames() {
		info := v.devices[name]
		pts := info.points
		slices.SortStableFunc(pts, func(a, b placed) int {
			if a.space != b.space {
				return cmp.Compare(a.space, b.space)
			}
			return cmp.Compare(a.start, b.start)
		})
		active = active[:0]
		for i := range pts {
			cur := &pts[i]
			keep := active[:0]
			for _, a := range active {
				if a.space == cur.space && a.end() > cur.start {
					keep = append(keep, a)
				}
			}
			active = keep
			for _, a := range active {
				v.overlap(info, a, cur)
			}
			active = append(active, cur)
		}
	}
}

func (v *validator) overlap(info *devInfo, a, b *placed) {
	same := a.start == b.start && a.count == b.count && a.typ == b.typ
	dup := same && a.addr() == b.addr()
	if !dup && (a.typ == model.Bool || b.typ == model.Bool) {
		return // a bit of a register may be read beside the register itself
	}
	// Only now look for places in the file: finding them may mean parsing
	// it again, which a valid config must not cost.
	if v.lineOf(b.path()) < v.lineOf(a.path()) {
		a, b = b, a
	}
	if dup {
		v.add(errcode.ConfigDuplicateAddr, b.path(), "", "tag %s has the same address %q and type as %s", b.label(), b.addr(), a.label())
		return
	}
	space := info.drv.SpaceName(b.space)
	v.add(errcode.ConfigOverlap, b.path(), "", "tag %s (%s at %d..%d of %s) overlaps %s (%s at %d..%d) on device %q",
		b.label(), b.typ, b.start, b.end()-1, space, a.label(), a.typ, a.start, a.end()-1, info.dev.Name)
}

func (v *validator) checkBus(c *Config) {
	if err := checkListen(c.Bus.Listen); err != nil {
		v.add(errcode.ConfigBadListen, "$.bus.listen", "", "bus listen %q: %v", c.Bus.Listen, err)
	}
	if c.Bus.MQTT != "off" {
		if err := checkListen(c.Bus.MQTT); err != nil {
			v.add(errcode.ConfigBadListen, "$.bus.mqtt", "use host:port, or \"off\"", "bus mqtt %q: %v", c.Bus.MQTT, err)
		}
	}
	if c.Bus.URL != "" {
		u, err := url.Parse(c.Bus.URL)
		switch {
		case err != nil:
			v.add(errcode.ConfigBadEndpoint, "$.bus.url", "", "bus url %q cannot be parsed", c.Bus.URL)
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			v.add(errcode.ConfigBadEndpoint, "$.bus.url", "e.g. nats://hub:4222", "bus url %q: scheme must be nats, tls, ws or wss", c.Bus.URL)
		case u.Host == "":
			v.add(errcode.ConfigBadEndpoint, "$.bus.url", "e.g. nats://hub:4222", "bus url %q has no host", c.Bus.URL)
		}
	}
	if c.Bus.SyncInterval < 0 {
		v.add(errcode.ConfigBadInterval, "$.bus.sync_interval", "", "bus sync_interval %s must not be negative", c.Bus.SyncInterval)
	}
	if err := checkListen(c.HTTP.Listen); err != nil {
		v.add(errcode.ConfigBadListen, "$.http.listen", "", "http listen %q: %v", c.HTTP.Listen, err)
	}
	if (c.HTTP.TLS.Cert == "") != (c.HTTP.TLS.Key == "") {
		v.add(errcode.ConfigMissing, "$.http.tls", "give both cert and key, or neither for the generated certificate", "http tls needs both cert and key")
	}
}

func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("not host:port")
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("invalid host %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 0..65535", port)
	}
	return nil
}

// checkEndpoint asks the driver when it can check endpoints, and otherwise
// checks the general URL form.
func checkEndpoint(d driver.Driver, s string) error {
	if ec, ok := d.(EndpointChecker); ok {
		return ec.CheckEndpoint(s)
	}
	if !strings.Contains(s, "://") {
		return fmt.Errorf("no scheme such as tcp://")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme == "" {
		return fmt.Errorf("no scheme such as tcp://")
	}
	if u.Host == "" {
		if u.Path != "" && u.Opaque == "" {
			return nil // a serial line: rtu:///dev/ttyUSB0
		}
		return fmt.Errorf("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not in 1..65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("empty port")
	}
	return nil
}

// choiceHint suggests the closest of choices, or lists them.
func choiceHint(s string, choices []string, what string) string {
	if best, ok := closest(s, choices); ok {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(choices) == 0 {
		return "no " + what + " are defined"
	}
	if len(choices) > 12 {
		choices = append(choices[:12:12], "...")
	}
	return what + ": " + strings.Join(choices, ", ")
}

// typeHint maps other products' type names to ours.
func typeHint(s string) string {
	alias := map[string]string{
		"boolean": "bool", "bit": "bool", "float": "float32", "real": "float32", "double": "float64", "lreal": "float64",
		"short": "int16", "int": "int16", "word": "uint16", "dword": "uint32", "long": "int32", "dint": "int32",
		"udint": "uint32", "uint": "uint16", "lint": "int64", "ulint": "uint64", "llong": "int64", "qword": "uint64",
		"byte": "uint8", "char": "int8", "sint": "int8", "usint": "uint8", "str": "string",
	}
	if t, ok := alias[strings.ToLower(s)]; ok {
		return fmt.Sprintf("did you mean %q?", t)
	}
	return choiceHint(s, model.TypeNames(), "types")
}

func (v *validator) checkHistorian(c *Config) {
	h := c.Historian
	switch h.Backend {
	case HistorianEmbedded, HistorianOff:
	case HistorianPostgres:
		if h.DSN == "" {
			v.add(errcode.ConfigMissing, "$.historian.dsn", "e.g. postgres://otlink@127.0.0.1/otlink", "historian backend postgres needs a dsn")
		}
	default:
		v.add(errcode.ConfigBadChoice, "$.historian.backend", "embedded, postgres or off", "historian backend %q is not one of embedded, postgres, off", h.Backend)
	}
	if h.DSN != "" && h.Backend != HistorianPostgres {
		v.add(errcode.ConfigHistorianDSN, "$.historian.dsn", "set backend: postgres, or remove the dsn", "historian dsn is set but the backend is %q", h.Backend)
	}
	switch h.Sync {
	case "batch", "always":
	default:
		v.add(errcode.ConfigBadChoice, "$.historian.sync", "batch or always", "historian sync %q is not one of batch, always", h.Sync)
	}
	if p := h.TimePrecision.D(); p < time.Nanosecond || p > time.Second || time.Second%p != 0 {
		v.add(errcode.ConfigOutOfRange, "$.historian.time_precision", "1ns..1s dividing a second, e.g. 1ms", "historian time_precision %s must be between 1ns and 1s and divide a second", p)
	}
	if d := h.CheckpointInterval.D(); d < 100*time.Millisecond || d > 24*time.Hour {
		v.add(errcode.ConfigOutOfRange, "$.historian.checkpoint_interval", "100ms..24h, e.g. 10s", "historian checkpoint_interval %s must be between 100ms and 24h", d)
	}
	switch d := h.RetentionInterval.D(); {
	case d < 0:
		v.add(errcode.ConfigRetentionNeg, "$.historian.retention_interval", "e.g. 1h", "historian retention_interval %s must not be negative", d)
	case d < time.Minute || d > 7*24*time.Hour:
		v.add(errcode.ConfigOutOfRange, "$.historian.retention_interval", "1m..7d, e.g. 1h", "historian retention_interval %s must be between 1m and 7d", d)
	}
	v.checkRetention(h.Retention)
}

// checkRetention checks the retention rules: what store.Options would
// refuse at start, found here with a place in the file.
func (v *validator) checkRetention(rules []RetentionRule) {
	seen := map[string]int{}
	for i, r := range rules {
		rl := loc{"$.historian", "retention", i}
		switch {
		case r.Name == "":
			v.add(errcode.ConfigMissing, rl.path(), "add 'name: <policy>': it is recorded with each purge", "retention rule %d has no name", i+1)
		default:
			if first, dup := seen[r.Name]; dup {
				where := ""
				if l := v.lineOf(loc{"$.historian", "retention", first}.at("name")); l > 0 {
					where = fmt.Sprintf(" (first at line %d)", l)
				}
				v.add(errcode.ConfigDuplicateName, rl.at("name"), "", "retention rule %q is defined twice%s", r.Name, where)
			} else {
				seen[r.Name] = i
			}
		}
		if r.Match != "" {
			if _, err := path.Match(r.Match, ""); err != nil {
				v.add(errcode.ConfigRetentionMatch, rl.at("match"), "path.Match syntax, e.g. acme/*/line1/*/*", "retention rule %q: match %q is not a valid glob: %v", r.Name, r.Match, err)
			}
		}
		neg := false
		for _, f := range []struct {
			key string
			d   Duration
		}{{"raw", r.Raw}, {"rollup_1m", r.Rollup1m}, {"rollup_1h", r.Rollup1h}} {
			if f.d < 0 {
				neg = true
				v.add(errcode.ConfigRetentionNeg, rl.at(f.key), "0 keeps forever", "retention rule %q: %s %s must not be negative", r.Name, f.key, f.d)
			}
		}
		if neg {
			continue
		}
		for _, f := range []struct {
			key string
			d   Duration
		}{{"rollup_1m", r.Rollup1m}, {"rollup_1h", r.Rollup1h}} {
			if f.d != 0 && (r.Raw == 0 || f.d < r.Raw) {
				raw := "forever"
				if r.Raw != 0 {
					raw = r.Raw.String()
				}
				v.add(errcode.ConfigRetentionOrder, rl.at(f.key), "keep rollups at least as long as raw, or 0 for forever",
					"retention rule %q: %s %s is shorter than raw (%s)", r.Name, f.key, f.d, raw)
			}
		}
	}
}

// checkLossy checks a tag's lossy settings: valid for lossy.Validate and
// on a numeric tag (deviations need numbers).
func (v *validator) checkLossy(t *Tag, tl loc, typ model.Type) {
	s := t.Lossy
	if s == nil {
		return
	}
	if typ != model.TypeInvalid && !typ.IsNumeric() {
		v.add(errcode.ConfigLossyType, tl.at("lossy"), "remove lossy", "tag %q: lossy compression applies to numeric tags, not %s", t.Name, typ)
		return
	}
	if err := s.Validate(); err != nil {
		key := "lossy"
		switch {
		case !validDev(s.ExcDev):
			key += ".exc_dev"
		case !validDev(s.CompDev):
			key += ".comp_dev"
		case s.ExcMin < 0:
			key += ".exc_min"
		case s.ExcMax < 0:
			key += ".exc_max"
		case s.CompMin < 0:
			key += ".comp_min"
		case s.CompMax < 0:
			key += ".comp_max"
		case s.ExcMax > 0 && s.ExcMin > s.ExcMax:
			key += ".exc_min"
		case s.CompMax > 0 && s.CompMin > s.CompMax:
			key += ".comp_min"
		}
		msg := err.Error()
		if c := errcode.Of(err); c != 0 {
			msg = strings.TrimPrefix(msg, c.String()+" ")
		}
		v.add(errcode.ConfigLossy, tl.at(key), "see docs/history.md, lossy", "tag %q: lossy: %s", t.Name, msg)
	}
}

func validDev(f float64) bool { return f >= 0 && !math.IsInf(f, 0) }

// fixedStrings reports whether dev's driver needs string tags to say their
// length (driver.FixedStrings); true when the device or driver is unknown,
// so that the stricter rule applies.
func fixedStrings(dev *devInfo) bool {
	if dev == nil || dev.drv == nil {
		return true
	}
	fs, ok := dev.drv.(driver.FixedStrings)
	return ok && fs.FixedStrings()
}

package acquire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
type tagDef struct {
	path   string
	cfg    config.Tag
	point  driver.Point
	class  int
	bad    error // the driver rejected the tag: it stays BadConfigurationError
	badQ   model.Quality
	scaled bool
}

// classDef is a poll class of a device.
type classDef struct {
	name      string
	interval  time.Duration // configured
	effective time.Duration // after the poll floor
	tags      []int         // indexes into plan.tags, resolved ones only
}

// plan is everything static about one device: built by New and Apply, no I/O.
type plan struct {
	cfg         config.Device
	drv         driver.Driver
	spec        driver.DeviceSpec
	tags        []tagDef
	classes     []classDef
	reportAll   bool
	fingerprint string
	maxGap      uint32
}

// walkTags calls fn for every tag of the hierarchy with its path and the
// device it is read from (the tag's own, else its machine's). It is the
// engine's copy of the walk config.Load does to fill Tag.Path, so that
// configs built in code work too.
func walkTags(c *config.Config, fn func(t *config.Tag, path, device string)) {
	ent := c.Plant.Enterprise
	machine := func(prefix []string, m *config.Machine) {
		for i := range m.Tags {
			t := &m.Tags[i]
			path := t.Path
			if path == "" {
				path = model.JoinPath(append(append(prefix[:len(prefix):len(prefix)], m.Name), t.Name)...)
			}
			dev := t.Device
			if dev == "" {
				dev = m.Device
			}
			fn(t, path, dev)
		}
	}
	for si := range c.Plant.Sites {
		s := &c.Plant.Sites[si]
		for ai := range s.Areas {
			a := &s.Areas[ai]
			for li := range a.Lines {
				l := &a.Lines[li]
				p := []string{ent, s.Name, a.Name, l.Name}
				for mi := range l.Machines {
					machine(p, &l.Machines[mi])
				}
				for ci := range l.Cells {
					cell := &l.Cells[ci]
					cp := append(p[:len(p):len(p)], cell.Name)
					for mi := range cell.Machines {
						machine(cp, &cell.Machines[mi])
					}
				}
			}
		}
	}
}

// buildPlans turns a config into device plans. Problems that make the
// config unusable (an unknown driver, device or poll class, a duplicate
// path) are returned together; a tag the driver cannot resolve only
// becomes bad, so one typo does not stop a plant.
func buildPlans(c *config.Config, lookup func(string) (driver.Driver, bool)) (map[string]*plan, []string, error) {
	plans := map[string]*plan{}
	var order []string
	var errs []error
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
		p := &plan{cfg: d, drv: drv, reportAll: d.Report == "all"}
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
		plans[d.Name] = p
		order = append(order, d.Name)
	}
	seen := map[string]bool{}
	walkTags(c, func(t *config.Tag, path, dev string) {
		if seen[path] {
			errs = append(errs, errcode.New(errcode.AcquireDuplicateTag, "tag %s is configured twice", path))
			return
		}
		seen[path] = true
		p, ok := plans[dev]
		if !ok {
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
		td := tagDef{path: path, cfg: *t, class: cls, scaled: t.Scale != nil}
		typ, ok := model.ParseType(t.Type)
		var err error
		if !ok {
			err = errcode.New(errcode.AcquireResolve, "tag %s: unknown type %q", path, t.Type)
		} else {
			td.point, err = p.drv.Resolve(p.spec, driver.TagSpec{Name: t.Name, Address: t.Address, Type: typ,
				Length: t.Length, ByteOrder: t.ByteOrder, WordOrder: t.WordOrder})
			if err != nil {
				err = errcode.Wrap(errcode.AcquireResolve, err, "tag %s: address %q", path, t.Address)
			} else if td.point.Count == 0 || td.point.Codec == nil {
				err = errcode.New(errcode.AcquireResolve, "tag %s: driver %s resolved address %q to no units", path, p.cfg.Driver, t.Address)
			} else if m := p.spaceLimit(td.point.Space, 0); td.point.Count > m {
				err = errcode.New(errcode.AcquirePointTooLarge, "tag %s: %d units, more than the %d one read of %s may cover (driver limit or coalesce.max_count)", path, td.point.Count, m, p.drv.SpaceName(td.point.Space))
			}
		}
		if err != nil {
			td.bad = err
			td.badQ = model.BadConfigurationError
		}
		p.tags = append(p.tags, td)
		if td.bad == nil {
			p.classes[cls].tags = append(p.classes[cls].tags, len(p.tags)-1)
		}
	})
	for _, p := range plans {
		// What a reload compares: the device and its tags, as configured.
		fp, _ := json.Marshal(struct {
			D config.Device
			T []config.Tag
			P []string
		}{p.cfg, tagCfgs(p.tags), tagPaths(p.tags)})
		p.fingerprint = string(fp)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return plans, order, nil
}

func deviceDisabled(c *config.Config, name string) bool {
	for _, d := range c.Devices {
		if d.Name == name {
			return d.Disabled
		}
	}
	return false
}

func tagCfgs(ts []tagDef) []config.Tag {
	out := make([]config.Tag, len(ts))
	for i := range ts {
		out[i] = ts[i].cfg
	}
	return out
}

func tagPaths(ts []tagDef) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].path
	}
	return out
}

// readPlan is one block read of a class.
type readPlan struct {
	space, start, count uint32
	tags                []int // indexes into plan.tags
	halved              bool  // a retry of a timed-out block: do not halve again
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
func (p *plan) planReads(tags []int, limit func(space uint32) uint32, halved bool) ([]readPlan, error) {
	bySpace := map[uint32][]int{}
	var spaces []uint32
	for _, ti := range tags {
		s := p.tags[ti].point.Space
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
			pt := p.tags[ti].point
			if pt.Count > max {
				out = append(out, readPlan{space: s, start: pt.Start, count: pt.Count, halved: halved, tags: []int{ti}})
				continue
			}
			ts = append(ts, ti)
			spans = append(spans, coalesce.Span{Start: pt.Start, Count: pt.Count})
		}
		reads, err := coalesce.Plan(spans, max, p.maxGap)
		if err != nil {
			return nil, errcode.Wrap(errcode.AcquirePointTooLarge, err, "plan reads of %s on %s", p.drv.SpaceName(s), p.cfg.Name)
		}
		for _, r := range reads {
			rp := readPlan{space: s, start: r.Start, count: r.Count, halved: halved, tags: make([]int, len(r.Points))}
			for i, pi := range r.Points {
				rp.tags[i] = ts[pi]
			}
			out = append(out, rp)
		}
	}
	return out, nil
}

func (p *plan) String() string { return fmt.Sprintf("device %s (%s)", p.cfg.Name, p.cfg.Driver) }

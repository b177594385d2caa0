package agent

import (
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/mtconnect"
)

// Plant maps otlink machines and tags to MTConnect devices and data
// items: one Device per machine, one data item per tag.
type Plant struct {
	Devices []mtconnect.Component
	byPath  map[string]*mapping
	// Machines maps each served machine's device (the otlink device that
	// feeds it) to its availability item ids.
	Availability map[string][]string
}

// mapping is how one tag becomes observations of one data item.
type mapping struct {
	id    string
	cat   string
	kind  int     // how values are written, see below
	scale float64 // multiplied into numeric samples (unit conversion)
}

const (
	asNumber = iota
	asText
	asExecution // the simulated machines' state register
	asDoor      // bool: OPEN / CLOSED
	asAlarm     // numeric alarm word: Normal when 0, Fault with the word as native code
)

// unitMap maps otlink engineering units to an MTConnect sample type,
// units and a factor.
var unitMap = map[string]struct {
	typ, units, native string
	scale              float64
}{
	"rpm":    {"ROTARY_VELOCITY", "REVOLUTION/MINUTE", "", 1},
	"degC":   {"TEMPERATURE", "CELSIUS", "", 1},
	"°C":     {"TEMPERATURE", "CELSIUS", "", 1},
	"C":      {"TEMPERATURE", "CELSIUS", "", 1},
	"mm/min": {"PATH_FEEDRATE", "MILLIMETER/SECOND", "MILLIMETER/MINUTE", 1.0 / 60},
	"mm":     {"POSITION", "MILLIMETER", "", 1},
	"kW":     {"WATTAGE", "WATT", "KILOWATT", 1000},
	"W":      {"WATTAGE", "WATT", "", 1},
	"A":      {"AMPERAGE", "AMPERE", "", 1},
	"V":      {"VOLTAGE", "VOLT", "", 1},
	"Hz":     {"FREQUENCY", "HERTZ", "", 1},
	"bar":    {"PRESSURE", "PASCAL", "BAR", 1e5},
	"kPa":    {"PRESSURE", "PASCAL", "", 1000},
	"Pa":     {"PRESSURE", "PASCAL", "", 1},
	"kg":     {"MASS", "KILOGRAM", "", 1},
	"%":      {"LOAD", "PERCENT", "", 1},
	"s":      {"PROCESS_TIMER", "SECOND", "", 1},
}

// ID makes an xs:ID (an NCName) of a machine and tag name.
func ID(machine, tag string) string {
	s := machine + "." + tag
	if tag == "" {
		s = machine
	}
	if c := s[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_') {
		s = "_" + s
	}
	return s
}

// FromConfig builds the devices for the machines named in only (by name
// or path; empty = every machine).
func FromConfig(c *config.Config, only []string) *Plant {
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	p := &Plant{byPath: map[string]*mapping{}, Availability: map[string][]string{}}
	config.EachMachine(c, func(m *config.Machine, prefix []string) {
		path := strings.Join(append(prefix[:len(prefix):len(prefix)], m.Name), "/")
		if len(want) > 0 && !want[m.Name] && !want[path] {
			return
		}
		p.Devices = append(p.Devices, p.device(m, path))
	})
	return p
}

func (p *Plant) device(m *config.Machine, path string) mtconnect.Component {
	d := mtconnect.NewComponent("Device", ID(m.Name, ""), m.Name)
	d.UUID = path
	d.Description = &mtconnect.Description{Manufacturer: "otlink", Model: "otlink machine", Text: m.Description}
	avail := ID(m.Name, "avail")
	d.SetItems([]mtconnect.DataItem{{ID: avail, Name: "availability", Category: mtconnect.Event, Type: "AVAILABILITY"}})
	devs := map[string]bool{}
	var items []mtconnect.DataItem
	for i := range m.Tags {
		t := &m.Tags[i]
		di, mp := mapTag(m.Name, t)
		items = append(items, di)
		tp := t.Path
		if tp == "" {
			tp = path + "/" + t.Name
		}
		p.byPath[tp] = mp
		dev := t.Device
		if dev == "" {
			dev = m.Device
		}
		devs[dev] = true
	}
	for dv := range devs {
		p.Availability[dv] = append(p.Availability[dv], avail)
	}
	ctrl := mtconnect.NewComponent("Controller", ID(m.Name, "controller"), "controller")
	ctrl.SetItems(items)
	if len(items) > 0 {
		d.SetChildren([]mtconnect.Component{ctrl})
	}
	return d
}

// mapTag chooses the data item of a tag.
func mapTag(machine string, t *config.Tag) (mtconnect.DataItem, *mapping) {
	typ, _ := model.ParseType(t.Type)
	id := ID(machine, t.Name)
	di := mtconnect.DataItem{ID: id, Name: t.Name}
	mp := &mapping{id: id, scale: 1}
	name := strings.ToLower(t.Name)
	set := func(cat, ty, sub string, kind int) {
		di.Category, di.Type, di.SubType = cat, ty, sub
		mp.cat, mp.kind = cat, kind
	}
	switch {
	case name == "state" && typ.IsNumeric():
		set(mtconnect.Event, "EXECUTION", "", asExecution)
	case strings.Contains(name, "alarm") && (typ.IsNumeric() || typ == model.Bool):
		set(mtconnect.Condition, "SYSTEM", "", asAlarm)
	case strings.Contains(name, "door") && typ == model.Bool:
		set(mtconnect.Event, "DOOR_STATE", "", asDoor)
	case name == "program" && typ == model.String:
		set(mtconnect.Event, "PROGRAM", "", asText)
	case strings.Contains(name, "count") && (typ.IsSigned() || typ.IsUnsigned()):
		sub := "ALL"
		switch {
		case strings.Contains(name, "good"):
			sub = "GOOD"
		case strings.Contains(name, "scrap") || strings.Contains(name, "bad") || strings.Contains(name, "reject"):
			sub = "BAD"
		}
		set(mtconnect.Event, "PART_COUNT", sub, asNumber)
	case strings.Contains(name, "override") && typ.IsNumeric():
		set(mtconnect.Event, "PATH_FEEDRATE_OVERRIDE", "PROGRAMMED", asNumber)
	case typ.IsNumeric():
		if u, ok := unitMap[t.Unit]; ok {
			set(mtconnect.Sample, u.typ, "", asNumber)
			di.Units, di.NativeUnits, mp.scale = u.units, u.native, u.scale
			if u.typ == "ROTARY_VELOCITY" || u.typ == "PATH_FEEDRATE" || u.typ == "POSITION" {
				di.SubType = "ACTUAL"
			}
			break
		}
		set(mtconnect.Event, "MESSAGE", "", asText)
	default:
		set(mtconnect.Event, "MESSAGE", "", asText)
	}
	return di, mp
}

// executions maps the simulated machines' state register to EXECUTION.
var executions = map[int64]string{1: "READY", 2: "ACTIVE", 3: "INTERRUPTED", 4: "STOPPED", 5: "STOPPED"}

// Update returns the observation of a sample, ok false when its tag is
// not served.
func (p *Plant) Update(s *model.Sample) (Update, bool) {
	mp := p.byPath[s.Tag]
	if mp == nil {
		return Update{}, false
	}
	u := Update{ID: mp.id, Time: timeOf(s)}
	if s.Quality.IsBad() || !s.Value.IsValid() {
		u.Value = mtconnect.Unavailable
		if mp.cat == mtconnect.Condition {
			u.Value, u.Level = "", mtconnect.LevelUnavailable
		}
		return u, true
	}
	v := s.Value
	switch mp.kind {
	case asExecution:
		e, ok := executions[v.Int()]
		if !ok {
			e = "READY"
		}
		u.Value = e
	case asDoor:
		u.Value = "CLOSED"
		if v.Bool() {
			u.Value = "OPEN"
		}
	case asAlarm:
		if v.Uint() == 0 && !(v.T == model.Bool && v.Bool()) {
			u.Level = mtconnect.LevelNormal
		} else {
			u.Level, u.NativeCode, u.Value = mtconnect.LevelFault, v.String(), "alarm "+v.String()
		}
	case asText:
		u.Value = v.Str()
	default:
		switch {
		case mp.scale != 1:
			u.Value = strconv.FormatFloat(v.Float()*mp.scale, 'g', 10, 64)
		case v.T.IsFloat():
			u.Value = strconv.FormatFloat(v.Float(), 'g', -1, 64)
		default:
			u.Value = v.String()
		}
	}
	return u, true
}

// Serves reports whether the tag path is served.
func (p *Plant) Serves(path string) bool { return p.byPath[path] != nil }

func timeOf(s *model.Sample) (t time.Time) {
	switch {
	case s.Source != 0:
		return time.Unix(0, s.Source)
	case s.Server != 0:
		return time.Unix(0, s.Server)
	}
	return time.Time{}
}

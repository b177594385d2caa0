package sim

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/otlink/otlink/internal/model"
)

// Entry is one point of the register map, in the terms an otlink config
// uses for a tag. Addresses are 0-based protocol (PDU) addresses in the
// Modbus driver's syntax: hr:100, ir:3, coil:0, di:16.
type Entry struct {
	Name        string
	Address     string
	Type        string  // a model type name: bool, uint16, float32, string, ...
	Length      int     // string length in characters
	Unit        string  // engineering unit
	WordOrder   string  // "big" (high word first) or "little", for values of 2+ registers
	Scale       float64 // engineering value = raw × Scale; 0 = no scaling
	Writable    bool
	Min, Max    float64 // range the device accepts for writes, when Writable
	Description string
}

// space is a Modbus data table.
type space uint8

const (
	spaceCoil space = iota
	spaceDiscrete
	spaceHolding
	spaceInput
)

var spacePrefix = [...]string{spaceCoil: "coil", spaceDiscrete: "di", spaceHolding: "hr", spaceInput: "ir"}

// Sizes of the data tables of a machine device: every address below the
// size is mapped (unused ones read 0); reads past it get exception 02.
const (
	coilCount     = 32
	discreteCount = 32
	holdingCount  = 700
	inputCount    = 200

	// BenchBase is the first holding register of a bench device's pattern
	// area: register BenchBase+i holds uint16(i*31 + step).
	BenchBase = 1000
)

// Writable points.
const (
	addrFeedOverride = 6
	addrScratch      = 20 // hr:20..35, any uint16
	scratchCount     = 16
	coilScratch      = 16 // coil:16..31
)

// slot is an Entry with what the encoder needs.
type slot struct {
	Entry
	sp     space
	addr   int
	typ    model.Type
	little bool
	num    func(*Values) float64
	str    func(*Values) string
	bit    func(*Values) bool
	scale  float64
}

type signal struct {
	name, unit, desc string
	get              func(*Values) float64
}

// signals are the analogue values mirrored in every type and word order.
var signals = []signal{
	{"spindle_speed", "rpm", "spindle speed (strokes/min on a press)", func(v *Values) float64 { return v.SpindleSpeed }},
	{"feed", "mm/min", "feed rate, after the feed override", func(v *Values) float64 { return v.Feed }},
	{"spindle_load", "%", "spindle load", func(v *Values) float64 { return v.SpindleLoad }},
	{"spindle_temp", "degC", "spindle bearing temperature", func(v *Values) float64 { return v.SpindleTemp }},
	{"coolant_temp", "degC", "coolant temperature", func(v *Values) float64 { return v.CoolantTemp }},
	{"ambient_temp", "degC", "ambient temperature", func(v *Values) float64 { return v.AmbientTemp }},
	{"vibration", "mm/s", "spindle vibration RMS; rises with wear, spikes before faults", func(v *Values) float64 { return v.Vibration }},
	{"power", "kW", "electrical power", func(v *Values) float64 { return v.Power }},
	{"energy", "kWh", "energy meter, never decreases", func(v *Values) float64 { return v.Energy }},
	{"cycle_time", "s", "duration of the last part", func(v *Values) float64 { return v.CycleTime }},
	{"tool_wear", "%", "share of the maintenance interval used", func(v *Values) float64 { return v.ToolWear }},
	{"x_pos", "mm", "x axis position, signed", func(v *Values) float64 { return v.XPos }},
}

// typedBlocks place the signals in every type and word order.
var typedBlocks = []struct {
	base   int
	typ    model.Type
	little bool
	suffix string
}{
	{100, model.Float32, false, ""},
	{150, model.Float32, true, "_f32le"},
	{200, model.Int16, false, "_i16"},
	{220, model.Uint16, false, "_u16"},
	{240, model.Int32, false, "_i32"},
	{270, model.Int32, true, "_i32le"},
	{300, model.Uint32, false, "_u32"},
	{330, model.Uint32, true, "_u32le"},
	{400, model.Int64, false, "_i64"},
	{450, model.Int64, true, "_i64le"},
	{500, model.Uint64, false, "_u64"},
	{550, model.Uint64, true, "_u64le"},
	{600, model.Float64, false, "_f64"},
	{650, model.Float64, true, "_f64le"},
}

func u(f func(*Values) uint32) func(*Values) float64 {
	return func(v *Values) float64 { return float64(f(v)) }
}

var slots = buildSlots()

func buildSlots() []slot {
	var out []slot
	add := func(sp space, addr int, typ model.Type, name, unit, desc string, s slot) {
		s.sp, s.addr, s.typ = sp, addr, typ
		s.Name, s.Unit, s.Description, s.Type = name, unit, desc, typ.String()
		s.Address = fmt.Sprintf("%s:%d", spacePrefix[sp], addr)
		if typ.Bits() > 16 {
			s.WordOrder = "big"
			if s.little {
				s.WordOrder = "little"
			}
		}
		s.Scale = s.scale
		out = append(out, s)
	}
	hr, ir := spaceHolding, spaceInput
	state := func(v *Values) float64 { return float64(v.State) }
	alarms := func(v *Values) float64 { return float64(v.Alarms) }
	good := u(func(v *Values) uint32 { return v.Good })
	scrap := u(func(v *Values) uint32 { return v.Scrap })

	add(hr, 0, model.Uint16, "state", "", "machine state: 1 idle, 2 running, 3 setup, 4 fault, 5 maintenance", slot{num: state})
	add(hr, 1, model.Uint16, "alarm_word", "", "alarm bits, set in fault (see docs/sim.md)", slot{num: alarms})
	add(hr, 2, model.Uint32, "good_count", "parts", "good parts made", slot{num: good})
	add(hr, 4, model.Uint32, "scrap_count", "parts", "scrapped parts", slot{num: scrap})
	add(hr, addrFeedOverride, model.Uint16, "feed_override", "%", "feed override setpoint; scales feed and cycle time",
		slot{num: func(v *Values) float64 { return float64(v.FeedOverride) }, Entry: Entry{Writable: true, Min: FeedOverrideMin, Max: FeedOverrideMax}})
	add(hr, 7, model.Uint16, "heartbeat", "s", "simulated seconds, modulo 65536",
		slot{num: func(v *Values) float64 { return float64(int64(v.SimTime.Seconds()) % 65536) }})
	add(hr, 10, model.String, "program", "", "active part program, 2 characters per register, high byte first",
		slot{str: func(v *Values) string { return v.Program }, Entry: Entry{Length: 16}})
	for i := range scratchCount {
		add(hr, addrScratch+i, model.Uint16, fmt.Sprintf("scratch_%d", i), "", "writable scratch register, kept by the device",
			slot{Entry: Entry{Writable: true, Min: 0, Max: 65535}})
	}
	for _, b := range typedBlocks {
		width := b.typ.Bits() / 16
		for i, sg := range signals {
			desc := sg.desc
			if b.suffix != "" {
				desc = fmt.Sprintf("%s, as %s", sg.name, b.typ)
				if b.little {
					desc += " low word first"
				}
				if !b.typ.IsFloat() {
					desc += ", rounded and saturated"
				}
			}
			add(hr, b.base+i*width, b.typ, sg.name+b.suffix, sg.unit, desc, slot{num: sg.get, little: b.little})
		}
	}

	scaled := func(addr int, typ model.Type, sg signal, scale float64) {
		add(ir, addr, typ, sg.name+"_raw", sg.unit, sg.desc+" (scaled integer)", slot{num: sg.get, scale: scale})
	}
	sig := func(name string) signal {
		for _, s := range signals {
			if s.name == name {
				return s
			}
		}
		panic("sim: no signal " + name)
	}
	scaled(0, model.Uint16, sig("spindle_speed"), 1)
	scaled(1, model.Uint16, sig("feed"), 1)
	scaled(2, model.Uint16, sig("spindle_load"), 0.1)
	scaled(3, model.Int16, sig("spindle_temp"), 0.1)
	scaled(4, model.Int16, sig("coolant_temp"), 0.1)
	scaled(5, model.Int16, sig("ambient_temp"), 0.1)
	scaled(6, model.Uint16, sig("vibration"), 0.01)
	scaled(7, model.Uint16, sig("power"), 0.1)
	scaled(8, model.Uint32, sig("energy"), 0.1)
	add(ir, 10, model.Uint16, "state_raw", "", "machine state, as hr:0", slot{num: state})
	add(ir, 11, model.Uint16, "alarm_word_raw", "", "alarm bits, as hr:1", slot{num: alarms})
	add(ir, 12, model.Uint32, "good_count_raw", "parts", "good parts, as hr:2", slot{num: good})
	add(ir, 14, model.Uint32, "scrap_count_raw", "parts", "scrapped parts, as hr:4", slot{num: scrap})
	for i, sg := range signals {
		add(ir, 100+2*i, model.Float32, sg.name+"_in", sg.unit, sg.name+", as float32 in input registers", slot{num: sg.get})
	}

	co, di := spaceCoil, spaceDiscrete
	is := func(s State) func(*Values) bool { return func(v *Values) bool { return v.State == s } }
	add(co, 0, model.Bool, "running", "", "state is running", slot{bit: is(StateRunning)})
	add(co, 1, model.Bool, "fault", "", "state is fault", slot{bit: is(StateFault)})
	add(co, 2, model.Bool, "door_open", "", "guard door open", slot{bit: func(v *Values) bool { return v.DoorOpen }})
	add(co, 3, model.Bool, "setup", "", "state is setup", slot{bit: is(StateSetup)})
	add(co, 4, model.Bool, "maintenance", "", "state is maintenance", slot{bit: is(StateMaintenance)})
	add(co, 5, model.Bool, "idle", "", "state is idle", slot{bit: is(StateIdle)})
	add(co, 6, model.Bool, "coolant_on", "", "coolant pump on", slot{bit: func(v *Values) bool { return v.CoolantOn }})
	add(co, 7, model.Bool, "spindle_on", "", "spindle turning", slot{bit: func(v *Values) bool { return v.SpindleSpeed > 0 }})
	add(co, 8, model.Bool, "alarm_active", "", "any alarm bit set", slot{bit: func(v *Values) bool { return v.Alarms != 0 }})
	for i := range scratchCount {
		add(co, coilScratch+i, model.Bool, fmt.Sprintf("scratch_coil_%d", i), "", "writable scratch coil, kept by the device",
			slot{Entry: Entry{Writable: true, Min: 0, Max: 1}})
	}
	for i, n := range AlarmNames {
		bit := uint16(1) << i
		add(di, i, model.Bool, "alarm_"+n, "", "alarm bit "+fmt.Sprint(i)+" of the alarm word",
			slot{bit: func(v *Values) bool { return v.Alarms&bit != 0 }})
	}
	add(di, 16, model.Bool, "door_closed", "", "guard door closed switch", slot{bit: func(v *Values) bool { return !v.DoorOpen }})
	add(di, 17, model.Bool, "estop_ok", "", "emergency stop circuit closed", slot{bit: func(v *Values) bool { return v.Alarms&AlarmEmergencyStop == 0 }})
	add(di, 18, model.Bool, "air_ok", "", "air pressure switch", slot{bit: func(v *Values) bool { return v.Alarms&AlarmAirPressure == 0 }})
	add(di, 19, model.Bool, "coolant_level_ok", "", "coolant level switch", slot{bit: func(v *Values) bool { return v.Alarms&AlarmCoolantLow == 0 }})
	return out
}

// Map returns the register map of every simulated machine, in address
// order per table: holding registers, input registers, coils, discrete
// inputs. The caller may modify the returned slice.
func Map() []Entry {
	out := make([]Entry, len(slots))
	for i := range slots {
		out[i] = slots[i].Entry
	}
	return out
}

// Lookup returns the map entry called name.
func Lookup(name string) (Entry, bool) {
	for i := range slots {
		if slots[i].Name == name {
			return slots[i].Entry, true
		}
	}
	return Entry{}, false
}

// image is a device's data tables in wire form: registers as big-endian
// bytes, bits as one byte (0 or 1) each.
type image struct {
	hr, ir    []byte
	coil, di  []byte
	benchRegs int // pattern registers from BenchBase; 0 = none
	step      int64
}

func newImage(benchRegs int) *image {
	return &image{
		hr:        make([]byte, 2*holdingCount),
		ir:        make([]byte, 2*inputCount),
		coil:      make([]byte, coilCount),
		di:        make([]byte, discreteCount),
		benchRegs: benchRegs,
	}
}

// holdingSize is the number of mapped holding registers.
func (im *image) holdingSize() int {
	if im.benchRegs > 0 {
		return BenchBase + im.benchRegs
	}
	return holdingCount
}

// encode writes v into the image. Writable points are left alone: the
// device keeps them.
func (im *image) encode(v *Values) {
	im.step = v.Step
	for i := range slots {
		s := &slots[i]
		if s.Writable && s.num == nil {
			continue
		}
		switch s.sp {
		case spaceCoil:
			im.coil[s.addr] = b2u(s.bit(v))
		case spaceDiscrete:
			im.di[s.addr] = b2u(s.bit(v))
		case spaceHolding:
			s.encodeReg(im.hr, v)
		case spaceInput:
			s.encodeReg(im.ir, v)
		}
	}
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (s *slot) encodeReg(tab []byte, v *Values) {
	b := tab[2*s.addr:]
	if s.typ == model.String {
		str := s.str(v)
		for i := range 2 * ((s.Length + 1) / 2) {
			c := byte(0)
			if i < len(str) {
				c = str[i]
			}
			b[i] = c
		}
		return
	}
	x := s.num(v)
	if s.scale != 0 {
		x /= s.scale
	}
	var raw uint64
	switch s.typ {
	case model.Float32:
		raw = uint64(math.Float32bits(float32(x)))
	case model.Float64:
		raw = math.Float64bits(x)
	case model.Int16:
		raw = uint64(int64(clamp(math.Round(x), math.MinInt16, math.MaxInt16)))
	case model.Uint16:
		raw = uint64(clamp(math.Round(x), 0, math.MaxUint16))
	case model.Int32:
		raw = uint64(int64(clamp(math.Round(x), math.MinInt32, math.MaxInt32)))
	case model.Uint32:
		raw = uint64(clamp(math.Round(x), 0, math.MaxUint32))
	case model.Int64:
		raw = uint64(int64(clamp(math.Round(x), -(1 << 62), 1<<62)))
	case model.Uint64:
		raw = uint64(clamp(math.Round(x), 0, 1<<62))
	}
	putWords(b, raw, s.typ.Bits()/16, s.little)
}

// putWords writes the low n 16-bit words of raw, high word first unless
// little; each word is big-endian.
func putWords(b []byte, raw uint64, n int, little bool) {
	for i := range n {
		w := uint16(raw >> (16 * (n - 1 - i)))
		j := i
		if little {
			j = n - 1 - i
		}
		binary.BigEndian.PutUint16(b[2*j:], w)
	}
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

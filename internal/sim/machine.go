package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// State is what a machine is doing. The numbers are what the state register
// (hr:0) holds.
type State uint16

// The machine states.
const (
	StateIdle        State = 1
	StateRunning     State = 2
	StateSetup       State = 3
	StateFault       State = 4
	StateMaintenance State = 5
)

// States lists every state, in register order.
var States = []State{StateIdle, StateRunning, StateSetup, StateFault, StateMaintenance}

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateRunning:
		return "running"
	case StateSetup:
		return "setup"
	case StateFault:
		return "fault"
	case StateMaintenance:
		return "maintenance"
	}
	return fmt.Sprintf("state(%d)", uint16(s))
}

// Alarm bits of the alarm word (hr:1). A machine in fault has one or two set;
// they clear when the fault is reset.
const (
	AlarmSpindleOverload uint16 = 1 << 0
	AlarmOverTemperature uint16 = 1 << 1
	AlarmVibration       uint16 = 1 << 2
	AlarmToolBreakage    uint16 = 1 << 3
	AlarmCoolantLow      uint16 = 1 << 4
	AlarmServo           uint16 = 1 << 5
	AlarmEmergencyStop   uint16 = 1 << 6
	AlarmDoorInterlock   uint16 = 1 << 7
	AlarmLubrication     uint16 = 1 << 8
	AlarmAirPressure     uint16 = 1 << 9
)

// AlarmNames names the alarm bits, index = bit number.
var AlarmNames = []string{
	"spindle_overload", "over_temperature", "vibration", "tool_breakage", "coolant_low",
	"servo", "emergency_stop", "door_interlock", "lubrication", "air_pressure",
}

// Kind is the kind of machine; it sets the nominal speeds, cycle times and
// dwell times. All kinds share one register map.
type Kind uint8

// The machine kinds.
const (
	KindMill Kind = iota
	KindLathe
	KindPress
)

func (k Kind) String() string {
	switch k {
	case KindMill:
		return "mill"
	case KindLathe:
		return "lathe"
	case KindPress:
		return "press"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads "mill" (or "cnc"), "lathe" or "press".
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "mill", "cnc":
		return KindMill, true
	case "lathe":
		return KindLathe, true
	case "press":
		return KindPress, true
	}
	return 0, false
}

type kindParams struct {
	rpm, feed, cycle [2]float64 // nominal ranges of a program: speed, feed (mm/min), cycle (s)
	load             [2]float64 // base spindle load % of a program
	powerRun         float64    // kW at 100 % load, on top of the base
	tempRise         float64    // spindle temperature rise at 100 % load, degC
	dwell            float64    // scale of state dwell times
	program          string     // format of program names
	travel           float64    // x axis half travel, mm
}

var kinds = [...]kindParams{
	KindMill:  {rpm: [2]float64{6000, 15000}, feed: [2]float64{800, 3000}, cycle: [2]float64{30, 240}, load: [2]float64{35, 65}, powerRun: 15, tempRise: 22, dwell: 1, program: "O%04d", travel: 250},
	KindLathe: {rpm: [2]float64{1500, 4000}, feed: [2]float64{100, 400}, cycle: [2]float64{60, 180}, load: [2]float64{40, 70}, powerRun: 18, tempRise: 18, dwell: 1, program: "L%04d", travel: 150},
	KindPress: {rpm: [2]float64{20, 60}, feed: [2]float64{3000, 6000}, cycle: [2]float64{2, 5}, load: [2]float64{50, 80}, powerRun: 30, tempRise: 12, dwell: 0.5, program: "DIE-%03d", travel: 100},
}

// Feed override limits the device accepts (hr:6); writes outside are
// refused with exception 03.
const (
	FeedOverrideMin = 0
	FeedOverrideMax = 200
)

// pmInterval is the running time after which preventive maintenance is due.
const pmInterval = 8 * 3600.0

// MachineConfig configures one simulated machine.
type MachineConfig struct {
	Name string
	Kind Kind
	Seed uint64
	Step time.Duration // simulated time per step; default 100 ms
}

// Values is a snapshot of a machine's signals.
type Values struct {
	Step    int64
	SimTime time.Duration // simulated time since start
	State   State

	SpindleSpeed float64 // rpm (strokes/min for a press)
	Feed         float64 // mm/min
	SpindleLoad  float64 // %
	SpindleTemp  float64 // degC
	CoolantTemp  float64 // degC
	AmbientTemp  float64 // degC
	Vibration    float64 // mm/s RMS
	Power        float64 // kW
	Energy       float64 // kWh, never decreases
	CycleTime    float64 // s, of the last part
	ToolWear     float64 // % of the preventive maintenance interval used
	XPos         float64 // mm, signed

	Good, Scrap  uint32
	Alarms       uint16
	Program      string
	FeedOverride uint16 // %
	DoorOpen     bool
	CoolantOn    bool
}

// Machine is a simulated machine. It is not safe for concurrent use; a
// Device serialises access.
type Machine struct {
	cfg MachineConfig
	p   *kindParams
	rng *rand.Rand
	dt  float64 // seconds per step

	v Values

	left      float64 // seconds left in the current state
	planFault bool    // this run ends in a fault
	warn      float64 // seconds of early warning before the fault
	spin      bool    // a test spin during setup

	nomRPM, nomFeed, nomCycle, nomLoad float64
	cycleElapsed                       float64
	cycleWork                          float64 // progress of the part, in nominal seconds
	runSec                             float64 // running time since maintenance

	speed, feed, load   float64 // lagged values before noise
	spT, coT, vib       float64
	ambBase, ambWalk    float64
	alphaSpeed, alphaFd float64
	alphaLoad, alphaSp  float64
	alphaCo, alphaVib   float64
}

// NewMachine returns a machine in a state drawn from its seed.
func NewMachine(cfg MachineConfig) *Machine {
	if cfg.Step <= 0 {
		cfg.Step = 100 * time.Millisecond
	}
	if int(cfg.Kind) >= len(kinds) {
		cfg.Kind = KindMill
	}
	m := &Machine{
		cfg: cfg,
		p:   &kinds[cfg.Kind],
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x6f746c696e6b)), // "otlink"
		dt:  cfg.Step.Seconds(),
	}
	lag := func(tau float64) float64 { return 1 - math.Exp(-m.dt/tau) }
	m.alphaSpeed, m.alphaFd, m.alphaLoad = lag(1.5), lag(0.5), lag(1.0)
	m.alphaSp, m.alphaCo, m.alphaVib = lag(600), lag(1200), lag(2)

	r := m.rng
	m.v.FeedOverride = 100
	m.v.Good = uint32(10000 + r.IntN(190000))
	m.v.Scrap = m.v.Good / uint32(50+r.IntN(100))
	m.v.Energy = 1000 + 49000*r.Float64()
	m.runSec = r.Float64() * 0.75 * pmInterval
	m.ambBase = 20 + 4*r.Float64()
	m.newProgram()
	m.v.CycleTime = m.nomCycle

	// Start in a state drawn like a plant found at a random moment, part
	// way through its dwell.
	var s State
	switch x := r.Float64(); {
	case x < 0.6:
		s = StateRunning
	case x < 0.8:
		s = StateIdle
	case x < 0.92:
		s = StateSetup
	case x < 0.97:
		s = StateFault
	default:
		s = StateMaintenance
	}
	m.enter(s)
	m.left *= r.Float64()
	if m.planFault && m.warn > m.left {
		m.warn = m.left
	}
	amb := m.ambBase
	m.spT, m.coT, m.vib = amb+2, amb+1, 0.4
	if s == StateRunning {
		m.speed, m.feed, m.load = m.nomRPM, m.nomFeed, m.nomLoad
		m.spT = amb + 8 + m.p.tempRise*m.nomLoad/100
		m.coT = amb + 2 + 6*m.nomLoad/100
	}
	m.output()
	return m
}

// Config returns the machine's configuration.
func (m *Machine) Config() MachineConfig { return m.cfg }

// Values returns the current snapshot.
func (m *Machine) Values() Values { return m.v }

// StepDuration is the simulated time of one step.
func (m *Machine) StepDuration() time.Duration { return m.cfg.Step }

// SetFeedOverride sets the feed override setpoint in percent. It influences
// the feed and the cycle time from the next step on.
func (m *Machine) SetFeedOverride(pct uint16) error {
	if pct > FeedOverrideMax {
		return fmt.Errorf("feed override %d%% outside %d..%d", pct, FeedOverrideMin, FeedOverrideMax)
	}
	m.v.FeedOverride = pct
	return nil
}

func (m *Machine) uniform(lo, hi float64) float64 { return lo + (hi-lo)*m.rng.Float64() }

func (m *Machine) newProgram() {
	p := m.p
	r := m.rng
	switch m.cfg.Kind {
	case KindPress:
		m.v.Program = fmt.Sprintf(p.program, 1+r.IntN(120))
	default:
		m.v.Program = fmt.Sprintf(p.program, 1000+r.IntN(9000))
	}
	m.nomRPM = math.Round(m.uniform(p.rpm[0], p.rpm[1])/10) * 10
	m.nomFeed = math.Round(m.uniform(p.feed[0], p.feed[1])/10) * 10
	m.nomCycle = math.Round(m.uniform(p.cycle[0], p.cycle[1])*10) / 10
	m.nomLoad = m.uniform(p.load[0], p.load[1])
}

// enter switches to s and draws its dwell time.
func (m *Machine) enter(s State) {
	minute := 60 * m.p.dwell
	m.v.State = s
	m.spin = false
	m.v.Alarms = 0
	switch s {
	case StateRunning:
		m.left = m.uniform(8, 40) * minute
		wear := m.runSec / pmInterval
		m.planFault = m.rng.Float64() < 0.08+0.25*wear
		if m.planFault {
			m.left = m.uniform(3, 30) * minute
			m.warn = math.Min(120, m.left)
		}
		m.v.DoorOpen = false
	case StateIdle:
		m.left = m.uniform(1, 8) * minute
		m.v.DoorOpen = m.rng.Float64() < 0.3
	case StateSetup:
		m.left = m.uniform(4, 15) * minute
		m.v.DoorOpen = true
		m.newProgram()
	case StateFault:
		m.left = m.uniform(2, 12) * minute
		m.v.DoorOpen = false
		causes := [...]uint16{AlarmSpindleOverload, AlarmOverTemperature, AlarmVibration, AlarmVibration,
			AlarmToolBreakage, AlarmCoolantLow, AlarmServo, AlarmEmergencyStop, AlarmDoorInterlock,
			AlarmLubrication, AlarmAirPressure}
		m.v.Alarms = causes[m.rng.IntN(len(causes))]
		if m.rng.Float64() < 0.3 {
			m.v.Alarms |= causes[m.rng.IntN(len(causes))]
		}
	case StateMaintenance:
		m.left = m.uniform(15, 45) * minute
		m.v.DoorOpen = true
	}
}

// next picks the state that follows the current one.
func (m *Machine) next() State {
	x := m.rng.Float64()
	switch m.v.State {
	case StateRunning:
		if m.planFault {
			return StateFault
		}
		if x < 0.8 {
			return StateIdle
		}
		return StateSetup
	case StateIdle:
		switch {
		case m.runSec >= pmInterval || x < 0.07:
			return StateMaintenance
		case x < 0.85:
			return StateRunning
		}
		return StateSetup
	case StateSetup:
		return StateRunning
	case StateFault:
		if x < 0.7 {
			return StateIdle
		}
		return StateMaintenance
	}
	// Maintenance resets the wear.
	m.runSec = 0
	return StateIdle
}

// Step advances the machine by one step of simulated time.
func (m *Machine) Step() {
	dt := m.dt
	r := m.rng
	m.v.Step++
	m.v.SimTime = time.Duration(m.v.Step) * m.cfg.Step
	m.left -= dt
	if m.left <= 0 {
		m.enter(m.next())
	}
	s := m.v.State
	ovr := float64(m.v.FeedOverride) / 100

	var rpmT, feedT, loadT float64
	switch s {
	case StateRunning:
		m.runSec += dt
		m.cycleElapsed += dt
		m.cycleWork += dt * ovr
		phase := 2 * math.Pi * m.cycleWork / m.nomCycle
		rpmT = m.nomRPM
		feedT = m.nomFeed * ovr
		loadT = m.nomLoad*(0.7+0.3*ovr) + 8*math.Sin(2*phase) + 20*m.runSec/pmInterval
		if m.cycleWork >= m.nomCycle {
			m.partDone()
		}
		m.v.XPos = m.p.travel * math.Sin(4*phase)
	case StateSetup:
		if r.Float64() < dt/60 {
			m.spin = !m.spin
		}
		if m.spin {
			rpmT, loadT = m.nomRPM/10, 5
		}
	}
	m.speed += m.alphaSpeed * (rpmT - m.speed)
	m.feed += m.alphaFd * (feedT - m.feed)
	m.load += m.alphaLoad * (loadT - m.load)
	if rpmT == 0 && m.speed < 1 {
		m.speed = 0
	}
	if feedT == 0 && m.feed < 1 {
		m.feed = 0
	}
	if loadT == 0 && m.load < 0.1 {
		m.load = 0
	}

	// Ambient: a daily wave plus a mean-reverting random walk.
	m.ambWalk += -m.ambWalk*dt/3600 + 0.01*math.Sqrt(dt)*r.NormFloat64()
	amb := m.ambBase + 2*math.Sin(2*math.Pi*m.v.SimTime.Seconds()/86400) + m.ambWalk
	spTarget, coTarget := amb+2, amb+1
	if m.speed > 0 {
		spTarget = amb + 8 + m.p.tempRise*m.load/100
	}
	if s == StateRunning {
		coTarget = amb + 2 + 6*m.load/100
	}
	m.spT += m.alphaSp * (spTarget - m.spT)
	m.coT += m.alphaCo * (coTarget - m.coT)

	vibT := 0.4
	if m.speed > 0 {
		vibT = 0.8 + 1.6*m.speed/m.p.rpm[1] + 2.5*m.runSec/pmInterval
		if s == StateRunning && m.planFault && m.left < m.warn {
			// Early warning: vibration climbs and spikes before the fault.
			vibT *= 1 + 3*(1-m.left/m.warn)
			if r.Float64() < 0.1 {
				vibT *= 2.5
			}
		}
	}
	m.vib += m.alphaVib * (vibT - m.vib)

	m.output()
}

func (m *Machine) partDone() {
	wear := m.runSec / pmInterval
	scrapP := 0.01 + 0.05*wear
	if m.planFault && m.left < m.warn {
		scrapP += 0.2
	}
	if m.rng.Float64() < scrapP {
		m.v.Scrap++
	} else {
		m.v.Good++
	}
	m.v.CycleTime = math.Round(m.cycleElapsed*10) / 10
	m.cycleElapsed, m.cycleWork = 0, 0
}

// output derives the noisy, published values from the model's state.
func (m *Machine) output() {
	r := m.rng
	v := &m.v
	noisy := func(x, rel float64) float64 {
		if x == 0 {
			return 0
		}
		return math.Max(0, x*(1+rel*r.NormFloat64()))
	}
	v.SpindleSpeed = noisy(m.speed, 0.002)
	v.Feed = noisy(m.feed, 0.004)
	v.SpindleLoad = math.Min(120, noisy(m.load, 0.03))
	amb := m.ambBase + 2*math.Sin(2*math.Pi*v.SimTime.Seconds()/86400) + m.ambWalk
	v.AmbientTemp = amb + 0.05*r.NormFloat64()
	v.SpindleTemp = m.spT + 0.1*r.NormFloat64()
	v.CoolantTemp = m.coT + 0.05*r.NormFloat64()
	v.Vibration = noisy(m.vib, 0.05)
	v.ToolWear = math.Min(100, 100*m.runSec/pmInterval)
	v.CoolantOn = v.State == StateRunning

	var p float64
	switch v.State {
	case StateRunning:
		p = 3 + m.p.powerRun*m.load/100
	case StateIdle:
		p = 1.2
	case StateSetup:
		p = 1.8 + m.p.powerRun*m.load/100
	case StateFault:
		p = 0.8
	default:
		p = 0.3
	}
	v.Power = noisy(p, 0.02)
	v.Energy += v.Power * m.dt / 3600
}

package sim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/mtconnect"
	"github.com/otlink/otlink/internal/mtconnect/agent"
)

// CNCConfig configures a simulated MTConnect CNC: a machine served by its
// own MTConnect agent over HTTP.
type CNCConfig struct {
	Name    string
	Line    string
	Machine MachineConfig // Name defaults to the CNC's; Kind mill by default

	Listen     string        // listen address; default 127.0.0.1:0
	Clock      Clock         // nil = real time
	Speed      float64       // simulated seconds per clock second; default 1
	BufferSize int           // the agent's observation buffer; default 8192
	Tick       time.Duration // how often the model catches up with the clock while serving; default 100ms
}

// CNC is a simulated machine tool served as an MTConnect agent: probe,
// current and sample (streamed too), with faults on demand: dropped
// streams, an agent restart with a new instance id, a small buffer.
type CNC struct {
	cfg   CNCConfig
	clock Clock
	start time.Time
	dev   mtconnect.Component

	mu   sync.Mutex // guards m, last, and swapping the agent
	m    *Machine
	last map[string]string // value last published per data item
	ag   atomic.Pointer[agent.Agent]

	life    sync.Mutex
	srv     *http.Server
	ln      net.Listener
	addr    string
	conns   map[net.Conn]struct{}
	started bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// NewCNC returns a CNC; it does no I/O. Start makes it listen.
func NewCNC(cfg CNCConfig) *CNC {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 8192
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Machine.Name == "" {
		cfg.Machine.Name = cfg.Name
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	c := &CNC{cfg: cfg, clock: clock, start: clock.Now(), m: NewMachine(cfg.Machine),
		conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	c.cfg.Machine = c.m.Config()
	c.dev = CNCDevice(cfg.Name, c.m.Config())
	c.newAgent(cfg.BufferSize, uint64(c.start.Unix()))
	return c
}

// The data item ids of a simulated CNC.
const (
	CNCAvailability = "avail"
	CNCEmergency    = "estop"
	CNCMode         = "mode"
	CNCSystem       = "system"
	CNCExecution    = "execution"
	CNCProgram      = "program"
	CNCPartCount    = "part_count"
	CNCScrapCount   = "scrap_count"
	CNCFeedrate     = "feedrate"
	CNCFeedOverride = "feed_ovr"
	CNCXPos         = "xpos"
	CNCSpindleSpeed = "spindle_speed"
	CNCSpindleLoad  = "spindle_load"
	CNCSpindleTemp  = "spindle_temp"
	CNCSpindleCond  = "spindle_cond"
	CNCCoolantTemp  = "coolant_temp"
	CNCPower        = "power"
)

// CNCDevice is the MTConnect device model of a simulated CNC.
func CNCDevice(name string, mc MachineConfig) mtconnect.Component {
	di := func(id, cat, typ, sub, units string) mtconnect.DataItem {
		return mtconnect.DataItem{ID: id, Name: id, Category: cat, Type: typ, SubType: sub, Units: units}
	}
	dev := mtconnect.NewComponent("Device", "dev", name)
	dev.UUID = "otlink-sim-" + name
	dev.Description = &mtconnect.Description{Manufacturer: "otlink-sim", Model: "OTL-SIM-" + upper(mc.Kind.String()),
		SerialNumber: fmt.Sprintf("SN-%08X", uint32(mc.Seed)), Text: "otlink simulated " + mc.Kind.String() + " (MTConnect)"}
	dev.SetItems([]mtconnect.DataItem{di(CNCAvailability, mtconnect.Event, "AVAILABILITY", "", "")})

	ctrl := mtconnect.NewComponent("Controller", "ctrl", "controller")
	ctrl.SetItems([]mtconnect.DataItem{
		di(CNCEmergency, mtconnect.Event, "EMERGENCY_STOP", "", ""),
		di(CNCMode, mtconnect.Event, "CONTROLLER_MODE", "", ""),
		di(CNCSystem, mtconnect.Condition, "SYSTEM", "", ""),
	})
	path := mtconnect.NewComponent("Path", "path", "path")
	path.SetItems([]mtconnect.DataItem{
		di(CNCExecution, mtconnect.Event, "EXECUTION", "", ""),
		di(CNCProgram, mtconnect.Event, "PROGRAM", "", ""),
		di(CNCPartCount, mtconnect.Event, "PART_COUNT", "GOOD", ""),
		di(CNCScrapCount, mtconnect.Event, "PART_COUNT", "BAD", ""),
		{ID: CNCFeedrate, Name: CNCFeedrate, Category: mtconnect.Sample, Type: "PATH_FEEDRATE", SubType: "ACTUAL", Units: "MILLIMETER/SECOND", NativeUnits: "MILLIMETER/MINUTE"},
		di(CNCFeedOverride, mtconnect.Event, "PATH_FEEDRATE_OVERRIDE", "PROGRAMMED", ""),
	})
	ctrl.SetChildren([]mtconnect.Component{path})

	x := mtconnect.NewComponent("Linear", "x", "X")
	x.SetItems([]mtconnect.DataItem{di(CNCXPos, mtconnect.Sample, "POSITION", "ACTUAL", "MILLIMETER")})
	spindle := mtconnect.NewComponent("Rotary", "c", "C")
	spindle.SetItems([]mtconnect.DataItem{
		di(CNCSpindleSpeed, mtconnect.Sample, "ROTARY_VELOCITY", "ACTUAL", "REVOLUTION/MINUTE"),
		di(CNCSpindleLoad, mtconnect.Sample, "LOAD", "", "PERCENT"),
		di(CNCSpindleTemp, mtconnect.Sample, "TEMPERATURE", "", "CELSIUS"),
		di(CNCSpindleCond, mtconnect.Condition, "LOAD", "", ""),
	})
	axes := mtconnect.NewComponent("Axes", "axes", "axes")
	axes.SetChildren([]mtconnect.Component{x, spindle})

	coolant := mtconnect.NewComponent("Coolant", "coolant", "coolant")
	coolant.SetItems([]mtconnect.DataItem{di(CNCCoolantTemp, mtconnect.Sample, "TEMPERATURE", "", "CELSIUS")})
	electric := mtconnect.NewComponent("Electric", "electric", "electric")
	electric.SetItems([]mtconnect.DataItem{di(CNCPower, mtconnect.Sample, "WATTAGE", "", "WATT")})
	systems := mtconnect.NewComponent("Systems", "systems", "systems")
	systems.SetChildren([]mtconnect.Component{coolant, electric})

	dev.SetChildren([]mtconnect.Component{ctrl, axes, systems})
	return dev
}

// newAgent replaces the agent: a restart, with sequences from 1 and a new
// instance id. Values are published again in full.
func (c *CNC) newAgent(size int, instance uint64) {
	a, err := agent.New([]mtconnect.Component{c.dev}, agent.Options{
		Sender: "otlink-sim", BufferSize: size, InstanceID: instance, Now: c.clock.Now})
	if err != nil {
		panic("sim: CNC device model: " + err.Error()) // a fixed model; a bug if it fails
	}
	c.last = map[string]string{}
	if old := c.ag.Swap(a); old != nil {
		old.Close()
	}
	c.publishLocked()
}

// Name returns the CNC's name.
func (c *CNC) Name() string { return c.cfg.Name }

// Line returns the name of its line.
func (c *CNC) Line() string { return c.cfg.Line }

// Kind returns the kind of machine.
func (c *CNC) Kind() Kind { return c.cfg.Machine.Kind }

// Addr returns host:port once started.
func (c *CNC) Addr() string {
	c.life.Lock()
	defer c.life.Unlock()
	return c.addr
}

// URL returns the endpoint of the CNC's device: http://host:port/name.
func (c *CNC) URL() string { return "http://" + c.Addr() + "/" + c.cfg.Name }

// Agent returns the agent serving now (it changes on Restart).
func (c *CNC) Agent() *agent.Agent { return c.ag.Load() }

// Sequences returns the agent's first and next sequence numbers.
func (c *CNC) Sequences() (first, next uint64) { return c.ag.Load().Sequences() }

// Start makes the CNC listen and serve until ctx is done or Close.
func (c *CNC) Start(ctx context.Context) error {
	c.life.Lock()
	defer c.life.Unlock()
	if c.started || c.closed {
		return errcode.New(errcode.SimState, "cnc %s already started", c.cfg.Name)
	}
	c.started = true
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return errcode.Wrap(errcode.SimListen, err, "listen for cnc %s on %s", c.cfg.Name, c.cfg.Listen)
	}
	c.ln, c.addr = ln, ln.Addr().String()
	c.srv = &http.Server{
		Handler:           http.HandlerFunc(c.serveHTTP),
		ReadHeaderTimeout: 5 * time.Second,
		ConnState:         c.connState,
	}
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		_ = c.srv.Serve(ln)
	}()
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.Sync()
			case <-ctx.Done():
				go c.Close()
				return
			case <-c.stop:
				return
			}
		}
	}()
	return nil
}

func (c *CNC) connState(nc net.Conn, s http.ConnState) {
	c.life.Lock()
	defer c.life.Unlock()
	switch s {
	case http.StateNew:
		c.conns[nc] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(c.conns, nc)
	}
}

func (c *CNC) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c.Sync()
	c.ag.Load().ServeHTTP(w, r)
}

// Sync advances the machine to the clock and publishes what changed, one
// observation per changed value per step, so that the sequence numbers
// depend only on the seed and the clock.
func (c *CNC) Sync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := c.clock.Now().Sub(c.start)
	target := int64(float64(elapsed) * c.cfg.Speed / float64(c.m.cfg.Step))
	// A clock that jumped by days would take long to replay; past a day
	// of steps the machine jumps without publishing each one.
	const maxReplay = 864000
	for c.m.v.Step < target {
		c.m.Step()
		if target-c.m.v.Step < maxReplay {
			c.publishLocked()
		}
	}
}

// Values advances the machine to the clock and returns its signals.
func (c *CNC) Values() Values {
	c.Sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m.Values()
}

// publishLocked adds the observations whose text changed.
func (c *CNC) publishLocked() {
	v := &c.m.v
	ts := c.start.Add(time.Duration(float64(v.SimTime) / c.cfg.Speed))
	var ups []agent.Update
	set := func(id, val string) {
		if c.last[id] == val {
			return
		}
		c.last[id] = val
		ups = append(ups, agent.Update{ID: id, Value: val, Time: ts})
	}
	cond := func(id, level, code, text string) {
		key := level + "\x00" + code
		if c.last[id] == key {
			return
		}
		c.last[id] = key
		ups = append(ups, agent.Update{ID: id, Level: level, NativeCode: code, Value: text, Time: ts})
	}
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	set(CNCAvailability, "AVAILABLE")
	estop := "ARMED"
	if v.Alarms&AlarmEmergencyStop != 0 {
		estop = "TRIGGERED"
	}
	set(CNCEmergency, estop)
	mode, exec := "AUTOMATIC", "READY"
	switch v.State {
	case StateRunning:
		exec = "ACTIVE"
	case StateSetup:
		mode, exec = "MANUAL", "INTERRUPTED"
	case StateFault:
		exec = "STOPPED"
	case StateMaintenance:
		mode, exec = "MANUAL", "STOPPED"
	}
	set(CNCMode, mode)
	set(CNCExecution, exec)
	if v.State == StateFault && v.Alarms != 0 {
		code, text := "", ""
		for b, n := range AlarmNames {
			if v.Alarms&(1<<b) != 0 {
				code, text = strconv.Itoa(1000+b), n
				break
			}
		}
		cond(CNCSystem, mtconnect.LevelFault, code, text)
	} else {
		cond(CNCSystem, mtconnect.LevelNormal, "", "")
	}
	set(CNCProgram, v.Program)
	set(CNCPartCount, strconv.FormatUint(uint64(v.Good), 10))
	set(CNCScrapCount, strconv.FormatUint(uint64(v.Scrap), 10))
	set(CNCFeedrate, f(v.Feed/60, 2))
	set(CNCFeedOverride, strconv.Itoa(int(v.FeedOverride)))
	set(CNCXPos, f(v.XPos, 3))
	set(CNCSpindleSpeed, f(v.SpindleSpeed, 0))
	set(CNCSpindleLoad, f(v.SpindleLoad, 1))
	set(CNCSpindleTemp, f(v.SpindleTemp, 1))
	switch {
	case v.Alarms&AlarmSpindleOverload != 0:
		cond(CNCSpindleCond, mtconnect.LevelFault, "OVERLOAD", "spindle overload")
	case v.SpindleLoad > 90:
		cond(CNCSpindleCond, mtconnect.LevelWarning, "HIGH_LOAD", "spindle load above 90 %")
	default:
		cond(CNCSpindleCond, mtconnect.LevelNormal, "", "")
	}
	set(CNCCoolantTemp, f(v.CoolantTemp, 1))
	set(CNCPower, f(v.Power*1000, 0))
	_ = c.ag.Load().Add(ups...)
}

// DropStreams closes every open connection, streams included, as a
// network failure or an agent that closes streams would.
func (c *CNC) DropStreams() {
	c.life.Lock()
	defer c.life.Unlock()
	for nc := range c.conns {
		nc.Close()
	}
}

// Restart restarts the agent: a new instance id, sequences from 1, a
// buffer of size observations (0 keeps the size); open streams end.
func (c *CNC) Restart(size int) {
	c.mu.Lock()
	if size <= 0 {
		size = c.ag.Load().BufferSize()
	}
	c.newAgent(size, c.ag.Load().InstanceID()+1)
	c.mu.Unlock()
	c.DropStreams()
}

// Close stops the CNC; its port is free when it returns.
func (c *CNC) Close() error {
	c.life.Lock()
	if c.closed {
		c.life.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	close(c.stop)
	srv := c.srv
	c.life.Unlock()
	c.ag.Load().Close()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		_ = srv.Close()
	}
	c.wg.Wait()
	return nil
}

// cncTags are the tags DemoMachine configures, by data item.
var cncTags = []struct {
	name, id, typ, unit, poll string
	length                    int
	deadband                  float64
}{
	{"availability", CNCAvailability, "string", "", "fast", 16, 0},
	{"execution", CNCExecution, "string", "", "fast", 24, 0},
	{"controller_mode", CNCMode, "string", "", "fast", 24, 0},
	{"emergency_stop", CNCEmergency, "string", "", "fast", 16, 0},
	{"program", CNCProgram, "string", "", "slow", 32, 0},
	{"good_count", CNCPartCount, "uint32", "", "slow", 0, 0},
	{"scrap_count", CNCScrapCount, "uint32", "", "slow", 0, 0},
	{"spindle_speed", CNCSpindleSpeed, "float64", "rpm", "fast", 0, 5},
	{"feed", CNCFeedrate, "float64", "mm/s", "fast", 0, 0.05},
	{"feed_override", CNCFeedOverride, "uint16", "%", "fast", 0, 0},
	{"x_pos", CNCXPos, "float64", "mm", "fast", 0, 0.5},
	{"spindle_load", CNCSpindleLoad, "float64", "%", "fast", 0, 0.5},
	{"spindle_temp", CNCSpindleTemp, "float64", "degC", "slow", 0, 0.1},
	{"coolant_temp", CNCCoolantTemp, "float64", "degC", "slow", 0, 0.1},
	{"power", CNCPower, "float64", "W", "slow", 0, 50},
	{"system", CNCSystem, "string", "", "fast", 8, 0},
	{"spindle_condition", CNCSpindleCond, "string", "", "fast", 8, 0},
}

// DemoMachine returns the otlink device and machine that acquire this
// CNC through the mtconnect driver, for the demo config.
func (c *CNC) DemoMachine() (config.Device, config.Machine) {
	d := config.Device{
		Name:     c.cfg.Name,
		Driver:   "mtconnect",
		Endpoint: c.URL(),
		Timeout:  config.Duration(2 * time.Second),
		Budget:   config.Budget{MaxInFlight: 1},
		Poll: []config.PollClass{
			{Name: "fast", Interval: config.Duration(250 * time.Millisecond)},
			{Name: "slow", Interval: config.Duration(2 * time.Second)},
		},
	}
	m := config.Machine{Name: c.cfg.Name, Description: "simulated " + c.Kind().String() + " over MTConnect (otlink sim)", Device: c.cfg.Name}
	for _, t := range cncTags {
		m.Tags = append(m.Tags, config.Tag{Name: t.name, Address: t.id, Type: t.typ, Length: t.length, Unit: t.unit, Poll: t.poll, Deadband: t.deadband})
	}
	return d, m
}

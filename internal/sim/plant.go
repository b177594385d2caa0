package sim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
)

// Limits of a plant.
const (
	MaxLines    = 100
	MaxMachines = 1000  // per line
	MaxDevices  = 10000 // in all
)

// PlantConfig configures a virtual plant; it is also the format of the sim
// config file (see docs/sim.md).
type PlantConfig struct {
	Lines    int    `yaml:"lines"`    // default 1
	Machines int    `yaml:"machines"` // per line; default 3
	Host     string `yaml:"host"`     // listen host; default 127.0.0.1
	// OwnAddresses gives each Modbus device its own loopback address,
	// 127.0.10.1 upwards, instead of Host, as PLCs have their own IPs:
	// the network monitor then sees one host per machine.
	OwnAddresses bool             `yaml:"own_addresses"`
	BasePort     int              `yaml:"base_port"` // device i listens on base_port+i; 0 = free ports
	Seed         uint64           `yaml:"seed"`
	Step         time.Duration    `yaml:"step"`      // simulated time per model step; default 100ms
	Speed        float64          `yaml:"speed"`     // simulated seconds per real second; default 1
	Bench        int              `yaml:"bench"`     // pattern holding registers per device from hr:1000
	MaxConns     int              `yaml:"max_conns"` // connections per device; default 16
	Faults       map[string]Fault `yaml:"faults"`    // initial misbehaviour by device name
	// Machines beside the Modbus ones (opcua_plant.go); default none.
	CNCs       int       `yaml:"mtconnect_cncs"` // simulated MTConnect CNCs per line
	UAMachines int       `yaml:"opcua_machines"` // simulated OPC UA presses in the plant
	UA         UAOptions `yaml:"-"`              // their certificates and trust

	Clock Clock `yaml:"-"` // nil = real time
}

func (c *PlantConfig) defaults() {
	if c.Lines == 0 {
		c.Lines = 1
	}
	if c.Machines == 0 {
		c.Machines = 3
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
}

// Validate checks the configuration after defaults.
func (c *PlantConfig) Validate() error {
	c.defaults()
	switch {
	case c.Lines < 1 || c.Lines > MaxLines:
		return errcode.New(errcode.SimConfig, "lines %d outside 1..%d", c.Lines, MaxLines)
	case c.Machines < 1 || c.Machines > MaxMachines:
		return errcode.New(errcode.SimConfig, "machines %d outside 1..%d", c.Machines, MaxMachines)
	case c.Lines*c.Machines > MaxDevices:
		return errcode.New(errcode.SimConfig, "%d devices, more than %d", c.Lines*c.Machines, MaxDevices)
	case c.OwnAddresses && c.Lines*c.Machines > 254:
		return errcode.New(errcode.SimConfig, "%d devices with own addresses: %s holds 254", c.Lines*c.Machines, DeviceNetwork)
	case c.BasePort < 0 || c.BasePort > 0 && c.BasePort+c.Lines*c.Machines > 65536:
		return errcode.New(errcode.SimConfig, "base_port %d leaves no room for %d devices", c.BasePort, c.Lines*c.Machines)
	case c.Step < 0 || c.Step > time.Minute:
		return errcode.New(errcode.SimConfig, "step %s outside 0..1m", c.Step)
	case c.Speed < 0 || c.Speed > 10000:
		return errcode.New(errcode.SimConfig, "speed %g outside 0..10000", c.Speed)
	case c.Bench < 0 || c.Bench > 65536-BenchBase:
		return errcode.New(errcode.SimConfig, "bench %d outside 0..%d", c.Bench, 65536-BenchBase)
	case c.MaxConns < 0:
		return errcode.New(errcode.SimConfig, "negative max_conns")
	}
	if err := c.validateExtras(); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, s := range plantLayout(c.Lines, c.Machines) {
		names[s.name] = true
	}
	for name, f := range c.Faults {
		if !names[name] {
			return errcode.New(errcode.SimConfig, "fault for %q: no such device in a plant of %d×%d", name, c.Lines, c.Machines)
		}
		if err := f.Validate(); err != nil {
			return errcode.Wrap(errcode.SimConfig, err, "fault for %s", name)
		}
	}
	return nil
}

// LoadConfig reads a sim config file.
func LoadConfig(path string) (PlantConfig, error) {
	var c PlantConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, errcode.Wrap(errcode.SimConfig, err, "read sim config")
	}
	if err := yaml.UnmarshalWithOptions(b, &c, yaml.DisallowUnknownField()); err != nil {
		return c, errcode.New(errcode.SimConfig, "sim config %s: %s", path, yaml.FormatError(err, false, true))
	}
	if err := c.Validate(); err != nil {
		return c, errcode.Wrap(errcode.SimConfig, err, "sim config %s", path)
	}
	return c, nil
}

type deviceSlot struct {
	name, line string
	kind       Kind
}

// plantLayout names the machines: per line two mills, a lathe and a press
// repeating, numbered per kind across the plant (cnc01, cnc02, lathe01,
// press01, cnc03, ...), so a machine's name is unique and is its device's.
func plantLayout(lines, machines int) []deviceSlot {
	order := [...]Kind{KindMill, KindMill, KindLathe, KindPress}
	prefix := [...]string{KindMill: "cnc", KindLathe: "lathe", KindPress: "press"}
	var count [3]int
	out := make([]deviceSlot, 0, lines*machines)
	for l := range lines {
		for j := range machines {
			k := order[j%len(order)]
			count[k]++
			out = append(out, deviceSlot{
				name: fmt.Sprintf("%s%02d", prefix[k], count[k]),
				line: "line" + strconv.Itoa(l+1),
				kind: k,
			})
		}
	}
	return out
}

// deviceSeed derives a device's seed from the plant's (splitmix64), so
// neighbours do not share streams.
func deviceSeed(seed uint64, i int) uint64 {
	z := seed + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Plant is a running virtual plant: one Device per machine.
type Plant struct {
	cfg     PlantConfig
	devices []*Device
	byName  map[string]*Device
	cncs    []*CNC       // MTConnect CNCs (opcua_plant.go)
	uas     []*UAMachine // OPC UA machines
}

// DeviceNetwork holds the devices' own addresses (PlantConfig.OwnAddresses).
var DeviceNetwork = netip.MustParsePrefix("127.0.10.0/24")

// DeviceAddress is device i's own address in DeviceNetwork.
func DeviceAddress(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, 10, byte(i + 1)})
}

// Start starts a plant: every device listens when it returns. ctx bounds
// the plant's life; Close stops it sooner.
func Start(ctx context.Context, cfg PlantConfig) (*Plant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Plant{cfg: cfg, byName: map[string]*Device{}}
	for i, s := range plantLayout(cfg.Lines, cfg.Machines) {
		port := 0
		if cfg.BasePort > 0 {
			port = cfg.BasePort + i
		}
		host := cfg.Host
		if cfg.OwnAddresses {
			host = DeviceAddress(i).String()
		}
		d := NewDevice(DeviceConfig{
			Name:     s.name,
			Line:     s.line,
			Machine:  MachineConfig{Kind: s.kind, Seed: deviceSeed(cfg.Seed, i), Step: cfg.Step},
			Listen:   net.JoinHostPort(host, strconv.Itoa(port)),
			Clock:    cfg.Clock,
			Speed:    cfg.Speed,
			MaxConns: cfg.MaxConns,
			Bench:    cfg.Bench,
			Fault:    cfg.Faults[s.name],
		})
		if err := d.Start(ctx); err != nil {
			p.Close()
			return nil, err
		}
		p.devices = append(p.devices, d)
		p.byName[s.name] = d
	}
	if err := p.startExtras(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Devices returns the plant's devices in line and machine order.
func (p *Plant) Devices() []*Device { return append([]*Device(nil), p.devices...) }

// Device returns the device called name, or nil.
func (p *Plant) Device(name string) *Device { return p.byName[name] }

// Config returns the configuration the plant was started with.
func (p *Plant) Config() PlantConfig { return p.cfg }

// Close stops every device; their ports are free when it returns.
func (p *Plant) Close() error {
	for _, d := range p.devices {
		d.shutdown()
	}
	for _, d := range p.devices {
		d.Close()
	}
	p.closeExtras()
	return nil
}

// demoTags is the subset of the map the demo config polls, with its poll
// class and deadband.
var demoTags = []struct {
	name, poll string
	deadband   float64
}{
	{"state", "fast", 0},
	{"spindle_speed", "fast", 5},
	{"feed", "fast", 2},
	{"spindle_load", "fast", 0.5},
	{"vibration", "fast", 0.05},
	{"alarm_word", "fast", 0},
	{"feed_override", "fast", 0},
	{"running", "fast", 0},
	{"door_open", "fast", 0},
	{"spindle_temp", "slow", 0.1},
	{"coolant_temp", "slow", 0.1},
	{"ambient_temp", "slow", 0.1},
	{"power", "slow", 0.1},
	{"energy", "slow", 0},
	{"good_count", "slow", 0},
	{"scrap_count", "slow", 0},
	{"cycle_time", "slow", 0},
	{"program", "slow", 0},
}

// DemoConfig returns an otlink config that acquires the plant: enterprise
// acme, site taichung, area machining, one line per plant line, one
// machine and one Modbus device per simulated device, then the MTConnect
// CNCs and OPC UA machines on their lines.
func DemoConfig(p *Plant) *config.Config {
	c := &config.Config{Version: 1, Plant: config.Plant{Enterprise: "acme"}}
	area := config.Area{Name: "machining"}
	lineIx := map[string]int{}
	for _, d := range p.devices {
		i, ok := lineIx[d.Line()]
		if !ok {
			i = len(area.Lines)
			lineIx[d.Line()] = i
			area.Lines = append(area.Lines, config.Line{Name: d.Line()})
		}
		m := config.Machine{
			Name:        d.Name(),
			Description: "simulated " + d.Kind().String() + " (otlink sim)",
			Device:      d.Name(),
		}
		for _, t := range demoTags {
			e, ok := Lookup(t.name)
			if !ok {
				panic("sim: demo tag not in map: " + t.name)
			}
			tag := config.Tag{
				Name:        e.Name,
				Address:     e.Address,
				Type:        e.Type,
				Length:      e.Length,
				WordOrder:   e.WordOrder,
				Poll:        t.poll,
				Unit:        e.Unit,
				Deadband:    t.deadband,
				Description: e.Description,
			}
			if e.Scale != 0 {
				tag.Scale = &config.Scale{Gain: e.Scale}
			}
			if e.Name == "feed_override" {
				tag.Writable = true
				tag.Limits = &config.Limits{Min: 50, Max: 150}
				tag.Range = &config.Range{Min: 0, Max: 200}
			}
			m.Tags = append(m.Tags, tag)
		}
		area.Lines[i].Machines = append(area.Lines[i].Machines, m)
		c.Devices = append(c.Devices, config.Device{
			Name:     d.Name(),
			Driver:   "modbus",
			Endpoint: "tcp://" + d.Addr(),
			Unit:     1,
			Timeout:  config.Duration(time.Second),
			Budget:   config.Budget{MaxInFlight: 1, MinGap: 0},
			Poll: []config.PollClass{
				{Name: "fast", Interval: config.Duration(250 * time.Millisecond)},
				{Name: "slow", Interval: config.Duration(2 * time.Second)},
			},
		})
	}
	p.demoExtras(c, &area, lineIx)
	c.Plant.Sites = []config.Site{{Name: "taichung", Areas: []config.Area{area}}}
	return c
}

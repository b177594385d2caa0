package sim

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
)

// Limits of the machines beside the Modbus ones.
const (
	MaxCNCsPerLine = 10
	MaxUAMachines  = 10
)

// UAOptions are the security settings of a plant's OPC UA machines.
type UAOptions struct {
	// CertDir keeps each machine's certificate and key (UACert), so a
	// client's trust in it outlasts a restart; "" makes new ones each
	// start.
	CertDir string
	// TrustedClients are the client certificates (DER) the machines
	// accept; empty accepts any (a device set to auto-accept).
	TrustedClients [][]byte
	// AllowNone also offers security policy None.
	AllowNone bool
}

// validateExtras checks the counts of MTConnect CNCs and OPC UA machines
// and that base_port leaves room for every machine.
func (c *PlantConfig) validateExtras() error {
	switch {
	case c.CNCs < 0 || c.CNCs > MaxCNCsPerLine:
		return errcode.New(errcode.SimConfig, "mtconnect_cncs %d outside 0..%d", c.CNCs, MaxCNCsPerLine)
	case c.UAMachines < 0 || c.UAMachines > MaxUAMachines:
		return errcode.New(errcode.SimConfig, "opcua_machines %d outside 0..%d", c.UAMachines, MaxUAMachines)
	case c.BasePort > 0 && c.BasePort+c.Lines*(c.Machines+c.CNCs)+c.UAMachines > 65536:
		return errcode.New(errcode.SimConfig, "base_port %d leaves no room for %d machines", c.BasePort, c.Lines*(c.Machines+c.CNCs)+c.UAMachines)
	}
	return nil
}

// startExtras starts the MTConnect CNCs (mtc01, ... — CNCs per line, on
// every line) and the OPC UA presses (press-ua01, ... — one per line in
// turn), after the Modbus devices. With a base port they take the ports
// after the Modbus devices', in that order.
func (p *Plant) startExtras(ctx context.Context) error {
	cfg := p.cfg
	n := len(p.devices)
	listen := func(i int) string {
		port := 0
		if cfg.BasePort > 0 {
			port = cfg.BasePort + i
		}
		return net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	}
	for l := range cfg.Lines {
		for range cfg.CNCs {
			i := n + len(p.cncs)
			c := NewCNC(CNCConfig{
				Name:    fmt.Sprintf("mtc%02d", len(p.cncs)+1),
				Line:    "line" + strconv.Itoa(l+1),
				Machine: MachineConfig{Kind: KindMill, Seed: deviceSeed(cfg.Seed, i), Step: cfg.Step},
				Listen:  listen(i),
				Clock:   cfg.Clock,
				Speed:   cfg.Speed,
			})
			if err := c.Start(ctx); err != nil {
				return err
			}
			p.cncs = append(p.cncs, c)
		}
	}
	for k := range cfg.UAMachines {
		i := n + len(p.cncs) + k
		name := fmt.Sprintf("press-ua%02d", k+1)
		uc := UAConfig{
			Name:           name,
			Line:           "line" + strconv.Itoa(k%cfg.Lines+1),
			Machine:        MachineConfig{Kind: KindPress, Seed: deviceSeed(cfg.Seed, i), Step: cfg.Step},
			Listen:         listen(i),
			Clock:          cfg.Clock,
			Speed:          cfg.Speed,
			TrustedClients: cfg.UA.TrustedClients,
			AllowNone:      cfg.UA.AllowNone,
		}
		if cfg.UA.CertDir != "" {
			der, key, err := UACert(cfg.UA.CertDir, name)
			if err != nil {
				return err
			}
			uc.Certificate, uc.Key = der, key
		}
		u := NewUAMachine(uc)
		if err := u.Start(ctx); err != nil {
			return err
		}
		p.uas = append(p.uas, u)
	}
	return nil
}

func (p *Plant) closeExtras() {
	for _, c := range p.cncs {
		c.Close()
	}
	for _, u := range p.uas {
		u.Close()
	}
}

// CNCs returns the plant's simulated MTConnect CNCs.
func (p *Plant) CNCs() []*CNC { return append([]*CNC(nil), p.cncs...) }

// UAMachines returns the plant's simulated OPC UA machines.
func (p *Plant) UAMachines() []*UAMachine { return append([]*UAMachine(nil), p.uas...) }

// demoExtras adds the devices and machines of the CNCs (driver
// mtconnect, streaming) and the OPC UA machines (driver opcua,
// subscriptions) to a demo config, each machine on its line.
func (p *Plant) demoExtras(c *config.Config, area *config.Area, lineIx map[string]int) {
	add := func(line string, d config.Device, m config.Machine) {
		i, ok := lineIx[line]
		if !ok {
			i = len(area.Lines)
			lineIx[line] = i
			area.Lines = append(area.Lines, config.Line{Name: line})
		}
		area.Lines[i].Machines = append(area.Lines[i].Machines, m)
		c.Devices = append(c.Devices, d)
	}
	for _, cnc := range p.cncs {
		d, m := cnc.DemoMachine()
		add(cnc.Line(), d, m)
	}
	for _, u := range p.uas {
		d, m := u.DemoMachine()
		add(u.Line(), d, m)
	}
}

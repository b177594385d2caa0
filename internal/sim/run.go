package sim

import (
	"context"
	"fmt"
	"io"
)

// RunOptions are the settings of `otlink sim`. Non-zero fields override
// the config file's.
type RunOptions struct {
	ConfigPath string
	Seed       uint64
	Lines      int
	Machines   int // per line
	Out        io.Writer
}

// Run starts a plant, prints one line per device (line, name, kind,
// address) and serves until ctx is done.
func Run(ctx context.Context, opts RunOptions) error {
	var cfg PlantConfig
	if opts.ConfigPath != "" {
		c, err := LoadConfig(opts.ConfigPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	if opts.Seed != 0 {
		cfg.Seed = opts.Seed
	}
	if opts.Lines != 0 {
		cfg.Lines = opts.Lines
	}
	if opts.Machines != 0 {
		cfg.Machines = opts.Machines
	}
	p, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if opts.Out != nil {
		for _, d := range p.Devices() {
			fmt.Fprintf(opts.Out, "%-8s %-10s %-6s modbus tcp://%s\n", d.Line(), d.Name(), d.Kind(), d.Addr())
		}
		for _, c := range p.CNCs() {
			fmt.Fprintf(opts.Out, "%-8s %-10s %-6s mtconnect %s\n", c.Line(), c.Name(), c.Kind(), c.URL())
		}
		for _, u := range p.UAMachines() {
			fmt.Fprintf(opts.Out, "%-8s %-10s %-6s opcua %s\n", u.Line(), u.Name(), u.Kind(), u.URL())
		}
	}
	<-ctx.Done()
	return nil
}

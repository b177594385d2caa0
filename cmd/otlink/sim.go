package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/sim"
)

func simCmd() *cobra.Command {
	var (
		cfgPath, emit   string
		seed            uint64
		lines, machines int
		basePort        int
	)
	c := &cobra.Command{
		Use:   "sim",
		Short: "run simulated Modbus TCP machines on loopback (a virtual plant)",
		Long: `Runs a virtual plant: one simulated Modbus TCP machine per port on loopback,
deterministic from --seed. --emit-config writes an otlink config that reads
every simulated machine, for otlink run.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			var pc sim.PlantConfig
			if cfgPath != "" {
				loaded, err := sim.LoadConfig(cfgPath)
				if err != nil {
					return usageErr(err)
				}
				pc = loaded
			}
			if seed != 0 {
				pc.Seed = seed
			}
			if lines != 0 {
				pc.Lines = lines
			}
			if machines != 0 {
				pc.Machines = machines
			}
			if basePort != 0 {
				pc.BasePort = basePort
			}
			plant, err := sim.Start(ctx, pc)
			if err != nil {
				return err
			}
			defer plant.Close()
			out := c.OutOrStdout()
			for _, d := range plant.Devices() {
				fmt.Fprintf(out, "%-8s %-10s %-6s modbus tcp://%s\n", d.Line(), d.Name(), d.Kind(), d.Addr())
			}
			if emit != "" {
				f, err := os.Create(emit)
				if err != nil {
					return err
				}
				err = config.WriteYAML(f, sim.DemoConfig(plant))
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "wrote %s: otlink run --config %s\n", emit, emit)
			}
			<-ctx.Done()
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "sim config file (see docs/sim.md)")
	f.Uint64Var(&seed, "seed", 0, "random seed; the same seed gives the same plant")
	f.IntVar(&lines, "lines", 0, "production lines (default 1)")
	f.IntVar(&machines, "machines", 0, "machines per line (default 3)")
	f.IntVar(&basePort, "base-port", 0, "machine i listens on base-port+i (default: free ports)")
	f.StringVar(&emit, "emit-config", "", "write an otlink config that reads the simulated machines to this file")
	return c
}

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/uatrust"
)

func simCmd() *cobra.Command {
	var (
		cfgPath, emit   string
		seed            uint64
		lines, machines int
		basePort        int
		cncs, uas       int
		data            string
	)
	c := &cobra.Command{
		Use:   "sim",
		Short: "run simulated Modbus TCP, MTConnect and OPC UA machines on loopback (a virtual plant)",
		Long: `Runs a virtual plant on loopback, deterministic from --seed: one simulated
Modbus TCP machine per port, MTConnect CNC agents (--mtconnect-cncs per line)
and OPC UA presses (--opcua-machines; Basic256Sha256). --emit-config writes an
otlink config that reads every simulated machine, for otlink run.

OPC UA trust: with --data DIR (otlink's data folder) the presses keep their
certificate in DIR/sim, trust otlink's client certificate (DIR/pki/own) and
put theirs into DIR/pki/trusted. Without it they accept any client, and
otlink refuses them until 'otlink certs trust THUMBPRINT'.`,
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
			if cfgPath == "" || c.Flags().Changed("mtconnect-cncs") {
				pc.CNCs = cncs
			}
			if cfgPath == "" || c.Flags().Changed("opcua-machines") {
				pc.UAMachines = uas
			}
			var pki *uatrust.Store
			if data != "" && pc.UAMachines > 0 {
				// The exchange `otlink certs trust` does, both ways.
				st, err := uatrust.Open(data)
				if err != nil {
					return err
				}
				own, err := st.Own()
				if err != nil {
					return err
				}
				pki = st
				pc.UA = sim.UAOptions{CertDir: filepath.Join(data, "sim"), TrustedClients: [][]byte{own.DER}}
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
			for _, m := range plant.CNCs() {
				fmt.Fprintf(out, "%-8s %-10s %-6s mtconnect %s\n", m.Line(), m.Name(), m.Kind(), m.URL())
			}
			for _, u := range plant.UAMachines() {
				trust := "accepts any client certificate"
				if pki != nil {
					if _, err := pki.Add(u.Certificate(), uatrust.DirTrusted); err != nil {
						return err
					}
					trust = "trusted both ways with " + data
				}
				fmt.Fprintf(out, "%-8s %-10s %-6s opcua %s   (Basic256Sha256, certificate %s; %s)\n", u.Line(), u.Name(), u.Kind(), u.URL(),
					uatrust.Thumbprint(u.Certificate()), trust)
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
	f.IntVar(&cncs, "mtconnect-cncs", 1, "simulated MTConnect CNCs per line")
	f.IntVar(&uas, "opcua-machines", 1, "simulated OPC UA presses in the plant")
	f.StringVar(&data, "data", "", "otlink data folder to exchange OPC UA certificates with (see above)")
	return c
}

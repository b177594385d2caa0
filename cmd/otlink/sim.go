package main

import (
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/sim"
)

func simCmd() *cobra.Command {
	var opts sim.RunOptions
	c := &cobra.Command{
		Use:   "sim",
		Short: "run simulated Modbus TCP machines on loopback (a virtual plant)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			opts.Out = c.OutOrStdout()
			return sim.Run(ctx, opts)
		},
	}
	c.Flags().StringVar(&opts.ConfigPath, "config", "", "sim config file (see docs/sim.md)")
	c.Flags().Uint64Var(&opts.Seed, "seed", 0, "random seed; the same seed gives the same plant")
	c.Flags().IntVar(&opts.Lines, "lines", 0, "production lines (default 1)")
	c.Flags().IntVar(&opts.Machines, "machines", 0, "machines per line (default 3)")
	return c
}

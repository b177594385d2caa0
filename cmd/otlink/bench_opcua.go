package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
)

func init() { moreBench = append(moreBench, benchOPCUACmd) }

func benchOPCUACmd() *cobra.Command {
	var (
		o      bench.OPCUAOptions
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "opcua",
		Short: "values/s from a node-opcua server with 10,000 changing monitored items, against polling the same nodes",
		Long: `Starts the node-opcua peer of scripts/node-opcua (installed with npm into the
user cache on first use) with --items Double variables that all change every
--change, subscribes to all of them through the opcua driver and counts the
values delivered; then, as the baseline in the same run, polls the same nodes
with back-to-back Reads of many nodes and counts the values read.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			r, err := bench.OPCUA(ctx, o)
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			if asJSON {
				e := json.NewEncoder(w)
				e.SetIndent("", "  ")
				return e.Encode(r)
			}
			fmt.Fprintf(w, "items %d (%s), server changes %.0f values/s, subscribe setup %.1fs\n", r.Items, r.Policy, r.ServerChangesPerSec, r.SetupSec)
			fmt.Fprintf(w, "subscribe: %.0f values/s\n", r.SubscribeValuesPerSec)
			fmt.Fprintf(w, "poll (baseline, %d nodes per read): %.0f values/s, %.2f full cycles/s\n", r.NodesPerRead, r.PollValuesPerSec, r.PollCyclesPerSec)
			fmt.Fprintf(w, "ratio subscribe/poll: %.2f; share of the server's changes seen: subscribe %.0f%%, poll %.0f%%\n", r.Ratio, 100*r.SubscribeCoverage, 100*r.PollCoverage)
			return nil
		},
	}
	c.Flags().IntVar(&o.Items, "items", 10000, "monitored items (changing variables on the server)")
	c.Flags().DurationVar(&o.Change, "change", 100_000_000, "how often the server changes every variable")
	c.Flags().DurationVar(&o.Duration, "duration", 10_000_000_000, "measuring time of each strategy")
	c.Flags().StringVar(&o.Policy, "security-policy", "None", "None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss (SignAndEncrypt)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

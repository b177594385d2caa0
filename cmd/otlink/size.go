package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/query"
)

// historySizeCmd is `otlink history size`; history.go registers it.
func historySizeCmd() *cobra.Command {
	var (
		in                        bench.SizingInput
		retention, roll1m, roll1h string
		signals, fromBench        string
		asJSON                    bool
	)
	c := &cobra.Command{
		Use:   "size",
		Short: "estimate disk and CPU of the historian from measured bytes per sample and ingest cost",
		Long: `Estimates the disk (raw samples, rollups, WAL, integrity log) and the CPU the
historian needs for --tags tags at --rate samples per second each, kept for
--retention, on the embedded store and on PostgreSQL/SQLite. The per-sample
figures are measured on the spot (a few seconds of ingest of --signals) or
read from the JSON of 'otlink bench historian --json' (--from-bench).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if in.Retention, err = parseDays(retention); err != nil || in.Retention <= 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--retention %q: want a duration such as 90d, 1y, 12h", retention))
			}
			if in.Rollup1m, err = parseDays(roll1m); err != nil {
				return usageErr(errcode.New(errcode.CLIUsage, "--rollup-1m %q: want a duration such as 1y, or 0", roll1m))
			}
			if in.Rollup1h, err = parseDays(roll1h); err != nil {
				return usageErr(errcode.New(errcode.CLIUsage, "--rollup-1h %q: want a duration such as 5y, or 0", roll1h))
			}
			if in.Tags < 1 || in.Rate <= 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--tags must be at least 1 and --rate positive"))
			}
			if signals != bench.SignalsSim && signals != bench.SignalsRandom {
				return usageErr(errcode.New(errcode.CLIUsage, "--signals %q: want sim or random", signals))
			}
			var m bench.Measured
			if fromBench != "" {
				r, err := bench.ReadBenchFile(fromBench)
				if err != nil {
					return usageErr(errcode.Wrap(errcode.CLIUsage, err, "--from-bench"))
				}
				m = bench.MeasuredFromBench(r, signals, "otlink bench historian: "+fromBench)
			} else {
				ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				if !asJSON {
					fmt.Fprintf(c.ErrOrStderr(), "measuring %s signals (a few seconds)...\n", signals)
				}
				if m, err = bench.MeasureSizing(ctx, signals, ""); err != nil {
					return err
				}
			}
			e, err := bench.EstimateSize(in, m)
			if err != nil {
				return usageErr(errcode.Wrap(errcode.CLIUsage, err, "size"))
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(e)
			}
			return e.WriteText(out)
		},
	}
	f := c.Flags()
	f.IntVar(&in.Tags, "tags", 10000, "tags stored")
	f.Float64Var(&in.Rate, "rate", 1, "samples per second per tag")
	f.StringVar(&retention, "retention", "90d", "how long raw samples are kept (e.g. 90d, 1y)")
	f.StringVar(&roll1m, "rollup-1m", "1y", "how long 1-minute rollups are kept (0: none)")
	f.StringVar(&roll1h, "rollup-1h", "5y", "how long 1-hour rollups are kept (0: none)")
	f.Float64Var(&in.RollupBytes, "rollup-bytes", bench.DefaultRollupBytes, "bytes of one stored rollup bucket (assumed)")
	f.StringVar(&signals, "signals", bench.SignalsSim, "signal kind measured: sim or random (worst case)")
	f.StringVar(&fromBench, "from-bench", "", "take the figures from this 'otlink bench historian --json' file")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// parseDays reads a duration with y (365 d) besides query.ParseDuration's
// units; "0" is zero.
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "y"); ok {
		v, err := strconv.ParseFloat(n, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("read duration %q", s)
		}
		return time.Duration(v * 365 * 24 * float64(time.Hour)), nil
	}
	return query.ParseDuration(s)
}

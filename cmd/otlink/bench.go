package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
)

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "measure otlink's parts end to end"}
	c.AddCommand(benchAcquisitionCmd())
	return c
}

func benchAcquisitionCmd() *cobra.Command {
	var (
		o                   bench.AcquisitionOptions
		asJSON              bool
		cpuProfile, memProf string
	)
	c := &cobra.Command{
		Use:   "acquisition",
		Short: "simulated devices + engine + bus in one process: samples/s, requests per cycle, latency, CPU, memory",
		Long: `Starts simulated Modbus devices, the acquisition engine and the embedded bus in
one process and measures what reaches the bus. Without --interval it searches
the shortest poll interval (from 1s, halving) that runs without overruns.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.Devices < 1 || o.Tags < o.Devices {
				return usageErr(fmt.Errorf("--devices must be at least 1 and --tags at least --devices"))
			}
			o.Find = o.Interval == 0
			if !asJSON {
				o.Progress = c.ErrOrStderr()
			}
			if memProf != "" {
				o.AtEnd = func() { writeHeapProfile(memProf) }
			}
			stopProfiles, err := startProfiles(cpuProfile)
			if err != nil {
				return usageErr(err)
			}
			best, all, err := bench.Acquisition(ctx, o)
			stopProfiles()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"result": best, "runs": all})
			}
			r := best
			fmt.Fprintf(out, "devices %d, tags %d, interval %.1f ms, measured %.1f s\n", r.Devices, r.Tags, r.IntervalMS, r.DurationSec)
			fmt.Fprintf(out, "samples/s           %12.0f\n", r.SamplesPerSec)
			fmt.Fprintf(out, "requests/s          %12.0f\n", r.RequestsPerSec)
			fmt.Fprintf(out, "requests/cycle      %12.1f  (naive %0.f, optimal %.0f per device: %.1fx fewer than naive)\n",
				r.RequestsPerCycle, r.NaiveRequestsPerCycle, r.OptimalRequestsPerCycle, r.NaiveRequestsPerCycle/max(r.RequestsPerCycle, 1))
			fmt.Fprintf(out, "overruns            %12d\n", r.Overruns)
			fmt.Fprintf(out, "poll-to-bus latency p50 %.2f ms, p99 %.2f ms\n", r.LatencyP50MS, r.LatencyP99MS)
			fmt.Fprintf(out, "CPU per 1M samples  %12.3f s\n", r.CPUSecPerMillion)
			fmt.Fprintf(out, "peak RSS            %12.1f MB\n", r.RSSMB)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&o.Devices, "devices", 100, "simulated devices")
	f.IntVar(&o.Tags, "tags", 300000, "tags in all, spread over the devices")
	f.DurationVar(&o.Interval, "interval", 0, "poll interval; 0 searches the fastest without overruns")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "measuring time of each run")
	f.IntVar(&o.MaxGap, "max-gap", 16, "coalescing max gap (registers)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	f.StringVar(&memProf, "memprofile", "", "write a heap profile (taken at the end of each run, while it runs) to this file")
	return c
}

// startProfiles starts the CPU profile and returns a function that stops it
// and writes the heap profile. Profile before optimising.
func startProfiles(cpu string) (func(), error) {
	var cf *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		cf = f
	}
	return func() {
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
	}, nil
}

func writeHeapProfile(path string) {
	runtime.GC()
	if f, err := os.Create(path); err == nil {
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
}

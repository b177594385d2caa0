package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
	"github.com/otlink/otlink/internal/errcode"
)

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "measure otlink's parts end to end"}
	c.AddCommand(benchAcquisitionCmd(), benchHistorianCmd(), benchDPICmd())
	for _, mk := range moreBench {
		c.AddCommand(mk())
	}
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
			fmt.Fprintf(out, "  anonymous (peak)  %12.1f MB   heap live %.1f MB\n", r.RSSAnonPeakMB, r.HeapLiveMB)
			fmt.Fprintf(out, "  file-backed       %12.1f MB   (the binary's pages)\n", r.RSSFileMB)
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

func benchHistorianCmd() *cobra.Command {
	var (
		o          bench.HistorianOptions
		asJSON     bool
		cpuProfile string
	)
	c := &cobra.Command{
		Use:   "historian",
		Short: "embedded store vs SQLite (and PostgreSQL): ingest, bytes/sample, day aggregate, latest, verify",
		Long: `Measures the embedded historian store in one run, on simulator signals (machines
polled at 1 s) and on random floats (the worst case): durable ingest, bytes per
sample with every chunk sealed, a 1-day → 1000-bucket aggregate, the latest
value of 10,000 tags and integrity verification; and the same ingest and query
on SQLite (modernc.org/sqlite) and on PostgreSQL when it runs (--pg auto starts
a throwaway server with scripts/pg-test-server when PostgreSQL is installed).
Scratch data goes to a temporary folder that is removed after.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.Tags < 1 || o.Samples < o.Tags || o.SizeTags < 1 || o.DBSamples < o.Tags {
				return usageErr(errcode.New(errcode.CLIUsage, "--tags must be at least 1 and --samples, --db-samples at least --tags"))
			}
			if o.PG == "" {
				return usageErr(errcode.New(errcode.CLIUsage, "--pg: give a DSN, auto or off"))
			}
			if !asJSON {
				o.Progress = c.ErrOrStderr()
			}
			stopProfiles, err := startProfiles(cpuProfile)
			if err != nil {
				return usageErr(err)
			}
			r, err := bench.Historian(ctx, o)
			stopProfiles()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return writeHistorianText(out, r)
		},
	}
	f := c.Flags()
	f.IntVar(&o.Tags, "tags", 10000, "tags of the ingest run (simulated machines of 21 tags)")
	f.IntVar(&o.Samples, "samples", 3000000, "samples of the ingest run")
	f.IntVar(&o.SizeTags, "size-tags", 400, "tags of the size and verify stores (8192 samples each)")
	f.IntVar(&o.DBSamples, "db-samples", 500000, "samples SQLite and PostgreSQL ingest")
	f.StringVar(&o.PG, "pg", "auto", "PostgreSQL: a DSN, auto (throwaway server when installed) or off")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	return c
}

func writeHistorianText(w io.Writer, r bench.HistorianResult) error {
	opt := func(p *float64, f string) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf(f, *p)
	}
	fmt.Fprintf(w, "%d tags, %d samples ingested; size from %d samples in sealed chunks; %.1f s in all\n", r.Tags, r.Samples, r.SizeSamples, r.DurationSec)
	fmt.Fprintf(w, "%-34s %14s %14s %14s\n", "", "embedded", "sqlite", "postgres")
	fmt.Fprintf(w, "%-34s %14.0f %14.0f %14s\n", "ingest samples/s (durable)", r.IngestSamplesPerSec, r.SQLiteIngestSamplesPerSec, opt(r.PostgresIngestSamplesPerSec, "%.0f"))
	fmt.Fprintf(w, "%-34s %14.3f %14.2f %14s\n", "bytes/sample (simulator signals)", r.BytesPerSample, r.SQLiteBytesPerSample, opt(r.PostgresBytesPerSample, "%.2f"))
	fmt.Fprintf(w, "%-34s %14.3f %14.3f %14s\n", "1 day → 1000 buckets, ms", r.Query1DayMS, r.SQLiteQuery1DayMS, opt(r.PostgresQuery1DayMS, "%.3f"))
	fmt.Fprintf(w, "ingest vs SQLite                   %.1f×\n", r.IngestVsSQLite)
	fmt.Fprintf(w, "ingest, SyncAlways                 %.0f samples/s\n", r.IngestSyncAlwaysSamplesPerSec)
	fmt.Fprintf(w, "ingest, random floats              %.0f samples/s, %.3f bytes/sample\n", r.IngestRandomSamplesPerSec, r.BytesPerSampleRandom)
	fmt.Fprintf(w, "ingest CPU                         %.3f s per 1M samples\n", r.IngestCPUSecPerMillion)
	fmt.Fprintf(w, "latest of 10,000 tags              %.3f ms\n", r.Latest10kMS)
	fmt.Fprintf(w, "verify                             %.1f MB/s over %d chunks (ok: %v)\n", r.VerifyMBPerSec, r.VerifyChunks, r.VerifyOK)
	fmt.Fprintf(w, "sqlite: %s\n", r.SQLiteMode)
	if r.PostgresNote != "" || r.PostgresLayout != "" {
		fmt.Fprintf(w, "postgres: %s %s\n", r.PostgresLayout, r.PostgresNote)
	}
	return nil
}

func benchDPICmd() *cobra.Command {
	var (
		o          bench.DPIOptions
		asJSON     bool
		cpuProfile string
	)
	c := &cobra.Command{
		Use:   "dpi",
		Short: "full dissection of a generated multi-protocol capture on one core and on all, and tshark on the same file",
		Long: `Writes a capture of Modbus, S7comm, EtherNet/IP/CIP, DNP3, OPC UA, BACnet,
IEC-104 and MQTT sessions (many flows, realistic request/response mixes) to a
temporary file, measures otlink's full dissection of it single-threaded (file
read, decode, flow table, TCP reassembly, dissectors, summary counting): packets/s
and Mbit/s of the median of --passes passes; then the same on every core, as
otlink analyze --counts-only runs (one reader per core, the conversations split
by address pair); then with the asset inventory and detections, as otlink
analyze runs; then tshark -r on the same file
(plain, and -T fields -e frame.number; the faster is the baseline). Without
tshark its figures are null.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.Packets < 1000 {
				return usageErr(errcode.New(errcode.CLIUsage, "--packets must be at least 1000"))
			}
			if o.Dir != "" {
				if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
					return usageErr(errcode.New(errcode.CLIUsage, "--keep %s: not an existing folder", o.Dir))
				}
			}
			if !asJSON {
				o.Progress = c.ErrOrStderr()
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return usageErr(errcode.Wrap(errcode.CLIUsage, err, "create --cpuprofile file"))
				}
				defer f.Close()
				o.CPUProfile = f
			}
			r, err := bench.DPI(ctx, o)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			opt := func(p *float64, f string) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprintf(f, *p)
			}
			fmt.Fprintf(out, "%d packets, %.1f MB, %d flows, %d PDUs (%d malformed), one core\n", r.Packets, r.FileMB, r.Flows, r.PDUs, r.Malformed)
			fmt.Fprintf(out, "otlink   %12.0f packets/s  %8.1f Mbit/s  %.2f s (%.2f s CPU), %.2f allocs/packet; median of %d passes (%.0f-%.0f)\n", r.PacketsPerSec, r.MbitPerSec, r.Seconds, r.CPUSec, r.AllocsPerPacket, r.Passes, r.PacketsPerSecMin, r.PacketsPerSecMax)
			fmt.Fprintf(out, "otlink   %12.0f packets/s  %8.1f Mbit/s  the same on %d cores (the file's conversations split by address pair)\n", r.CoresPacketsPerSec, r.CoresMbitPerSec, r.Cores)
			fmt.Fprintf(out, "analyze  %12.0f packets/s  with inventory and detections, %.2f s, %d assets, %d alerts\n", r.AnalyzePacketsPerSec, r.AnalyzeSeconds, r.AnalyzeAssets, r.AnalyzeAlerts)
			fmt.Fprintf(out, "analyze  %12.0f packets/s  the same on %d cores (inventory and detections beside the dissection)\n", r.AnalyzeCoresPacketsPerSec, r.AnalyzeCores)
			fmt.Fprintf(out, "tshark   %12s packets/s  (plain %s, fields %s)\n", opt(r.TsharkPacketsPerSec, "%.0f"), opt(r.TsharkPlainPacketsPerSec, "%.0f"), opt(r.TsharkFieldsPacketsPerSec, "%.0f"))
			fmt.Fprintf(out, "vs tshark %11s  one core; %s on %d cores (tshark uses one)\n", opt(r.VsTshark, "%.1f×"), opt(r.VsTsharkCores, "%.1f×"), r.Cores)
			if r.TsharkNote != "" {
				fmt.Fprintf(out, "note: %s\n", r.TsharkNote)
			}
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&o.Packets, "packets", 1_000_000, "packets of the generated capture")
	f.IntVar(&o.Passes, "passes", 5, "dissection passes over the capture; the median pass is reported")
	f.BoolVar(&o.NoTshark, "no-tshark", false, "skip the tshark baseline")
	f.StringVar(&o.Dir, "keep", "", "write the capture to DIR/dpi.pcap and keep it (e.g. to time otlink analyze on it)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured dissection to this file")
	return c
}

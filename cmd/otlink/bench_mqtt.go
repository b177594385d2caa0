package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
	"github.com/otlink/otlink/internal/errcode"
)

func init() { moreBench = append(moreBench, benchMQTTCmd) }

func benchMQTTCmd() *cobra.Command {
	var (
		o      bench.MQTTOptions
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "mqtt",
		Short: "MQTT north (UNS, Sparkplug B) and south ingest throughput against mosquitto, with a bare paho baseline",
		Long: `Publishes batches through otlink's northbound MQTT publisher (UNS JSON and
Sparkplug B, QoS 1, through the on-disk queue) and ingests JSON messages through
the mqtt driver, against Debian's mosquitto started by the command on a free
loopback port (or --broker URL). Each figure has a baseline measured in the
same run: a bare paho client sending or receiving the same payloads at QoS 1.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.Samples < 1 || o.BatchSize < 1 {
				return usageErr(errcode.New(errcode.CLIUsage, "--samples and --batch must be at least 1"))
			}
			if !asJSON {
				o.Progress = c.ErrOrStderr()
			}
			r, err := bench.MQTT(ctx, o)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintf(out, "broker %s, %d samples in batches of %d\n", r.Broker, r.Samples, r.BatchSize)
			fmt.Fprintf(out, "north UNS        %10.0f samples/s   (raw paho %10.0f msgs/s: ratio %.2f)\n", r.UNSSamplesPerSec, r.RawUNSMsgsPerSec, r.UNSRatio)
			fmt.Fprintf(out, "north Sparkplug  %10.0f samples/s   (raw paho %10.0f samples/s: ratio %.2f)\n", r.SparkplugSamplesPerSec, r.RawSparkplugSamplesPerSec, r.SparkplugRatio)
			fmt.Fprintf(out, "south JSON ingest %9.0f values/s    (raw paho %10.0f msgs/s: ratio %.2f)\n", r.IngestValuesPerSec, r.RawIngestMsgsPerSec, r.IngestRatio)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Broker, "broker", "", "broker URL, e.g. tcp://127.0.0.1:1883; empty starts mosquitto")
	f.IntVar(&o.Samples, "samples", 200000, "samples per run")
	f.IntVar(&o.BatchSize, "batch", 100, "samples per batch")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

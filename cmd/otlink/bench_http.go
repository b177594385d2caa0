package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/bench"
	"github.com/otlink/otlink/internal/errcode"
)

func init() { moreBench = append(moreBench, benchHTTPCmd) }

func benchHTTPCmd() *cobra.Command {
	var (
		o                   bench.HTTPOptions
		asJSON              bool
		cpuProfile, memProf string
	)
	c := &cobra.Command{
		Use:   "http",
		Short: "web server over HTTPS with real auth: /api/v1/tags requests/s and p99, SSE fan-out, against /healthz",
		Long: `Starts simulated Modbus devices, the acquisition engine, the auth store (a
viewer's API token) and the web server over HTTPS from the local CA in one
process, then measures with concurrent keep-alive clients over TLS:
GET /healthz with the token (the baseline: TLS, HTTP and authentication),
GET /api/v1/tags (every tag) and a page of it (?limit=), then --sse-clients
event streams on /api/v1/events/tags: events and tag updates delivered per
second and the delay from a value's sampling to its arrival at the clients.
Clients and server share the machine: compare the ratios, not the absolutes.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.Tags < 1 || o.Devices < 1 || o.Tags < o.Devices || o.Clients < 1 || o.SSEClients < 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--tags, --devices and --clients must be at least 1, --tags at least --devices"))
			}
			if o.SSEClients == 0 {
				o.SSEClients = -1 // none
			}
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
			r, err := bench.HTTP(ctx, o)
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
			fmt.Fprintf(out, "%d tags on %d devices polled every %.0f ms, %d clients over TLS\n", r.Tags, r.Devices, r.IntervalMS, r.Clients)
			for _, l := range []bench.Load{r.Healthz, r.Tags10k, r.Paged} {
				fmt.Fprintf(out, "GET %-28s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %9.0f B/reply\n", l.Path, l.RequestsPerSec, l.P50MS, l.P99MS, l.BytesPerReply)
			}
			fmt.Fprintf(out, "ratio to /healthz: all tags %.3f, one page %.3f\n", r.TagsToHealthz, r.PagedToHealthz)
			if s := r.SSE; s.Clients > 0 {
				fmt.Fprintf(out, "SSE %d/%d clients: %.0f events/s, %.0f tag updates/s, %.1f MB/s\n", s.Connected, s.Clients, s.EventsPerSec, s.TagUpdatesPerSec, s.MBPerSec)
				fmt.Fprintf(out, "  sampling to client p50 %.0f ms, p99 %.0f ms; to all clients p50 %.0f ms, p99 %.0f ms (%d events)\n",
					s.DelayP50MS, s.DelayP99MS, s.AllClientsP50MS, s.AllClientsP99MS, s.EventsAtAll)
			}
			fmt.Fprintf(out, "CPU %.1f s, peak RSS %.0f MB\n", r.CPUSec, r.RSSMB)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&o.Tags, "tags", 10000, "tags in all, spread over the devices")
	f.IntVar(&o.Devices, "devices", 10, "simulated Modbus devices")
	f.DurationVar(&o.Interval, "interval", time.Second, "poll interval (every value changes at each poll)")
	f.IntVar(&o.Clients, "clients", 200, "concurrent keep-alive clients of the request measurements")
	f.IntVar(&o.SSEClients, "sse-clients", 200, "event stream clients (0: no stream measurement)")
	f.IntVar(&o.PageLimit, "page", 500, "limit of the paged /api/v1/tags measurement")
	f.DurationVar(&o.Duration, "duration", 5*time.Second, "measuring time of each measurement")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	f.StringVar(&memProf, "memprofile", "", "write a heap profile (at the end, while it runs) to this file")
	return c
}

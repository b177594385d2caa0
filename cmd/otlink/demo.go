package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/web"
)

func demoCmd() *cobra.Command {
	var (
		data, listen, nats, mqtt string
		plain                    bool
		dur                      time.Duration
		lines, machines          int
		seed                     uint64
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "run a simulated plant with the bus, the acquisition engine and the HTTP API, all embedded",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if plain {
				if err := web.CheckLoopback(listen); err != nil {
					return usageErr(err)
				}
			}
			if data == "" {
				data = defaultDataDir("demo")
			}
			ctx := c.Context()
			plant, err := sim.Start(ctx, sim.PlantConfig{Lines: lines, Machines: machines, Seed: seed})
			if err != nil {
				return err
			}
			defer plant.Close()
			cfg := sim.DemoConfig(plant)
			cfg.Data = data
			cfg.HTTP.Listen = listen
			cfg.HTTP.PlainHTTP = plain
			cfg.Bus.Listen = nats
			cfg.Bus.MQTT = mqtt
			config.Defaults(cfg)
			if err := config.Validate(cfg); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			out := c.OutOrStdout()
			return serve(ctx, cfg, log, app.Options{MaxChunkSamples: demoChunkSamples}, dur, func(a *app.App) {
				fmt.Fprintf(out, "otlink demo: %d simulated machines on %d lines\n", len(plant.Devices()), lines)
				for _, d := range plant.Devices() {
					fmt.Fprintf(out, "  %-6s %-10s modbus tcp://%s\n", d.Line(), d.Name(), d.Addr())
				}
				h := a.URL()
				// First: the admin exists before any address is printed, so
				// a script that reads the banner can make a token at once.
				demoLogin(c.Context(), out, a, data, h)
				fmt.Fprintf(out, "\nlive values   %s/api/v1/tags\n", h)
				fmt.Fprintf(out, "device health %s/api/v1/devices\n", h)
				fmt.Fprintf(out, "metrics       %s/metrics\n", h)
				if m := a.Bus().MQTTAddr(); m != "" {
					fmt.Fprintf(out, "MQTT (UNS)    mqtt://%s   e.g. mosquitto_sub -h %s -t 'acme/#' -v\n", m, hostOf(m))
				}
				fmt.Fprintf(out, "NATS          %s\ndata          %s\n", a.Bus().ClientURL(), data)
				fmt.Fprintf(out, "history       %s/api/v1/history/latest?tags=acme/*/*/*/*/*   (otlink history latest --url %s 'acme/*/*/*/*/*')\n", h, h)
				fmt.Fprintf(out, "integrity     %s/api/v1/integrity   (otlink verify --url %s)\n", h, h)
				if dur > 0 {
					fmt.Fprintf(out, "stopping by itself after %s; Ctrl-C stops earlier\n", dur)
				} else {
					fmt.Fprintln(out, "Ctrl-C stops")
				}
			}, nil)
		},
	}
	f := c.Flags()
	f.StringVar(&data, "data", "", "data folder (default under the user's state directory)")
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "HTTPS address of the web UI and API")
	f.BoolVar(&plain, "plain-http", false, "serve plain HTTP instead of HTTPS (loopback only)")
	f.StringVar(&nats, "nats", "127.0.0.1:4222", "embedded NATS client address")
	f.StringVar(&mqtt, "mqtt", "127.0.0.1:1883", `embedded MQTT listener address, or "off"`)
	f.DurationVar(&dur, "for", 0, "stop by itself after this long (e.g. 30s); 0 runs until Ctrl-C")
	f.IntVar(&lines, "lines", 2, "simulated production lines")
	f.IntVar(&machines, "machines", 4, "simulated machines per line")
	f.Uint64Var(&seed, "seed", 1, "simulation seed")
	return c
}

// demoChunkSamples seals the demo's chunks early, so that a run of a few
// seconds already has sealed chunks to verify (the store's default is 4096).
const demoChunkSamples = 16

// demoLogin creates the demo's admin account on the first run and prints
// how to log in: the password once, the CA for curl, and how to get a token.
func demoLogin(ctx context.Context, out io.Writer, a *app.App, data, base string) {
	fmt.Fprintf(out, "\nlogin         %s/login   user admin\n", base)
	pw, err := a.Auth().DemoAdmin(ctx, data)
	switch {
	case err == nil:
		fmt.Fprintf(out, "password      %s   (shown once; also in %s, mode 0600)\n", pw, filepath.Join(data, auth.DemoAdminFile))
	case errcode.Of(err) == errcode.AuthUserExists:
		fmt.Fprintf(out, "password      in %s (admin exists from an earlier run)\n", filepath.Join(data, auth.DemoAdminFile))
	default:
		fmt.Fprintf(out, "admin account not created: %v\n", err)
	}
	if ca := a.CAFile(); ca != "" {
		fmt.Fprintf(out, "CA            %s   (trust it in the browser, or curl --cacert %s)\n", ca, ca)
	}
	fmt.Fprintf(out, "API token     otlink token create --data %s --user admin --name me --perm tags.read --expires 1d\n", data)
	fmt.Fprintf(out, "              then curl --cacert CA -H 'Authorization: Bearer otl_...' %s/api/v1/tags\n", base)
}

func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/uatrust"
	"github.com/otlink/otlink/internal/web"
)

func demoCmd() *cobra.Command {
	var (
		data, listen, nats, mqtt string
		uaListen, mtcListen      string
		plain                    bool
		dur                      time.Duration
		lines, machines          int
		seed                     uint64
		monitorIf                string
		learn                    time.Duration
		intruder                 bool
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
			// OPC UA trust, both ways, as a plant does it with `otlink
			// certs trust`: the simulated OPC UA machine trusts otlink's
			// client certificate (DATA/pki/own) and otlink's trust list
			// gets the machine's certificate, kept in DATA/sim so that
			// the trust outlasts this run.
			pki, err := uatrust.Open(data)
			if err != nil {
				return err
			}
			own, err := pki.Own()
			if err != nil {
				return err
			}
			cncs := 0
			if mtconnectPushes() {
				cncs = 1
			}
			plant, err := sim.Start(ctx, sim.PlantConfig{Lines: lines, Machines: machines, Seed: seed,
				// Linux answers on all of 127.0.0.0/8: each PLC its own address.
				CNCs: cncs, UAMachines: 1, OwnAddresses: runtime.GOOS == "linux",
				UA: sim.UAOptions{CertDir: filepath.Join(data, "sim"), TrustedClients: [][]byte{own.DER}}})
			if err != nil {
				return err
			}
			defer plant.Close()
			for _, u := range plant.UAMachines() {
				if _, err := pki.Add(u.Certificate(), uatrust.DirTrusted); err != nil {
					return err
				}
			}
			cfg := sim.DemoConfig(plant)
			var uaNote, mtcNote string
			if uaListen != "off" {
				if uaListen, uaNote, err = demoListen(uaListen); err != nil {
					return err
				}
				cfg.OPCUA = config.OPCUAServer{Enabled: true, Listen: uaListen}
			}
			if mtcListen != "off" {
				if mtcListen, mtcNote, err = demoListen(mtcListen); err != nil {
					return err
				}
				cfg.MTConnect = config.MTConnectAgent{Enabled: true, Listen: mtcListen}
			}
			monNote := demoMonitor(cfg, data, monitorIf, learn)
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
				n := len(plant.Devices()) + len(plant.CNCs()) + len(plant.UAMachines())
				fmt.Fprintf(out, "otlink demo: %d simulated machines on %d lines\n", n, lines)
				for _, d := range plant.Devices() {
					fmt.Fprintf(out, "  %-6s %-10s modbus tcp://%s\n", d.Line(), d.Name(), d.Addr())
				}
				for _, m := range plant.CNCs() {
					fmt.Fprintf(out, "  %-6s %-10s mtconnect %s\n", m.Line(), m.Name(), m.URL())
				}
				if cncs == 0 {
					fmt.Fprintln(out, "  (no MTConnect CNCs: this build's mtconnect driver does not stream into the engine)")
				}
				for _, u := range plant.UAMachines() {
					fmt.Fprintf(out, "  %-6s %-10s opcua %s   (Basic256Sha256 SignAndEncrypt, certificates trusted both ways)\n", u.Line(), u.Name(), u.URL())
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
				if cfg.OPCUA.Enabled {
					fmt.Fprintf(out, "OPC UA server opc.tcp://%s   secure policies only; user admin; trust %s in your client%s\n",
						cfg.OPCUA.Listen, own.CertFile, uaNote)
				}
				if cfg.MTConnect.Enabled {
					fmt.Fprintf(out, "MTConnect     http://%s/current   (probe, current, sample)%s\n", cfg.MTConnect.Listen, mtcNote)
				}
				fmt.Fprintf(out, "security      %s/security   %s\n", h, monNote)
				if len(cfg.Monitor.Interfaces) > 0 && intruder {
					at := time.Now().Add(learn + intruderDelay)
					fmt.Fprintf(out, "              at %s a simulated intruder (%s) scans the PLCs, writes one and asks it to restart\n", at.Format("15:04:05"), intruderAddr)
					go demoIntruder(c.Context(), plant, log, time.Until(at))
				}
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
	f.StringVar(&uaListen, "opcua", config.DefaultOPCUAListen, `otlink's OPC UA server address, or "off"`)
	f.StringVar(&mtcListen, "mtconnect", config.DefaultMTConnectListen, `otlink's MTConnect agent address, or "off"`)
	f.DurationVar(&dur, "for", 0, "stop by itself after this long (e.g. 30s); 0 runs until Ctrl-C")
	f.IntVar(&lines, "lines", 2, "simulated production lines")
	f.IntVar(&machines, "machines", 4, "simulated machines per line")
	f.Uint64Var(&seed, "seed", 1, "simulation seed")
	f.StringVar(&monitorIf, "monitor", "lo", `interface the war room watches (the PLCs' traffic), or "off"; needs root or CAP_NET_RAW`)
	f.DurationVar(&learn, "learn", 2*time.Minute, "how long the network monitor learns the plant's normal traffic")
	f.BoolVar(&intruder, "intruder", true, "play a simulated intruder after the learning, and every 10 minutes")
	return c
}

// The simulated intruder's address, and when it acts after the learning.
var intruderAddr = netip.MustParseAddr("127.0.66.6")

const (
	intruderDelay = 20 * time.Second
	intruderEvery = 10 * time.Minute
)

// demoMonitor turns on network monitoring of the PLCs' traffic on ifc
// when this process may capture there, and says what the war room shows.
// The PLCs have their own loopback addresses (sim.DeviceNetwork), so the
// asset inventory sees one host per machine and otlink as their client.
func demoMonitor(cfg *config.Config, data, ifc string, learn time.Duration) string {
	if ifc == "off" {
		return "(network monitoring off: --monitor off)"
	}
	filter := "tcp and net " + sim.DeviceNetwork.String()
	src, err := capture.Live(ifc, filter, 0)
	if err != nil {
		return fmt.Sprintf("(network monitoring off: capturing on %s needs root or CAP_NET_RAW: sudo setcap cap_net_raw+ep BINARY; %s)", ifc, errcode.Of(err))
	}
	src.Close()
	// otlink reads each PLC's identity (FC 43) when it connects: to the
	// monitor, a host reading eight devices' identity is an identity scan.
	// The demo says it is known, as an analyst would.
	rules := filepath.Join(data, "demo-rules.yaml")
	if err := os.WriteFile(rules, []byte(demoRules), 0o600); err != nil {
		return fmt.Sprintf("(network monitoring off: %v)", err)
	}
	cfg.Monitor = config.Monitor{
		Interfaces: []config.MonitorInterface{{Name: ifc, BPF: filter}},
		Rules:      rules,
		Learn:      config.Duration(learn),
		Zones: []config.MonitorZone{
			{Name: "control room", Networks: []string{"127.0.0.0/24"}},
			{Name: "plant floor", Networks: []string{sim.DeviceNetwork.String()}},
		},
	}
	return fmt.Sprintf("the war room watches the PLCs' Modbus traffic on %s, learning what is normal for %s\n"+
		"              (otlink's own identity reads when it connects are a suppressed identity scan: %s)", ifc, learn, rules)
}

// demoRules suppresses the identity scan that otlink's own connections
// look like (docs/detections.md, Suppressions).
const demoRules = `# otlink demo: detections the analyst has reviewed and accepted.
suppress:
  - detection: identity_scan
    client: 127.0.0.1
    reason: otlink (the gateway) reads each PLC's identity (Modbus FC 43/14) when it connects
`

// demoIntruder plays the simulated intruder after wait, then every
// intruderEvery, until ctx ends.
func demoIntruder(ctx context.Context, plant *sim.Plant, log *slog.Logger, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := plant.Intrude(ctx, intruderAddr); err != nil && ctx.Err() == nil {
			log.Warn("simulated intruder", "err", err)
		}
		t.Reset(intruderEvery)
	}
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

// mtconnectPushes tells whether the mtconnect driver streams into the
// engine (driver.Pusher); the engine polls any other driver, and the
// mtconnect driver refuses polls, so its CNCs would only show bad tags.
func mtconnectPushes() bool {
	d, ok := driver.Lookup("mtconnect")
	if !ok {
		return false
	}
	_, push := d.(driver.Pusher)
	return push
}

// demoListen returns the address to serve on: addr itself when its port
// is free, else (port 0, or a port in use, e.g. by another demo) a free
// port on the same host, with a note saying so. The app does not report
// back the port it bound, so the demo chooses it before.
func demoListen(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", usageErr(err)
	}
	if port != "0" {
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr, "", nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", "", err
	}
	got := ln.Addr().String()
	ln.Close()
	if port == "0" {
		return got, "", nil
	}
	return got, "   (" + addr + " is in use)", nil
}

func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}

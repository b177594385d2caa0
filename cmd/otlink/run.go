package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/config"
)

func runCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "run --config FILE",
		Short: "run otlink from a config: bus, acquisition, HTTP (SIGTERM stops, SIGHUP reloads)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if path == "" {
				return usageErr(fmt.Errorf("--config FILE is required"))
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			if cfg.Data == "" {
				cfg.Data = defaultDataDir("run")
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			return serve(c.Context(), cfg, log, app.Options{}, 0, func(a *app.App) {
				log.Info("otlink running", "config", path, "http", a.URL(), "ca", a.CAFile(), "nats", a.Bus().ClientURL(), "mqtt", a.Bus().MQTTAddr())
				printSetupLink(c.Context(), c.ErrOrStderr(), a)
			}, func() (*config.Config, error) {
				cfg, err := config.Load(path)
				if err != nil {
					return nil, err
				}
				if cfg.Data == "" {
					cfg.Data = defaultDataDir("run")
				}
				return cfg, nil
			})
		},
	}
	c.Flags().StringVar(&path, "config", "", "config file (YAML)")
	return c
}

// serve starts the app and runs it until SIGINT/SIGTERM, or until d has
// passed when d > 0. On SIGHUP it calls reload and applies the new config
// when it is valid; a bad config is refused with its errors and the running
// one kept.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, aopts app.Options, d time.Duration, started func(*app.App), reload func() (*config.Config, error)) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	aopts.Logger = log
	a, err := app.Start(ctx, cfg, aopts)
	if err != nil {
		return err
	}
	started(a)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if reload == nil {
				log.Warn("reload is not supported here")
				continue
			}
			next, err := reload()
			if err != nil {
				log.Error("reload refused: the running config is kept", "err", err)
				a.AuditConfigChange(ctx, cfg.File, err)
				continue
			}
			if err := a.Reload(next); err != nil {
				log.Error("reload failed: the running config is kept", "err", err)
				a.AuditConfigChange(ctx, next.File, err)
				continue
			}
			a.AuditConfigChange(ctx, next.File, nil)
			log.Info("config reloaded")
		case <-ctx.Done():
			log.Info("stopping: finishing cycles in flight and flushing the bus")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return a.Stop(sctx)
		}
	}
}

// printSetupLink prints, while no administrator exists, a one-time link
// to create the first one.
func printSetupLink(ctx context.Context, w io.Writer, a *app.App) {
	link, err := a.SetupLink(ctx)
	if err != nil {
		fmt.Fprintln(w, "otlink: no setup link:", err)
		return
	}
	if link != "" {
		fmt.Fprintf(w, "\nNo administrator yet. Create one within 24 h with this one-time link:\n  %s\n", link)
		if ca := a.CAFile(); ca != "" {
			fmt.Fprintf(w, "(the certificate is from otlink's local CA %s)\n\n", ca)
		}
	}
}

// defaultDataDir is a folder under the user's state directory.
func defaultDataDir(kind string) string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = home + "/.local/state"
	}
	return base + "/otlink/" + kind
}

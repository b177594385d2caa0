package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/web"
)

// Options are settings that do not come from the config file.
type Options struct {
	Logger *slog.Logger
}

// App is a running otlink.
type App struct {
	log    *slog.Logger
	bus    *bus.Bus
	engine *acquire.Engine
	web    *web.Server
	sink   *sink

	mu  sync.Mutex
	cfg *config.Config

	cancel context.CancelFunc
	done   chan error
}

// Start starts the bus, the engine and the HTTP server for cfg, which must
// already be valid. The engine runs until ctx is done or Stop is called.
func Start(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	dataDir := cfg.Data
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, errcode.Wrap(errcode.CLIDataDir, err, "data folder %s", dataDir)
	}
	mqtt := cfg.Bus.MQTT
	b, err := bus.Open(ctx, bus.Options{
		URL:          cfg.Bus.URL,
		Listen:       cfg.Bus.Listen,
		MQTT:         mqtt,
		DataDir:      filepath.Join(dataDir, "bus"),
		SyncInterval: cfg.Bus.SyncInterval.D(),
		SyncAlways:   cfg.Bus.SyncAlways,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	s := &sink{bus: b}
	eng, err := acquire.New(cfg, acquire.Options{Sink: s, Logger: log, DataDir: filepath.Join(dataDir, "acquire")})
	if err != nil {
		b.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), eng.Collector())
	a := &App{log: log, bus: b, engine: eng, sink: s, cfg: cfg, done: make(chan error, 1)}
	a.web = web.New(web.Options{Listen: cfg.HTTP.Listen, Source: source{eng}, Registry: reg, Logger: log})
	if err := a.web.Start(); err != nil {
		b.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	go func() { a.done <- eng.Run(runCtx) }()
	return a, nil
}

// Bus returns the bus, for the demo's messages and tests.
func (a *App) Bus() *bus.Bus { return a.bus }

// Engine returns the acquisition engine.
func (a *App) Engine() *acquire.Engine { return a.engine }

// HTTPAddr returns the address the HTTP server listens on.
func (a *App) HTTPAddr() string { return a.web.Addr() }

// Reload applies a new, already valid config. Devices whose config did not
// change keep polling without a gap. Bus and HTTP settings take effect at
// the next start; a change to them is logged.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg.Bus != a.cfg.Bus || cfg.HTTP != a.cfg.HTTP || cfg.Data != a.cfg.Data {
		a.log.Warn("bus, http and data settings change only at restart")
	}
	if err := a.engine.Apply(cfg); err != nil {
		return err
	}
	a.cfg = cfg
	return nil
}

// Wait blocks until the engine stops (its context was cancelled).
func (a *App) Wait() error { return <-a.done }

// Stop stops in order: the engine finishes its cycles in flight and hands
// their batches to the bus; the bus waits for every acknowledgement; then
// the HTTP server and the bus close.
func (a *App) Stop(ctx context.Context) error {
	a.cancel()
	var errs []error
	select {
	case err := <-a.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	case <-ctx.Done():
		errs = append(errs, errcode.New(errcode.Internal, "engine did not stop in time"))
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.bus.Flush(fctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.web.Shutdown(fctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.bus.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sink hands batches to JetStream and their samples to the unified namespace.
type sink struct{ bus *bus.Bus }

func (s *sink) PublishBatch(ctx context.Context, b *model.Batch) error {
	if len(b.Samples) == 0 {
		return nil
	}
	if err := s.bus.PublishBatch(ctx, b); err != nil {
		return err
	}
	return s.bus.PublishUNS(b)
}

// source adapts the engine to what the web server shows.
type source struct{ e *acquire.Engine }

func (s source) Tags() []web.Tag {
	snap := s.e.Snapshot()
	out := make([]web.Tag, len(snap))
	for i, t := range snap {
		out[i] = web.Tag{Path: t.Path, Value: t.Value, Quality: t.Quality, Unit: t.Unit}
		if t.Time != 0 {
			out[i].Time = time.Unix(0, t.Time).UTC()
		}
		if t.Code != 0 {
			out[i].Code = errcode.Code(t.Code).String()
		}
	}
	return out
}

func (s source) Devices() any { return s.e.Health() }

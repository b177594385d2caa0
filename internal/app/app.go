package app

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/store"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/monitor"
	"github.com/otlink/otlink/internal/web"
)

// Options are settings that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	// MaxChunkSamples seals the embedded store's chunks at this many
	// samples (0: the store's default). The demo sets a small value so a
	// short run leaves sealed chunks in the integrity log.
	MaxChunkSamples int
	// Argon2 overrides the password hashing parameters (tests); zero is
	// the documented default.
	Argon2 auth.Argon2Params
}

// Files of the data folder.
const (
	AuthDB = "auth.db"
	TLSDir = "tls"
)

// HistorianDurable is the durable JetStream consumer the historian reads
// the samples through.
const HistorianDurable = "historian"

// App is a running otlink.
type App struct {
	log    *slog.Logger
	bus    *bus.Bus
	engine *acquire.Engine
	web    *web.Server
	sink   *sink
	hist   *History
	signer *integrity.Signer
	auth   *auth.Service
	mon    *monitor.Monitor // nil when monitor.interfaces is empty
	extras []stopper        // started by services, stopped in reverse order
	writes *engineWrites    // the governed writes' view of the config (writes.go)
	stopGC func()           // ends the GC tuner at Stop
	caFile string

	histCancel context.CancelFunc
	histDone   chan struct{}

	mu  sync.Mutex
	cfg sections // of the running config; not the config itself

	cancel context.CancelFunc
	done   chan error
}

// sections are the parts of the config the app reads after Start (and
// compares on reload). Only these are kept: a config of 300,000 tags
// holds some 65 MB of config.Tag that the engine has copied what it needs
// from.
type sections struct {
	Bus       config.Bus
	HTTP      config.HTTP
	Historian config.Historian
	Monitor   config.Monitor
	Data      string
}

func sectionsOf(c *config.Config) sections {
	return sections{Bus: c.Bus, HTTP: c.HTTP, Historian: c.Historian, Monitor: c.Monitor, Data: c.Data}
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
	// a is made after the engine; writes cannot happen before Start returns.
	var a *App
	eng, err := acquire.New(cfg, acquire.Options{Sink: s, Logger: log, DataDir: filepath.Join(dataDir, "acquire"),
		OnWrite: func(ctx context.Context, ev acquire.WriteEvent) { a.auditEngineWrite(ctx, ev) }})
	if err != nil {
		b.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), eng.Collector())
	a = &App{log: log, bus: b, engine: eng, sink: s, cfg: sectionsOf(cfg), done: make(chan error, 1)}
	wopts := web.Options{Listen: cfg.HTTP.Listen, Source: source{eng}, Registry: reg, Logger: log}
	if cfg.Historian.Backend != config.HistorianOff {
		if err := a.startHistorian(ctx, opts, cfg); err != nil {
			b.Close()
			return nil, err
		}
		wopts.History = a.hist.Query
		if a.hist.Log != nil {
			wopts.Integrity = a.hist
		}
	}
	if err := a.openAuth(ctx, opts); err != nil {
		a.stopHistorian(context.Background())
		b.Close()
		return nil, err
	}
	wopts.Auth = a.auth
	if err := a.startMonitor(ctx, reg); err != nil {
		a.auth.Close()
		a.stopHistorian(context.Background())
		b.Close()
		return nil, err
	}
	if err := a.startServices(ctx, cfg, &wopts); err != nil {
		a.stopMonitor()
		a.auth.Close()
		a.stopHistorian(context.Background())
		b.Close()
		return nil, err
	}
	if !cfg.HTTP.PlainHTTP {
		tc, err := a.tlsConfig()
		if err != nil {
			a.stopServices(context.Background())
			a.stopMonitor()
			a.auth.Close()
			a.stopHistorian(context.Background())
			b.Close()
			return nil, err
		}
		wopts.TLS = tc
	}
	a.web = web.New(wopts)
	if err := a.web.Start(); err != nil {
		a.stopServices(context.Background())
		a.stopMonitor()
		a.auth.Close()
		a.stopHistorian(context.Background())
		b.Close()
		return nil, err
	}
	// A large plant's tag tables are long-lived; the tuner keeps the GC's
	// headroom proportionate to them (acquire/gc.go) instead of doubling
	// the heap: 300,000 tags fit in 150 MB this way.
	a.stopGC = acquire.StartGCTuner()
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

// URL returns the server's base URL, https://127.0.0.1:8443 or so.
func (a *App) URL() string { return a.web.URL() }

// Auth returns the account and audit store of the data folder.
func (a *App) Auth() *auth.Service { return a.auth }

// CAFile returns the path of the local CA certificate that signed the
// server's certificate, for browsers and curl --cacert; "" when the
// configuration names its own certificate or serves plain HTTP.
func (a *App) CAFile() string { return a.caFile }

// openAuth opens DATA/auth.db. Audit events become leaves of the
// integrity log when there is one; without one they stay in auth.db,
// marked unsent, until a run with a log takes them.
func (a *App) openAuth(ctx context.Context, opts Options) error {
	aopts := auth.Options{Logger: a.log, Argon2: opts.Argon2}
	if a.hist != nil && a.hist.Log != nil {
		l := a.hist.Log
		aopts.AuditSink = func(ctx context.Context, e auth.Event) error {
			_, err := l.Append(ctx, e.IntegrityEntry())
			return err
		}
	}
	svc, err := auth.Open(ctx, filepath.Join(a.cfg.Data, AuthDB), aopts)
	if err != nil {
		return err
	}
	a.auth = svc
	return nil
}

// tlsConfig loads the configured certificate, or creates (and renews at
// start) one from the local CA in DATA/tls.
func (a *App) tlsConfig() (*tls.Config, error) {
	// Renewed while running: see tls.go.
	tc, ca, err := newTLSConfig(a.cfg.Data, a.cfg.HTTP.TLS, a.log)
	if err != nil {
		return nil, err
	}
	a.caFile = ca
	return tc, nil
}

// SetupLink returns a one-time link to create the first administrator,
// or "" when one exists.
func (a *App) SetupLink(ctx context.Context) (string, error) {
	ok, err := a.auth.AdminExists(ctx)
	if err != nil || ok {
		return "", err
	}
	tok, err := a.auth.SetupToken(ctx)
	if err != nil {
		return "", errcode.Wrap(errcode.HTTPSetup, err, "issue setup token")
	}
	return a.web.URL() + "/setup?token=" + tok, nil
}

// Reload applies a new, already valid config. Devices whose config did not
// change keep polling without a gap. Bus and HTTP settings take effect at
// the next start; a change to them is logged.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg.Bus != a.cfg.Bus || !reflect.DeepEqual(cfg.HTTP, a.cfg.HTTP) || cfg.Data != a.cfg.Data {
		a.log.Warn("bus, http and data settings change only at restart")
	}
	if err := a.engine.Apply(cfg); err != nil {
		return err
	}
	a.cfg = sectionsOf(cfg)
	if a.writes != nil {
		a.writes.update(cfg)
	}
	return nil
}

// Wait blocks until the engine stops (its context was cancelled).
func (a *App) Wait() error { return <-a.done }

// Stop stops in order: the engine finishes its cycles in flight and hands
// their batches to the bus; the bus waits for every acknowledgement; the
// HTTP server stops; the historian drains what the bus holds (it
// acknowledges only what it made durable), then the store, the integrity
// log (after a last signed checkpoint) and the bus close.
func (a *App) Stop(ctx context.Context) error {
	a.cancel()
	if a.stopGC != nil {
		defer a.stopGC()
	}
	var errs []error
	select {
	case err := <-a.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	case <-ctx.Done():
		errs = append(errs, errcode.New(errcode.Internal, "engine did not stop in time"))
	}
	// The monitor publishes alerts and audits them: it stops before the
	// bus flushes and the integrity log closes.
	if err := a.stopMonitor(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, a.stopServices(ctx)...)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.bus.Flush(fctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.web.Shutdown(fctx); err != nil {
		errs = append(errs, err)
	}
	// After the server, before the integrity log: the audit sink writes
	// into the log.
	if err := a.auth.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := a.stopHistorian(ctx); err != nil {
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

// EngineSource adapts the engine to what the web server shows: its
// snapshot as web tags, its device health (the HTTP bench uses it too).
func EngineSource(e *acquire.Engine) web.Source { return source{e} }

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

// History returns the historian, nil when it is off.
func (a *App) History() *History { return a.hist }

// startHistorian opens the historian and starts its ingest from the bus
// and, with an integrity log, the checkpoint signer.
func (a *App) startHistorian(ctx context.Context, opts Options, cfg *config.Config) error {
	h, err := OpenHistory(ctx, a.cfg.Data, a.cfg.Historian, HistoryOptions{Log: LogWrite, MaxChunkSamples: opts.MaxChunkSamples, Logger: a.log, Config: cfg})
	if err != nil {
		return err
	}
	a.hist = h
	hctx, cancel := context.WithCancel(context.Background())
	// Retention and rollups run until History.Close, which waits for them
	// before the store closes.
	h.Start(hctx)
	a.histCancel = cancel
	a.histDone = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if h.Embedded != nil && h.Writer == historian.Writer(h.Embedded) {
			err = store.Ingest(hctx, a.bus, h.Embedded, HistorianDurable)
		} else {
			// Lossy tags (or another backend): the same acknowledge-
			// after-write loop through h.Writer.
			err = ingestInto(hctx, a.bus.ConsumeSamples, h.Writer, HistorianDurable)
		}
		if err != nil {
			a.log.Error("historian ingest stopped", "code", errcode.Of(err).String(), "err", err)
		}
	}()
	if h.Log != nil {
		a.signer = integrity.NewSigner(h.Log, a.cfg.Historian.CheckpointInterval.D())
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.signer.Run(hctx)
		}()
	}
	go func() { wg.Wait(); close(a.histDone) }()
	return nil
}

// stopHistorian waits (bounded) until the historian's consumer has no
// pending or unacknowledged samples, stops ingest and the signer, and
// closes the store and the integrity log.
func (a *App) stopHistorian(ctx context.Context) error {
	if a.hist == nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, drainWait)
	defer cancel()
	a.drain(dctx)
	a.histCancel()
	select {
	case <-a.histDone:
	case <-ctx.Done():
		return errcode.New(errcode.Internal, "historian did not stop in time")
	}
	err := a.hist.Close()
	a.hist = nil
	return err
}

// drain polls the durable consumer until everything in the stream was
// delivered and acknowledged, or ctx ends.
func (a *App) drain(ctx context.Context) {
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		c, err := a.bus.JetStream().Consumer(ctx, bus.SamplesStream, HistorianDurable)
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	a.log.Warn("historian did not catch up with the bus before stopping: it resumes at the next start", "code", errcode.StoreIngest.String())
}

// startMonitor starts live network monitoring when interfaces are
// configured. Alerts are audited into the integrity log when there is one.
func (a *App) startMonitor(ctx context.Context, reg *prometheus.Registry) error {
	if len(a.cfg.Monitor.Interfaces) == 0 {
		return nil
	}
	mopts := monitor.Options{Bus: a.bus.Conn(), Logger: a.log, DataDir: a.cfg.Data}
	if a.hist != nil && a.hist.Log != nil {
		l := a.hist.Log
		mopts.Audit = func(ctx context.Context, e integrity.Entry) error {
			_, err := l.Append(ctx, e)
			return err
		}
	}
	m, err := monitor.Start(ctx, a.cfg.Monitor, mopts)
	if err != nil {
		return err
	}
	reg.MustRegister(m.Collector())
	a.mon = m
	return nil
}

// stopMonitor stops the monitor, if any (bounded).
func (a *App) stopMonitor() error {
	if a.mon == nil {
		return nil
	}
	err := a.mon.Close()
	a.mon = nil
	return err
}

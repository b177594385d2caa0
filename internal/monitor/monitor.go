package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/dissect"
	_ "github.com/otlink/otlink/internal/dissect/all" // register the dissectors
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/flow"
	"github.com/otlink/otlink/internal/integrity"
)

// AlertSubject is the bus subject of new alerts (JSON detect.Alert).
const AlertSubject = "otl.v1.alerts"

// Actor is the audit actor of alert entries.
const Actor = "otlink monitor"

// DefaultLearn is the learning period without a baseline file.
const DefaultLearn = 24 * time.Hour

// EvalInterval is how often windowed detections are evaluated.
const EvalInterval = time.Second

// closeWait bounds Close.
const closeWait = 5 * time.Second

// Options are what the monitor needs from the rest of otlink.
type Options struct {
	Bus     *nats.Conn                                         // alerts are published here; nil: not published
	Audit   func(ctx context.Context, e integrity.Entry) error // alerts are audited here; nil: not audited
	Logger  *slog.Logger
	DataDir string // the learned baseline goes to DATA/monitor/baseline.json, alert states to DATA/monitor/alerts.json; "" = not saved
	// Open opens the packet source of an interface; nil: live AF_PACKET
	// capture (capture.Live). Tests and replays give capture files: a
	// source that ends (io.EOF) ends its flows and stops being read.
	Open func(ifc config.MonitorInterface) (capture.Source, error)
}

// Stats are the monitor's counters.
type Stats struct {
	Learning bool                  `json:"learning"`
	Packets  uint64                `json:"packets"`
	Bytes    uint64                `json:"bytes"`
	Drops    uint64                `json:"drops"` // dropped by the kernel
	Alerts   uint64                `json:"alerts"`
	Protos   map[string]ProtoCount `json:"protos"` // PDUs and their payload bytes per protocol
	Assets   int                   `json:"assets"`
	Detect   detect.EngineStats    `json:"detect"` // tracked windows, rates and alerts, and what the caps evicted
}

// ProtoCount counts one protocol.
type ProtoCount struct {
	PDUs  uint64 `json:"pdus"`
	Bytes uint64 `json:"bytes"` // payload bytes of the protocol's flows, counted when a flow ends
}

// Monitor is a running live monitor.
type Monitor struct {
	log   *slog.Logger
	opts  Options
	cfg   config.Monitor
	zones []zone // cfg.Zones, parsed
	srcs  []capture.Source
	names []string
	live  *live // the war room's read model; its own lock

	mu       sync.Mutex // guards everything below: one detection state for all interfaces
	inv      *asset.Inventory
	eng      *detect.Engine
	learner  *detect.Learner
	base     *detect.Baseline
	rules    *detect.Rules
	learnEnd time.Time
	seq      map[string]int
	stats    Stats
	drops    []uint64

	// Alerts with their states (alerts.go), guarded by mu except the
	// store, which locks itself.
	store     *detect.Store
	storePath string
	refs      map[string]*alertRef
	dirty     bool
	saved     time.Time
	saveMu    sync.Mutex // one save at a time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start opens every interface of cfg and starts capturing. An interface
// that cannot be opened fails the start (nothing is left open).
func Start(ctx context.Context, cfg config.Monitor, opts Options) (*Monitor, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Monitor{log: opts.Logger, opts: opts, cfg: cfg, zones: parseZones(cfg.Zones), inv: asset.New(),
		seq: map[string]int{}, stats: Stats{Protos: map[string]ProtoCount{}}}
	if cfg.Rules != "" {
		r, err := detect.LoadRules(cfg.Rules)
		if err != nil {
			return nil, errcode.Wrap(errcode.MonitorBaseline, err, "monitor rules")
		}
		m.rules = r
	}
	if cfg.Baseline != "" {
		b, err := detect.LoadBaseline(cfg.Baseline)
		if err != nil {
			return nil, errcode.Wrap(errcode.MonitorBaseline, err, "monitor baseline")
		}
		m.base = b
	} else {
		learn := cfg.Learn.D()
		if learn <= 0 {
			learn = DefaultLearn
		}
		m.learner = detect.NewLearner()
		m.learnEnd = time.Now().Add(learn)
		m.stats.Learning = true
	}
	m.eng = m.newEngine()
	m.openAlerts()
	open := opts.Open
	if open == nil {
		open = func(ifc config.MonitorInterface) (capture.Source, error) { return capture.Live(ifc.Name, ifc.BPF, 0) }
	}
	for _, ifc := range cfg.Interfaces {
		src, err := open(ifc)
		if err != nil {
			for _, s := range m.srcs {
				s.Close()
			}
			return nil, errcode.Wrap(errcode.MonitorStart, err, "monitor interface %s", ifc.Name)
		}
		m.srcs = append(m.srcs, src)
		m.names = append(m.names, ifc.Name)
	}
	m.drops = make([]uint64, len(m.srcs))
	m.live = newLive()
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	fcfg := flow.Config{MaxFlows: cfg.Flow.MaxFlows, Idle: cfg.Flow.Idle.D()}
	for i, src := range m.srcs {
		m.wg.Add(1)
		go m.capture(rctx, i, src, fcfg)
	}
	m.wg.Add(1)
	go m.tick(rctx)
	// The caller's ctx ends the monitor too.
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-rctx.Done():
		}
	}()
	m.log.Info("network monitor started", "interfaces", m.names, "learning", m.learner != nil)
	return m, nil
}

func (m *Monitor) newEngine() *detect.Engine {
	return detect.New(detect.Config{Baseline: m.base, Rules: m.rules, Roles: m.inv})
}

// handler is the flow.Handler of one interface; it locks the shared state.
type handler struct {
	m     *Monitor
	iface int
}

func (h handler) PDU(f *flow.Flow, p *dissect.PDU) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live.pdu(f, p)
	pc := m.stats.Protos[p.Proto]
	pc.PDUs++
	m.stats.Protos[p.Proto] = pc
	m.inv.PDU(f, p)
	if m.learner != nil {
		m.learner.PDU(f, p)
	}
	m.eng.PDU(f, p)
}

func (h handler) FlowEnd(f *flow.Flow) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.Proto != "" {
		pc := m.stats.Protos[f.Proto]
		pc.Bytes += f.Bytes[0] + f.Bytes[1]
		m.stats.Protos[f.Proto] = pc
	}
	m.live.end(f)
	m.inv.FlowEnd(f)
	if m.learner != nil {
		m.learner.FlowEnd(f)
	}
	m.eng.FlowEnd(f)
}

func (m *Monitor) capture(ctx context.Context, i int, src capture.Source, fcfg flow.Config) {
	defer m.wg.Done()
	// The inventory, detections and the war room's PDUs run on a goroutine
	// of their own, so the capture goroutine only reads and dissects: it
	// keeps up with about twice the packets, and a burst waits in the
	// pipeline's batches instead of the kernel's ring. Batches are handed
	// over when full, every 256 packets and whenever the interface is
	// quiet, so an alert waits at most a poll time.
	h := handler{m, i}
	pipe := analyze.NewPipeline([]analyze.Observer{h}, []analyze.FlowObserver{h})
	defer pipe.Close()
	t := flow.NewTable(fcfg, pipe)
	var frame uint64
	var pk, by uint64
	for ctx.Err() == nil {
		data, ci, err := src.Next()
		if errors.Is(err, io.EOF) {
			m.log.Info("capture source ended", "iface", m.names[i], "frames", frame)
			break
		}
		if err != nil {
			if !errors.Is(err, capture.ErrTimeout) {
				m.log.Warn("capture error", "iface", m.names[i], "err", err, "code", errcode.Of(err))
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			m.flushCounters(i, src, &pk, &by)
			pipe.Flush()
			continue
		}
		frame++
		pk++
		by += uint64(ci.Len)
		tf, dir := t.PacketFlow(data, ci, frame)
		m.live.packet(tf, dir, ci)
		if pk >= 256 {
			m.flushCounters(i, src, &pk, &by)
			pipe.Flush()
		}
	}
	t.Flush()
	m.flushCounters(i, src, &pk, &by)
}

// dropCounter is a source that knows what the kernel dropped.
type dropCounter interface {
	Stats() (received, dropped uint64)
}

func (m *Monitor) flushCounters(i int, src capture.Source, pk, by *uint64) {
	var dropped uint64
	if dc, ok := src.(dropCounter); ok {
		_, dropped = dc.Stats()
	}
	m.mu.Lock()
	m.stats.Packets += *pk
	m.stats.Bytes += *by
	m.drops[i] = dropped // cumulative (the source sums the kernel's counters)
	m.mu.Unlock()
	*pk, *by = 0, 0
}

func (m *Monitor) tick(ctx context.Context) {
	defer m.wg.Done()
	tk := time.NewTicker(EvalInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			m.evaluate(context.Background(), time.Now())
			return
		case now := <-tk.C:
			m.evaluate(ctx, now)
		}
	}
}

// evaluate ends learning when due, collects new alerts and hands them on.
func (m *Monitor) evaluate(ctx context.Context, now time.Time) {
	m.mu.Lock()
	if m.learner != nil && !now.Before(m.learnEnd) {
		m.endLearning()
	}
	// The engine returns each alert once: immediate ones, windowed ones
	// (scans, storms, unusual rates over the windows ending now) and a
	// re-armed incident again after a quiet window.
	out := m.eng.Evaluate(now)
	ids := make([]string, len(out))
	for i, a := range out {
		ids[i] = m.nextID(a.Detection)
	}
	// Marshal under the lock: the engine keeps extending its alerts.
	docs := make([][]byte, len(out))
	for i, a := range out {
		c := *a
		c.ID = ids[i]
		docs[i], _ = json.Marshal(&c)
	}
	m.stats.Alerts += uint64(len(out))
	m.keepAlerts(out, ids)
	m.mu.Unlock()
	for i := range docs {
		m.deliver(ctx, ids[i], out[i], docs[i])
	}
	if err := m.saveAlerts(len(out) > 0); err != nil {
		m.log.Error("save alert states", "err", err, "code", errcode.Of(err))
	}
}

func (m *Monitor) nextID(det string) string {
	m.seq[det]++
	return fmt.Sprintf("%s-%d", det, m.seq[det])
}

// endLearning saves the learned baseline and switches to baseline
// detections. Called with mu held.
func (m *Monitor) endLearning() {
	m.base = m.learner.Baseline()
	m.learner = nil
	m.stats.Learning = false
	if m.opts.DataDir != "" {
		p := filepath.Join(m.opts.DataDir, "monitor", "baseline.json")
		err := os.MkdirAll(filepath.Dir(p), 0o750)
		if err == nil {
			err = m.base.Save(p)
		}
		if err != nil {
			m.log.Error("save learned baseline", "err", err, "code", errcode.MonitorBaseline)
		} else {
			m.log.Info("learned baseline saved", "file", p, "connections", len(m.base.Connections))
		}
	}
	// The same engine goes on with the baseline: its scan windows and
	// returned alerts are kept.
	if err := m.eng.SetBaseline(m.base); err != nil {
		m.log.Error("use learned baseline", "err", err, "code", errcode.MonitorBaseline)
	}
	m.log.Info("network monitor learning ended: baseline detections on")
}

func (m *Monitor) deliver(ctx context.Context, id string, a *detect.Alert, doc []byte) {
	m.log.Warn("network alert", "id", id, "title", a.Title, "severity", a.Severity, "proto", a.Proto)
	if nc := m.opts.Bus; nc != nil {
		if err := nc.Publish(AlertSubject, doc); err != nil {
			m.log.Error("publish alert", "id", id, "err", err, "code", errcode.MonitorPublish)
		}
	}
	if m.opts.Audit != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		e := integrity.Entry{Kind: integrity.KindAudit, Actor: Actor, Action: "alert", Object: id, Detail: sha256.Sum256(doc)}
		if err := m.opts.Audit(actx, e); err != nil {
			m.log.Error("audit alert", "id", id, "err", err, "code", errcode.MonitorPublish)
		}
	}
}

// Stats returns a snapshot of the counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Protos = make(map[string]ProtoCount, len(m.stats.Protos))
	for k, v := range m.stats.Protos {
		s.Protos[k] = v
	}
	s.Drops = 0
	for _, d := range m.drops {
		s.Drops += d
	}
	s.Assets = m.inv.Len()
	s.Detect = m.eng.Stats()
	return s
}

// Close stops the capture, evaluates once more and releases the
// interfaces. It waits at most a few seconds.
func (m *Monitor) Close() error {
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(closeWait):
		err = errcode.New(errcode.MonitorStart, "network monitor did not stop in time")
	}
	for _, s := range m.srcs {
		s.Close()
	}
	if serr := m.saveAlerts(true); serr != nil && err == nil {
		err = serr
	}
	return err
}

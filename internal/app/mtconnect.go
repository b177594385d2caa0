package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/mtconnect" // registers the "mtconnect" driver
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/mtconnect/agent"
	"github.com/otlink/otlink/internal/web"
)

func init() { services = append(services, startMTConnect) }

// mtconnectService is otlink's MTConnect agent: the served machines'
// samples come from the bus (a plain, non-durable subscription: an agent's
// buffer is in memory and starts anew with each instance), the initial
// values from the engine's snapshot, and each device's AVAILABILITY from
// the engine's connection state.
type mtconnectService struct {
	ag     *agent.Agent
	srv    *http.Server
	sub    *nats.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
	addr   string
}

func startMTConnect(ctx context.Context, a *App, cfg *config.Config, _ *web.Options) (stopper, error) {
	mc := cfg.MTConnect
	if !mc.Enabled {
		return nil, nil
	}
	plant := agent.FromConfig(cfg, mc.Devices)
	ag, err := agent.New(plant.Devices, agent.Options{BufferSize: mc.Buffer(), InstanceID: uint64(time.Now().Unix()), Logger: a.log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", mc.ListenAddr())
	if err != nil {
		return nil, errcode.Wrap(errcode.MTConnectListen, err, "mtconnect agent listen on %s", mc.ListenAddr())
	}
	s := &mtconnectService{ag: ag, addr: ln.Addr().String(),
		srv: &http.Server{Handler: ag, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}}

	// Subscribe before the snapshot, so that nothing published between
	// the two is lost; a sample older than the snapshot may then repeat,
	// which the agent drops as an unchanged value.
	var mu sync.Mutex
	dec := bus.NewDecoder()
	var batch model.Batch
	var ups []agent.Update
	feed := func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if err := dec.Decode(m.Data, &batch); err != nil {
			a.log.Warn("mtconnect agent skipped a batch", "code", errcode.Of(err).String(), "err", err)
			return
		}
		ups = ups[:0]
		for i := range batch.Samples {
			if u, ok := plant.Update(&batch.Samples[i]); ok {
				ups = append(ups, u)
			}
		}
		if len(ups) > 0 {
			_ = ag.Add(ups...)
		}
	}
	if a.bus != nil {
		sub, err := a.bus.Conn().Subscribe(bus.SamplesSubject, feed)
		if err != nil {
			ln.Close()
			return nil, errcode.Wrap(errcode.BusConsumeFailed, err, "mtconnect agent subscribe to samples")
		}
		_ = sub.SetPendingLimits(1<<16, 256<<20)
		s.sub = sub
	}
	if a.engine != nil {
		mu.Lock()
		for _, tv := range a.engine.Snapshot() {
			smp := model.Sample{Tag: tv.Path, Value: tv.Value, Quality: tv.Quality, Source: tv.Time}
			if u, ok := plant.Update(&smp); ok && tv.Time != 0 {
				_ = ag.Add(u)
			}
		}
		mu.Unlock()
	}
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("mtconnect agent stopped", "code", errcode.MTConnectListen.String(), "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.availability(rctx, a, plant)
	}()
	a.log.Info("mtconnect agent listening", "addr", s.addr, "devices", len(plant.Devices))
	return s, nil
}

// availability sets each device's AVAILABILITY from whether the engine is
// connected to the otlink devices that feed it.
func (s *mtconnectService) availability(ctx context.Context, a *App, p *agent.Plant) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if a.engine != nil {
			var ups []agent.Update
			up := map[string]bool{}
			for _, h := range a.engine.Health() {
				up[h.Name] = h.Connected
			}
			// A machine fed by several devices is available while any is.
			state := map[string]bool{}
			for dev, ids := range p.Availability {
				for _, id := range ids {
					state[id] = state[id] || up[dev]
				}
			}
			for id, ok := range state {
				v := "UNAVAILABLE"
				if ok {
					v = "AVAILABLE"
				}
				ups = append(ups, agent.Update{ID: id, Value: v})
			}
			_ = s.ag.Add(ups...)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (s *mtconnectService) Stop(ctx context.Context) error {
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
	}
	s.cancel()
	s.ag.Close()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return errcode.Wrap(errcode.MTConnectListen, err, "stop mtconnect agent")
	}
	return nil
}

package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	northmqtt "github.com/otlink/otlink/internal/north/mqtt"
	"github.com/otlink/otlink/internal/web"
)

func init() { services = append(services, startNorth) }

// NorthDurable is the durable bus consumer of the north publisher name:
// each publisher resumes where it stopped, independently of the others
// and of the historian.
func NorthDurable(name string) string { return "north-" + name }

// NorthOptions turns a north config entry into publisher options: the
// password is read from its file or environment variable here, and the
// queue lies in the data folder unless the entry names one.
func NorthOptions(n config.North, dataDir string, log *slog.Logger) (northmqtt.Options, error) {
	o := northmqtt.Options{
		Broker: n.Broker, ClientID: n.ClientID, Username: n.Username,
		CAFile: n.TLS.CA, CertFile: n.TLS.Cert, KeyFile: n.TLS.Key,
		Sparkplug: n.Mode == config.NorthSparkplug, TopicPrefix: n.TopicPrefix, Group: n.Group, EdgeNode: n.EdgeNode,
		QueueDir: n.QueueDir(dataDir), Logger: log,
	}
	mb := n.QueueMaxMB
	if mb == 0 {
		mb = config.DefaultNorthQueueMB
	}
	o.MaxQueueBytes = int64(mb) << 20
	if o.ClientID == "" && !o.Sparkplug {
		o.ClientID = "otlink-north-" + n.Name
	}
	switch {
	case n.PasswordFile != "":
		b, err := os.ReadFile(n.PasswordFile)
		if err != nil {
			return o, errcode.Wrap(errcode.NorthBadOptions, err, "north %s: read password_file", n.Name)
		}
		o.Password = strings.TrimRight(string(b), "\r\n")
	case n.PasswordEnv != "":
		v, ok := os.LookupEnv(n.PasswordEnv)
		if !ok {
			return o, errcode.New(errcode.NorthBadOptions, "north %s: environment variable %s (password_env) is not set", n.Name, n.PasswordEnv)
		}
		o.Password = v
	}
	return o, nil
}

// northService runs one publisher per north entry, each fed by its own
// durable consumer: a batch is acknowledged on the bus once it is in the
// publisher's disk queue, so an otlink restart loses nothing, and while
// the queue is full the bus keeps the batches (the consumer retries).
type northService struct {
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pubs   []*northmqtt.Publisher
}

func startNorth(ctx context.Context, a *App, cfg *config.Config, _ *web.Options) (stopper, error) {
	if len(cfg.North) == 0 {
		return nil, nil
	}
	cctx, cancel := context.WithCancel(context.Background())
	s := &northService{log: a.log, cancel: cancel}
	for _, n := range cfg.North {
		o, err := NorthOptions(n, cfg.Data, a.log.With("north", n.Name))
		if err == nil {
			var p *northmqtt.Publisher
			if p, err = northmqtt.New(o); err == nil {
				if err = p.Start(ctx); err == nil {
					s.pubs = append(s.pubs, p)
					s.wg.Add(1)
					go s.consume(cctx, a, n, p)
				}
			}
		}
		if err != nil {
			s.Stop(context.Background())
			return nil, errcode.Wrap(errcode.Of(err), err, "start north %s", n.Name)
		}
		a.log.Info("north publisher started", "north", n.Name, "broker", n.Broker, "mode", n.Mode)
	}
	return s, nil
}

func (s *northService) consume(ctx context.Context, a *App, n config.North, p *northmqtt.Publisher) {
	defer s.wg.Done()
	f := newTagFilter(n)
	var out model.Batch
	fn := func(b *model.Batch) error {
		out = model.Batch{Device: b.Device, Class: b.Class, Seq: b.Seq, Start: b.Start, End: b.End, Missed: b.Missed, Samples: out.Samples[:0]}
		for i := range b.Samples {
			if f.match(b.Samples[i].Tag) {
				out.Samples = append(out.Samples, b.Samples[i])
			}
		}
		return p.Publish(ctx, &out)
	}
	for ctx.Err() == nil {
		err := a.bus.ConsumeSamples(ctx, NorthDurable(n.Name), fn)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.log.Error("north consumer stopped, restarting", "north", n.Name, "code", errcode.Of(err).String(), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// tagFilter caches the glob decisions per tag path: path.Match for every
// sample of every batch would cost more than the publish.
type tagFilter struct {
	n     config.North
	all   bool
	cache map[string]bool
}

func newTagFilter(n config.North) *tagFilter {
	return &tagFilter{n: n, all: len(n.Tags) == 0, cache: map[string]bool{}}
}

func (f *tagFilter) match(tag string) bool {
	if f.all {
		return true
	}
	if m, ok := f.cache[tag]; ok {
		return m
	}
	m := f.n.Matches(tag)
	if len(f.cache) < 1<<20 {
		f.cache[tag] = m
	}
	return m
}

// Stop stops the consumers, then the publishers; what they have queued
// but not sent stays on disk for the next start.
func (s *northService) Stop(context.Context) error {
	s.cancel()
	s.wg.Wait()
	var errs []error
	for _, p := range s.pubs {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

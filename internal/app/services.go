package app

import (
	"context"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/web"
)

// A service is an optional part of otlink that runs beside the engine:
// northbound publishers, the OPC UA server, the MTConnect agent. Each
// lives in its own file and registers its starter in services from an
// init function, so that adding one does not edit Start.
//
// A starter reads its section of cfg and returns nil, nil when that
// section is off. It may set fields of wopts (e.g. web.Options.Writes).
// Services start after the bus, the engine, the historian, auth and the
// monitor exist (a.bus, a.engine, a.hist, a.auth), before the HTTP server;
// they stop after the engine, before the bus flushes.
type starter func(ctx context.Context, a *App, cfg *config.Config, wopts *web.Options) (stopper, error)

type stopper interface {
	Stop(ctx context.Context) error
}

var services []starter

func (a *App) startServices(ctx context.Context, cfg *config.Config, wopts *web.Options) error {
	for _, start := range services {
		s, err := start(ctx, a, cfg, wopts)
		if err != nil {
			a.stopServices(context.Background())
			return err
		}
		if s != nil {
			a.extras = append(a.extras, s)
		}
	}
	return nil
}

func (a *App) stopServices(ctx context.Context) []error {
	var errs []error
	for i := len(a.extras) - 1; i >= 0; i-- {
		if err := a.extras[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	a.extras = nil
	return errs
}

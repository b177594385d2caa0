package app

import (
	"context"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/monitor"
	"github.com/otlink/otlink/internal/web"
)

// The war room (web.Security) reads the live monitor. The monitor starts
// before the services and stops in Stop (stopMonitor), so this service
// only wires it and has nothing to stop.
func init() { services = append(services, startSecurity) }

func startSecurity(_ context.Context, a *App, _ *config.Config, wopts *web.Options) (stopper, error) {
	if a.mon == nil {
		return nil, nil // monitor.interfaces is empty: the page says monitoring is off
	}
	wopts.Security = a.mon
	return nil, nil
}

// The monitor answers everything the war room asks.
var _ web.Security = (*monitor.Monitor)(nil)

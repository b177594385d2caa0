package app

import (
	"context"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver/opcua"
	"github.com/otlink/otlink/internal/web"
)

// The OPC UA client driver keeps otlink's application certificate and the
// trust list in DATA/pki; it learns where DATA is before the engine
// connects (services start before the engine runs).
func init() { services = append(services, startUAClient) }

func startUAClient(_ context.Context, _ *App, cfg *config.Config, _ *web.Options) (stopper, error) {
	opcua.SetDataDir(cfg.Data)
	return nil, nil
}

package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/web"
)

// Governed writes from the web UI and API: the web server asks this
// adapter which tags are writable (with their limits, from the config) and
// writes through acquire.Engine.Write, which applies the limits, the rate
// and the device's budget again.

func init() { services = append(services, startWrites) }

func startWrites(_ context.Context, a *App, cfg *config.Config, wopts *web.Options) (stopper, error) {
	// Installed even when no tag is writable yet: a reload may make one
	// writable (Reload refreshes the adapter), and until then every write
	// is refused as not writable.
	w := newEngineWrites(a.engine, cfg)
	a.writes = w
	wopts.Writes = w
	return nil, nil
}

// engineWrites adapts the engine and the config's writable tags to
// web.Writes.
type engineWrites struct {
	e    *acquire.Engine
	mu   sync.RWMutex
	tags map[string]web.WritableTag
}

func newEngineWrites(e *acquire.Engine, cfg *config.Config) *engineWrites {
	w := &engineWrites{e: e}
	w.update(cfg)
	return w
}

// update reads the writable tags of cfg; call it after a reload so that the
// write page shows the new limits (the engine enforces them either way).
func (w *engineWrites) update(cfg *config.Config) {
	tags := writableTags(cfg)
	w.mu.Lock()
	w.tags = tags
	w.mu.Unlock()
}

func (w *engineWrites) Writable(path string) (web.WritableTag, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	t, ok := w.tags[path]
	return t, ok
}

func (w *engineWrites) Write(ctx context.Context, path string, v model.Value) error {
	return w.e.Write(ctx, path, v)
}

var _ web.Writes = (*engineWrites)(nil)

// writableTags lists the tags marked writable with limits (the config
// validator requires limits on writable tags; one without is skipped here
// rather than written unbounded).
func writableTags(cfg *config.Config) map[string]web.WritableTag {
	out := map[string]web.WritableTag{}
	config.EachMachine(cfg, func(m *config.Machine, prefix []string) {
		for i := range m.Tags {
			t := &m.Tags[i]
			if !t.Writable || t.Limits == nil {
				continue
			}
			path := t.Path
			if path == "" { // a config built in code, without Defaults
				path = model.JoinPath(append(append(prefix[:len(prefix):len(prefix)], m.Name), t.Name)...)
			}
			typ, _ := model.ParseType(t.Type)
			out[path] = web.WritableTag{Path: path, Type: typ, Unit: t.Unit, Description: t.Description,
				Min: t.Limits.Min, Max: t.Limits.Max, MaxStep: t.Limits.MaxStep, MinInterval: t.Limits.MinInterval.D()}
		}
	})
	return out
}

// auditEngineWrite records every write attempt the engine sees, whatever
// asked for it (the web UI, the API, the OPC UA server): the device, the
// value in engineering units and as sent, and the refusal code. The web
// server records its own "tag.write" event with the user and the old
// value; this one is the device-side record. Wire it as
// acquire.Options.OnWrite.
func (a *App) auditEngineWrite(ctx context.Context, ev acquire.WriteEvent) {
	if a == nil || a.auth == nil {
		return
	}
	e := auth.Event{Time: ev.Time, Action: "device.write", Object: ev.Path, Outcome: auth.OutcomeOK,
		Detail: fmt.Sprintf("device=%s value=%s raw=%s", ev.Device, ev.Value, ev.Raw)}
	if !ev.Accepted {
		e.Outcome = auth.OutcomeFailed
		e.Detail += " " + ev.Code + " " + ev.Error
	}
	// The caller's principal (web, API) or actor (OPC UA) names who asked;
	// "engine" only when nobody did. The event outlives the request, so
	// it is not cancelled with it.
	actx := context.WithoutCancel(ctx)
	if auth.PrincipalFrom(ctx) == nil {
		if _, named := auth.ActorFrom(ctx); !named {
			actx = auth.WithActor(actx, "engine")
		}
	}
	if err := a.auth.Audit(actx, e); err != nil {
		a.log.Error("write audit event not stored", "tag", ev.Path, "device", ev.Device, "code", errcode.Of(err).String(), "err", err)
	}
}

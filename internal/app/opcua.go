package app

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/uaserver"
	"github.com/otlink/otlink/internal/uatrust"
	"github.com/otlink/otlink/internal/web"
)

func init() { services = append(services, startOPCUA) }

// startOPCUA serves the plant over OPC UA when opcua.enabled: values from
// the engine, governed writes through it, history from the historian,
// users and audit through auth, certificates from DATA/pki.
func startOPCUA(ctx context.Context, a *App, cfg *config.Config, _ *web.Options) (stopper, error) {
	if !cfg.OPCUA.Enabled {
		return nil, nil
	}
	pki, err := uatrust.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	opts := uaserver.Options{
		Config: cfg.OPCUA, Plant: cfg.Plant, Source: a.engine, Writer: a.engine,
		Users: authUsers{a.auth}, PKI: trustPKI{pki}, Logger: a.log,
		Audit: func(ctx context.Context, e uaserver.AuditEvent) {
			a.auth.Audit(ctx, auth.Event{Actor: e.Actor, Action: e.Action, Object: e.Object, Outcome: e.Outcome, IP: e.IP, Detail: e.Detail})
		},
	}
	if a.hist != nil && a.hist.Query != nil {
		opts.History = queryHistory{a.hist.Query}
	}
	s, err := uaserver.New(opts)
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return uaStopper{s}, nil
}

type uaStopper struct{ s *uaserver.Server }

func (u uaStopper) Stop(context.Context) error { return u.s.Close() }

// trustPKI adapts the certificate store of DATA/pki.
type trustPKI struct{ s *uatrust.Store }

func (p trustPKI) Own() ([]byte, *rsa.PrivateKey, error) {
	o, err := p.s.Own()
	if err != nil {
		return nil, nil, err
	}
	return o.DER, o.Key, nil
}

func (p trustPKI) Check(c *x509.Certificate) error { return p.s.Check(c) }

// authUsers logs OPC UA users in with their otlink password, or with one
// of their API tokens as the password. A user whose login needs a second
// factor, which OPC UA cannot carry, gets read-only access (tags.read and
// history.read as the account has them) within the account's scopes; a
// token carries its own permissions and scopes, and writes only where its
// scopes name the tag explicitly (auth.WriteScoped, as for the HTTP API),
// so a SCADA that must write logs in with a token made for it.
type authUsers struct{ s *auth.Service }

func (u authUsers) Login(ctx context.Context, name, password, ip string) (*uaserver.User, error) {
	ctx = auth.WithClientIP(ctx, ip)
	if strings.HasPrefix(password, auth.TokenPrefix) {
		return u.token(ctx, name, password)
	}
	res, err := u.s.Login(ctx, "", name, password)
	if err != nil {
		return nil, err
	}
	defer u.s.Logout(ctx, res.Secret) // OPC UA keeps its own session
	if res.Session.Stage != auth.StageFull {
		acct, err := u.s.User(ctx, name)
		if err != nil {
			return nil, err
		}
		perms, err := u.readPerms(ctx, acct.Roles)
		if err != nil {
			return nil, err
		}
		p := &auth.Principal{Name: name, Scopes: acct.Scopes, Perms: perms}
		return userOf(p), nil
	}
	p, err := u.s.Authenticate(ctx, res.Secret)
	if err != nil {
		return nil, err
	}
	return userOf(p), nil
}

// token logs in with an API token of the user name.
func (u authUsers) token(ctx context.Context, name, secret string) (*uaserver.User, error) {
	p, err := u.s.AuthenticateToken(ctx, secret)
	if err == nil && p.Name != name {
		err = errcode.New(errcode.UAServerAuth, "api token of another user")
	}
	ctx = auth.WithActor(ctx, name)
	if err != nil {
		u.s.Audit(ctx, auth.Event{Action: "login", Object: "user/" + name, Outcome: auth.OutcomeFailed, Detail: "opcua token: " + err.Error()})
		return nil, err
	}
	u.s.Audit(ctx, auth.Event{Action: "login", Object: "user/" + name, Outcome: auth.OutcomeOK, Detail: "opcua token"})
	return userOf(p), nil
}

// readPerms returns the read permissions the roles give.
func (u authUsers) readPerms(ctx context.Context, roles []string) ([]string, error) {
	all, err := u.s.Roles(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range all {
		if !slices.Contains(roles, r.Name) {
			continue
		}
		for _, p := range r.Perms {
			if (p == auth.PermTagsRead || p == auth.PermHistoryRead) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func userOf(p *auth.Principal) *uaserver.User {
	read := func(path string) bool {
		if auth.Allowed(p, auth.PermTagsRead, path) {
			return true
		}
		// The folders above a scope are browsable, so a user scoped to a
		// line can find it from the Objects folder.
		if !p.Has(auth.PermTagsRead) {
			return false
		}
		scopes := p.Scopes
		if p.TokenID != 0 { // a token reads within its own scopes
			scopes = p.TokenScopes
		}
		for _, s := range scopes {
			if strings.HasPrefix(s, path+"/") {
				return true
			}
		}
		return false
	}
	return &uaserver.User{Name: p.Name, Read: read,
		Write:   func(path string) bool { return auth.Allowed(p, auth.PermTagsWrite, path) && auth.WriteScoped(p, path) },
		History: func(path string) bool { return auth.Allowed(p, auth.PermHistoryRead, path) }}
}

// queryHistory reads raw samples through the historian's query engine.
type queryHistory struct{ q *query.Engine }

func (h queryHistory) ReadRaw(ctx context.Context, tag string, from, to time.Time, limit int, cursor string) ([]uaserver.HistoryPoint, string, error) {
	req := query.RawRequest{Tags: []string{tag}, Limit: limit, Cursor: cursor}
	if cursor == "" {
		req.From, req.To = from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano)
	}
	resp, err := h.q.Raw(ctx, req)
	if err != nil {
		return nil, "", err
	}
	var out []uaserver.HistoryPoint
	for _, s := range resp.Series {
		if s.Tag != tag {
			continue
		}
		for _, p := range s.Points {
			out = append(out, uaserver.HistoryPoint{Time: p.Time, Value: p.Value, Quality: p.Quality.Quality()})
		}
	}
	return out, resp.NextCursor, nil
}

package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
)

// Access is how a route is guarded.
type Access int

const (
	// Public routes need no login: health, the login and setup pages,
	// static files.
	Public Access = iota
	// plantWide routes need the permission over the whole plant (scope *).
	plantWide
	// anyScope routes need the permission somewhere; the handler filters
	// what it shows by the principal's scopes.
	anyScope
	// page is anyScope for HTML pages: without a login the browser is sent
	// to /login instead of a JSON 401.
	page
)

// route is one registration on the mux. Every route of the server is in
// the list allRoutes returns, which New registers and the route test walks,
// so a route cannot be added without a permission or escape the test.
type route struct {
	Pattern string // method and path, as http.ServeMux reads them
	Perm    string // the permission needed; "" only for Public
	Access  Access
	Handler http.HandlerFunc
}

// RouteInfo describes a route for tests and documentation.
type RouteInfo struct {
	Pattern string
	Perm    string
	Public  bool
	Page    bool
}

// Routes lists every route the server registers.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{Pattern: r.Pattern, Perm: r.Perm, Public: r.Access == Public, Page: r.Access == page}
	}
	return out
}

func (s *Server) allRoutes() []route {
	metrics := promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{})
	rs := []route{
		{"GET /healthz", "", Public, s.healthz},
		// Metrics name devices and count their errors: security
		// monitoring's data. A Prometheus scraper gets a token with
		// security.read only.
		{"GET /metrics", auth.PermSecurityRead, plantWide, metrics.ServeHTTP},
		{"GET /api/v1/tags", auth.PermTagsRead, anyScope, s.tags},
		// Devices serve several machines: plant-wide.
		{"GET /api/v1/devices", auth.PermTagsRead, plantWide, s.devices},
		// Scoped like /api/v1/tags: the stream filters on every poll.
		{"GET /api/v1/events/tags", auth.PermTagsRead, anyScope, s.tagEvents},
		// The document lists routes, not data; any reader may fetch it,
		// an anonymous scanner may not.
		{"GET /api/v1/openapi.json", auth.PermTagsRead, anyScope, s.openAPI},
	}
	rs = append(rs, s.historyRoutes()...)
	// Each group of pages and its API lives in its own file.
	rs = append(rs, s.plantRoutes()...)    // plant.go: plant tree, device health, trends
	rs = append(rs, s.adminRoutes()...)    // admin.go: audit, users, tokens, security keys
	rs = append(rs, s.loginKeyRoutes()...) // admin.go: the security key as second factor at login
	rs = append(rs, s.writeRoutes()...)    // write.go: governed writes with step-up
	rs = append(rs, s.securityRoutes()...) // warroom.go: network monitoring, alerts
	return append(rs, s.pageRoutes()...)
}

// guard wraps a route's handler with its permission check.
func (s *Server) guard(rt route) http.Handler {
	switch rt.Access {
	case Public:
		return rt.Handler
	case plantWide:
		return httpauth.Require(rt.Perm, rt.Handler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		if p == nil {
			if rt.Access == page {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			httpauth.WriteError(w, errcode.New(errcode.AuthUnauthenticated, "log in or send a bearer token"))
			return
		}
		if !p.Has(rt.Perm) {
			httpauth.WriteError(w, errcode.New(errcode.AuthForbidden, "%s may not %s anywhere", p.Name, rt.Perm))
			return
		}
		rt.Handler(w, r)
	})
}

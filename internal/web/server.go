package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Tag is the current value of one tag as the API shows it.
type Tag struct {
	Path    string        `json:"path"`
	Value   model.Value   `json:"value"`
	Quality model.Quality `json:"quality"`
	Time    time.Time     `json:"time"`
	Unit    string        `json:"unit,omitempty"`
	Code    string        `json:"code,omitempty"` // OTL code explaining a bad quality
}

// Source is what the server shows. Devices returns any JSON-encodable
// value: the engine's health records.
type Source interface {
	Tags() []Tag
	Devices() any
}

// Options configure a Server.
type Options struct {
	Listen   string
	Source   Source
	Registry *prometheus.Registry // served on /metrics; nil = a fresh one
	Logger   *slog.Logger
	// History answers /api/v1/history/...; nil: the historian is off.
	History History
	// Integrity answers /api/v1/integrity...; nil: no integrity log.
	Integrity Integrity
	// Writes performs governed writes from the UI and the API (write.go);
	// nil: no tag can be written here.
	Writes Writes
	// Security is live network monitoring (warroom.go); nil: the monitor
	// is off.
	Security Security
	// Auth authenticates and authorises every request. Without it every
	// protected route answers 401: nothing is served unauthenticated.
	Auth *auth.Service
	// TLS serves HTTPS with these settings; nil serves plain HTTP, which
	// Start allows only on loopback.
	TLS *tls.Config
}

// Server is the HTTP server. New does no I/O; Start listens.
type Server struct {
	opts    Options
	srv     *http.Server
	ln      net.Listener
	started time.Time
	routes  []route

	// Live event streams: their bound, their timing (tests shorten it)
	// and quit, closed at Shutdown so that streams end instead of holding
	// Shutdown until its deadline.
	streams          streamLimit
	ssePoll, sseBeat time.Duration
	quit             chan struct{}

	tc tagCache // the shared, pre-encoded snapshot of the tags (events.go)
}

// New returns a server for opts.
func New(opts Options) *Server {
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, streams: make(streamLimit, maxStreams), ssePoll: ssePoll, sseBeat: sseHeartbeat, quit: make(chan struct{})}
	mux := http.NewServeMux()
	s.routes = s.allRoutes()
	for _, rt := range s.routes {
		mux.Handle(rt.Pattern, s.guard(rt))
	}
	mux.HandleFunc("/", s.notFound)
	var h http.Handler = mux
	if opts.Auth != nil {
		h = httpauth.Middleware{Svc: opts.Auth}.Wrap(h)
	}
	s.srv = &http.Server{
		Handler:           s.securityHeaders(h),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		TLSConfig:         opts.TLS,
		// TLS handshake failures of browsers that do not yet trust the
		// local CA would flood the log.
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	s.srv.RegisterOnShutdown(func() { close(s.quit) })
	return s
}

// CheckLoopback refuses addresses other than loopback: plain HTTP must not
// carry passwords and tokens across the network.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errcode.Wrap(errcode.HTTPListen, err, "listen address %q", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errcode.New(errcode.HTTPNotLoopback, "refusing plain http on %q: only loopback, or serve https", addr)
	}
	return nil
}

// Start listens and serves in the background: HTTPS with Options.TLS, or
// plain HTTP on loopback only.
func (s *Server) Start() error {
	if s.opts.TLS == nil {
		if err := CheckLoopback(s.opts.Listen); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return errcode.Wrap(errcode.HTTPListen, err, "listen on %s", s.opts.Listen)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.ln = ln
	s.started = time.Now()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.opts.Listen
	}
	return s.ln.Addr().String()
}

// URL returns the base URL of the server, with 127.0.0.1 for an
// unspecified address.
func (s *Server) URL() string {
	scheme := "https://"
	if s.opts.TLS == nil {
		scheme = "http://"
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return scheme + s.Addr()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status":     "ok",
		"uptime_sec": int64(time.Since(s.started).Seconds()),
	})
}

// visibleTags are the tags the request's principal may read: a scoped
// principal sees only its parts of the plant. They come from the shared
// snapshot, read from the source after the request arrived.
func (s *Server) visibleTags(r *http.Request) []Tag {
	sn := s.snapshot(time.Now())
	v := newViewer(r, "")
	if v.all {
		return slices.Clone(sn.tags)
	}
	out := sn.tags[:0:0]
	for _, t := range sn.tags {
		if v.sees(t.Path) {
			out = append(out, t)
		}
	}
	return out
}

// maxTagsPage bounds ?limit= of /api/v1/tags.
const maxTagsPage = 10000

// tags answers /api/v1/tags: {"tags":[...]} of the tags the principal may
// read under ?prefix=, in the source's order. With ?limit= (1..10000) it
// answers one page in path order and "next", the path of the page's last
// tag, while more follow; ?after=NEXT gives the following page. The tags
// come pre-encoded from the shared snapshot: a request encodes nothing.
func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := newViewer(r, q.Get("prefix"))
	limit, after := q.Get("limit"), q.Get("after")
	n := 0
	if limit != "" || after != "" {
		var err error
		if n, err = strconv.Atoi(limit); limit == "" || err != nil || n < 1 || n > maxTagsPage {
			writeError(w, http.StatusBadRequest, errcode.New(errcode.APIBadRequest, "limit=%q: give a page size from 1 to %d with after", limit, maxTagsPage))
			return
		}
	}
	sn := s.snapshot(time.Now())
	w.Header().Set("Content-Type", "application/json")
	if n == 0 {
		b := sn.event(v, 0)
		if b == nil {
			b = []byte("[]")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"tags":`)
		_, _ = w.Write(b)
		_, _ = io.WriteString(w, "}\n")
		return
	}
	start, _ := slices.BinarySearchFunc(sn.byPath, after, func(i int32, p string) int { return strings.Compare(sn.tags[i].Path, p) })
	if start < len(sn.byPath) && sn.tags[sn.byPath[start]].Path == after {
		start++
	}
	b := make([]byte, 0, 160*n)
	b = append(b, `{"tags":[`...)
	got, last := 0, ""
	for _, i := range sn.byPath[start:] {
		if got == n {
			break
		}
		if !v.sees(sn.tags[i].Path) {
			continue
		}
		if got > 0 {
			b = append(b, ',')
		}
		b = append(b, sn.json[i]...)
		got++
		last = sn.tags[i].Path
	}
	b = append(b, ']')
	if got == n && s.morePaged(sn, v, last) {
		nb, _ := json.Marshal(last)
		b = append(append(b, `,"next":`...), nb...)
	}
	b = append(b, "}\n"...)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// morePaged reports whether v sees a tag after path in path order.
func (s *Server) morePaged(sn *tagSnap, v viewer, path string) bool {
	start, found := slices.BinarySearchFunc(sn.byPath, path, func(i int32, p string) int { return strings.Compare(sn.tags[i].Path, p) })
	if found {
		start++
	}
	for _, i := range sn.byPath[start:] {
		if v.sees(sn.tags[i].Path) {
			return true
		}
	}
	return false
}

func (s *Server) devices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"devices": s.opts.Source.Devices()})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, errcode.New(errcode.APINotFound, "no route %s %s", r.Method, r.URL.Path))
}

// audit records an event of the application (exports, witnesses) with the
// request's principal as actor.
func (s *Server) audit(r *http.Request, e auth.Event) {
	if s.opts.Auth == nil {
		return
	}
	ctx := r.Context()
	if p := auth.PrincipalFrom(ctx); p != nil {
		ctx = auth.WithActor(ctx, p.Name)
	}
	if err := s.opts.Auth.Audit(ctx, e); err != nil {
		s.opts.Logger.Error("audit event not stored", "code", errcode.Of(err).String(), "err", err)
	}
}

// writeError writes {"code":"OTL-nnnn","message":...}.
func writeError(w http.ResponseWriter, status int, err error) {
	code := errcode.Of(err)
	if code == 0 {
		code = errcode.Internal
	}
	writeJSON(w, status, map[string]any{"code": code.String(), "message": err.Error(), "hint": errcode.Hint(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// csp allows only the app's own scripts, styles, images and connections
// (the live stream and the trend fetch); data: images
// carry the TOTP enrolment QR code, which must not be stored to be served.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", csp)
		hd.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// Handler returns the server's handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

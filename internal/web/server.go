package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
}

// Server is the HTTP server. New does no I/O; Start listens.
type Server struct {
	opts    Options
	srv     *http.Server
	ln      net.Listener
	started time.Time
}

// New returns a server for opts.
func New(opts Options) *Server {
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/tags", s.tags)
	mux.HandleFunc("GET /api/v1/devices", s.devices)
	s.historyRoutes(mux)
	mux.HandleFunc("/", s.notFound)
	s.srv = &http.Server{
		Handler:           securityHeaders(mux),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s
}

// CheckLoopback refuses addresses other than loopback: until authentication
// exists, nothing may be served to the network.
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
		return errcode.New(errcode.HTTPNotLoopback, "refusing to listen on %q: only loopback until authentication is enabled", addr)
	}
	return nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	if err := CheckLoopback(s.opts.Listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return errcode.Wrap(errcode.HTTPListen, err, "listen on %s", s.opts.Listen)
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

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status":     "ok",
		"uptime_sec": int64(time.Since(s.started).Seconds()),
	})
}

func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	tags := s.opts.Source.Tags()
	if p := r.URL.Query().Get("prefix"); p != "" {
		out := tags[:0:0]
		for _, t := range tags {
			if strings.HasPrefix(t.Path, p) {
				out = append(out, t)
			}
		}
		tags = out
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (s *Server) devices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"devices": s.opts.Source.Devices()})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, errcode.New(errcode.APINotFound, "no route %s %s", r.Method, r.URL.Path))
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

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// Handler returns the server's handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

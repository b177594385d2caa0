package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/integrity"
)

// History is what the history routes need; *query.Engine is one.
type History interface {
	Raw(ctx context.Context, req query.RawRequest) (*query.RawResponse, error)
	At(ctx context.Context, req query.AtRequest) (*query.AtResponse, error)
	Aggregate(ctx context.Context, req query.AggRequest) (*query.AggResponse, error)
	Plot(ctx context.Context, req query.PlotRequest) (*query.PlotResponse, error)
	Latest(ctx context.Context, req query.LatestRequest) (*query.LatestResponse, error)
}

// Integrity is what the integrity routes need. Verify must re-read the
// chunks (set VerifyOptions.Recompute) itself.
type Integrity interface {
	Verify(ctx context.Context, opts integrity.VerifyOptions) (*integrity.Report, error)
	ExportCheckpoint(ctx context.Context, w io.Writer) error
	WriteBundle(ctx context.Context, w io.Writer, sel integrity.Selection) error
	// Witness verifies a signed checkpoint of another log (or of this one)
	// with the given verifier keys and anchors it in this log.
	Witness(ctx context.Context, signed []byte, keys ...string) (integrity.Checkpoint, error)
}

// maxBody bounds a POSTed query.
const maxBody = 1 << 20

// historyRoutes are the history and integrity routes with the permission
// each needs. History queries and exports are anyScope: a principal with
// the permission on a part of the plant queries the tags under its scopes
// only (scopeTags); integrity verification covers the whole log and stays
// plant-wide.
func (s *Server) historyRoutes() []route {
	var rs []route
	for _, m := range []string{"GET", "POST"} {
		rs = append(rs,
			route{m + " /api/v1/history/raw", auth.PermHistoryRead, anyScope, historyRoute(s, rawReq, func(r *query.RawRequest) *[]string { return &r.Tags }, History.Raw)},
			route{m + " /api/v1/history/at", auth.PermHistoryRead, anyScope, historyRoute(s, atReq, func(r *query.AtRequest) *[]string { return &r.Tags }, History.At)},
			route{m + " /api/v1/history/aggregate", auth.PermHistoryRead, anyScope, historyRoute(s, aggReq, func(r *query.AggRequest) *[]string { return &r.Tags }, History.Aggregate)},
			route{m + " /api/v1/history/plot", auth.PermHistoryRead, anyScope, historyRoute(s, plotReq, func(r *query.PlotRequest) *[]string { return &r.Tags }, History.Plot)},
			route{m + " /api/v1/history/latest", auth.PermHistoryRead, anyScope, historyRoute(s, latestReq, func(r *query.LatestRequest) *[]string { return &r.Tags }, History.Latest)})
	}
	return append(rs,
		route{"GET /api/v1/integrity", auth.PermIntegrityRead, plantWide, s.integrity},
		route{"GET /api/v1/integrity/checkpoint", auth.PermIntegrityRead, plantWide, s.checkpoint},
		// A bundle carries the samples themselves: an export, scoped by
		// its tag pattern (scopeGlob).
		route{"GET /api/v1/integrity/bundle", auth.PermHistoryExport, anyScope, s.bundle},
		// Anchoring another log's checkpoint writes to this node's
		// evidence: an engineer's or administrator's act.
		route{"POST /api/v1/integrity/witness", auth.PermIntegrityWrite, plantWide, s.witness})
}

// historyRoute decodes a request from the URL (GET) or the JSON body
// (POST), narrows its tags to the principal's scopes, runs it and writes
// the response or a coded error.
func historyRoute[Req, Resp any](s *Server, fromQuery func(url.Values) (Req, error), tags func(*Req) *[]string, run func(History, context.Context, Req) (*Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.History == nil {
			writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.APIHistoryOff, "the historian is off"))
			return
		}
		var req Req
		var err error
		if r.Method == http.MethodPost {
			dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&req); derr != nil {
				err = errcode.Wrap(errcode.APIBadRequest, derr, "decode request body")
			}
		} else {
			req, err = fromQuery(r.URL.Query())
		}
		if err == nil {
			tp := tags(&req)
			*tp, err = s.scopeTags(r.Context(), auth.PermHistoryRead, *tp)
		}
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		resp, err := run(s.opts.History, r.Context(), req)
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// tagResolver expands tag patterns; *query.Engine is one. Without it a
// scoped principal's pattern must start with one of its scopes.
type tagResolver interface {
	Tags(ctx context.Context, names []string) ([]string, error)
}

// isPattern reports whether a history tag name is a path.Match pattern.
func isPattern(n string) bool { return strings.ContainsAny(n, "*?[\\") }

// scopeTags narrows the tag names and patterns of a history request to
// the principal's scopes. Plant-wide principals keep the request as it is.
// For a scoped one a plain name outside its scopes makes the request not
// found (404, as the machine page: a scope does not reveal whether the rest
// of the plant has such a tag), and patterns are expanded and keep only the
// tags it may read; nothing left is not found too.
func (s *Server) scopeTags(ctx context.Context, perm string, names []string) ([]string, error) {
	p := auth.PrincipalFrom(ctx)
	if auth.Allowed(p, perm, "") {
		return names, nil
	}
	notFound := errcode.New(errcode.APINotFound, "no tags %q in your part of the plant", names)
	res, _ := s.opts.History.(tagResolver)
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case !isPattern(n):
			if !auth.Allowed(p, perm, n) {
				return nil, notFound
			}
			out = append(out, n)
		case res != nil:
			ts, err := res.Tags(ctx, []string{n})
			if err != nil {
				if errcode.Of(err) == errcode.QueryTags {
					continue // matched nothing: as if it matched nothing here
				}
				return nil, err
			}
			for _, t := range ts {
				if auth.Allowed(p, perm, t) {
					out = append(out, t)
				}
			}
		case scopeGlob(p, perm, n):
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, notFound
	}
	return out, nil
}

// scopeGlob reports whether every tag pattern g can match lies under one
// of p's scopes: g's leading segments without pattern characters name a
// path p may read (path.Match's * and ? do not cross a /). The empty
// pattern selects the whole plant.
func scopeGlob(p *auth.Principal, perm, g string) bool {
	if auth.Allowed(p, perm, "") {
		return true
	}
	var lit []string
	for _, seg := range strings.Split(strings.Trim(g, "/"), "/") {
		if isPattern(seg) {
			break
		}
		lit = append(lit, seg)
	}
	return len(lit) > 0 && auth.Allowed(p, perm, strings.Join(lit, "/"))
}

// statusOf maps a coded error to its HTTP status: the query's request
// errors (5200–5207) and bad API requests are 400, a historian that is
// off 503, anything else (5208 read errors) 500.
func statusOf(err error) int {
	c := errcode.Of(err)
	switch {
	case c >= errcode.QueryTime && c <= errcode.QueryArg, c == errcode.APIBadRequest:
		return http.StatusBadRequest
	case c == errcode.APIHistoryOff:
		return http.StatusServiceUnavailable
	case c == errcode.APINotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// tagsOf reads tags given comma separated, repeated, or both.
func tagsOf(q url.Values) []string {
	var out []string
	for _, v := range q["tags"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func listOf(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// params reads typed parameters, keeping the first error.
type params struct {
	q   url.Values
	err error
}

func (p *params) int(name string) int {
	v := p.q.Get(name)
	if v == "" || p.err != nil {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.err = errcode.New(errcode.QueryArg, "parameter %s=%q is not an integer", name, v)
	}
	return n
}

func (p *params) float(name string) float64 {
	v := p.q.Get(name)
	if v == "" || p.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.err = errcode.New(errcode.QueryArg, "parameter %s=%q is not a number", name, v)
	}
	return f
}

func (p *params) bool(name string) bool {
	v, ok := p.q[name]
	if !ok || p.err != nil {
		return false
	}
	if len(v) == 0 || v[0] == "" {
		return true // ?stepped
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		p.err = errcode.New(errcode.QueryArg, "parameter %s=%q is not true or false", name, v[0])
	}
	return b
}

func rawReq(q url.Values) (query.RawRequest, error) {
	p := params{q: q}
	r := query.RawRequest{Tags: tagsOf(q), From: q.Get("from"), To: q.Get("to"), Limit: p.int("limit"), Quality: q.Get("quality"), Cursor: q.Get("cursor")}
	return r, p.err
}

func atReq(q url.Values) (query.AtRequest, error) {
	return query.AtRequest{Tags: tagsOf(q), Time: q.Get("time"), Mode: q.Get("mode")}, nil
}

func aggReq(q url.Values) (query.AggRequest, error) {
	p := params{q: q}
	r := query.AggRequest{Tags: tagsOf(q), From: q.Get("from"), To: q.Get("to"), Interval: q.Get("interval"), Buckets: p.int("buckets"),
		Aggregates: listOf(q.Get("aggregates")),
		AggOptions: query.AggOptions{TreatUncertainAsBad: p.bool("treat_uncertain_as_bad"), PercentGood: p.float("percent_good"),
			PercentBad: p.float("percent_bad"), Stepped: p.bool("stepped")}}
	return r, p.err
}

func plotReq(q url.Values) (query.PlotRequest, error) {
	p := params{q: q}
	r := query.PlotRequest{Tags: tagsOf(q), From: q.Get("from"), To: q.Get("to"), Width: p.int("width"), Method: q.Get("method")}
	return r, p.err
}

func latestReq(q url.Values) (query.LatestRequest, error) {
	return query.LatestRequest{Tags: tagsOf(q)}, nil
}

// timeParam reads an optional time; "" is the zero time (unbounded).
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	return query.ParseTime(v, time.Now())
}

// selection reads from, to and tags (one glob) of the integrity routes.
func selection(q url.Values) (from, to time.Time, glob string, err error) {
	if from, err = timeParam(q, "from"); err != nil {
		return
	}
	if to, err = timeParam(q, "to"); err != nil {
		return
	}
	return from, to, q.Get("tags"), nil
}

func (s *Server) integrity(w http.ResponseWriter, r *http.Request) {
	if s.opts.Integrity == nil {
		writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.APIHistoryOff, "no integrity log: the historian is off or not embedded"))
		return
	}
	q := r.URL.Query()
	from, to, glob, err := selection(q)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	opts := integrity.VerifyOptions{From: from, To: to, TagGlob: glob, Verifiers: q["key"]}
	rep, err := s.opts.Integrity.Verify(r.Context(), opts)
	if err != nil {
		writeError(w, http.StatusInternalServerError, errcode.Wrap(errcode.APIIntegrityErr, err, "verify"))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	if s.opts.Integrity == nil {
		writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.APIHistoryOff, "no integrity log: the historian is off or not embedded"))
		return
	}
	var b strings.Builder
	if err := s.opts.Integrity.ExportCheckpoint(r.Context(), &b); err != nil {
		writeError(w, http.StatusInternalServerError, errcode.Wrap(errcode.APIIntegrityErr, err, "export checkpoint"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request) {
	if s.opts.Integrity == nil {
		writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.APIHistoryOff, "no integrity log: the historian is off or not embedded"))
		return
	}
	from, to, glob, err := selection(r.URL.Query())
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if !scopeGlob(auth.PrincipalFrom(r.Context()), auth.PermHistoryExport, glob) {
		writeError(w, http.StatusNotFound, errcode.New(errcode.APINotFound, "no tags %q in your part of the plant: give a tags pattern under your scope", glob))
		return
	}
	// Buffered: an error half way must still give an error status.
	var b strings.Builder
	if err := s.opts.Integrity.WriteBundle(r.Context(), &b, integrity.Selection{From: from, To: to, TagGlob: glob}); err != nil {
		s.audit(r, auth.Event{Action: "history.export", Object: "bundle", Outcome: auth.OutcomeFailed, Detail: err.Error()})
		writeError(w, http.StatusInternalServerError, errcode.Wrap(errcode.APIIntegrityErr, err, "write bundle"))
		return
	}
	s.audit(r, auth.Event{Action: "history.export", Object: "bundle", Detail: r.URL.RawQuery})
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, b.String())
}

// witness anchors a checkpoint signed by another node (the body, a signed
// note) in this node's log, after checking its signature with the
// verifier keys given as key parameters: each node witnesses the others,
// so rewriting one node's history also means forging the others' logs.
func (s *Server) witness(w http.ResponseWriter, r *http.Request) {
	if s.opts.Integrity == nil {
		writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.APIHistoryOff, "no integrity log: the historian is off or not embedded"))
		return
	}
	keys := r.URL.Query()["key"]
	if len(keys) == 0 {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.APIBadRequest, "give the signer's verifier key as the key parameter"))
		return
	}
	note, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, errcode.Wrap(errcode.APIBadRequest, err, "read checkpoint"))
		return
	}
	c, err := s.opts.Integrity.Witness(r.Context(), note, keys...)
	if err != nil {
		s.audit(r, auth.Event{Action: "integrity.witness", Object: "checkpoint", Outcome: auth.OutcomeFailed, Detail: err.Error()})
		writeError(w, http.StatusBadRequest, errcode.Wrap(errcode.APIBadRequest, err, "witness checkpoint"))
		return
	}
	s.audit(r, auth.Event{Action: "integrity.witness", Object: "checkpoint/" + c.Origin, Detail: fmt.Sprintf("size=%d", c.Size)})
	writeJSON(w, http.StatusOK, map[string]any{"origin": c.Origin, "size": c.Size, "root": fmt.Sprintf("%x", c.Root[:])})
}

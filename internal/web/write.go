package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Writes is what governed writes need of the application.
type Writes interface {
	// Writable describes the tag at path; false when it is not writable.
	Writable(path string) (WritableTag, bool)
	// Write performs a governed write (acquire.Engine.Write: limits, rate,
	// the device's budget, the audit hook).
	Write(ctx context.Context, path string, v model.Value) error
}

// WritableTag is what the write dialog shows of a writable tag.
type WritableTag struct {
	Path        string        `json:"path"`
	Type        model.Type    `json:"type"`
	Unit        string        `json:"unit,omitempty"`
	Description string        `json:"description,omitempty"`
	Min         float64       `json:"min"`
	Max         float64       `json:"max"`
	MaxStep     float64       `json:"max_step,omitempty"`
	MinInterval time.Duration `json:"min_interval_ns,omitempty"`
}

// stepUpWindow is how long a step-up keeps a session fresh for writes and
// sensitive administration: long enough for a few related actions, short
// enough that an unattended tablet cannot be used to move a machine.
const stepUpWindow = 5 * time.Minute

// WritePath is the page that writes the tag at path: other pages link to
// it (the machine page's "Write" link).
func WritePath(path string) string { return "/write/" + path }

func (s *Server) writeRoutes() []route {
	return []route{
		// Scoped: the handlers check the tag's path with auth.Allowed.
		{"GET /write/{path...}", auth.PermTagsWrite, page, s.writePage},
		{"POST /write/{path...}", auth.PermTagsWrite, page, s.writePost},
		{"POST /api/v1/tags/write", auth.PermTagsWrite, anyScope, s.writeAPI},
	}
}

// writeView is the data of the write pages.
type writeView struct {
	Tag     WritableTag
	Current Tag
	HasCur  bool
	Numeric bool
	Bool    bool
	Value   string // the value asked, as typed
	Old     string
	StepUp  *stepUpView // non-nil: the confirm form carries the step-up fields
	Done    bool
	Machine string
}

// writeReq is the body of POST /api/v1/tags/write.
type writeReq struct {
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// writeErr is a refused or failed write, with its HTTP status.
type writeErr struct {
	status  int
	outcome string
	err     error
}

func (e *writeErr) Error() string { return e.err.Error() }
func (e *writeErr) Unwrap() error { return e.err }

func refuse(status int, outcome string, err error) *writeErr {
	return &writeErr{status: status, outcome: outcome, err: err}
}

// writableFor finds the tag and checks that p may write it.
func (s *Server) writableFor(p *auth.Principal, path string) (WritableTag, *writeErr) {
	if s.opts.Writes == nil {
		return WritableTag{}, refuse(http.StatusServiceUnavailable, auth.OutcomeFailed, errcode.New(errcode.WebWriteOff, "write %s: governed writes are off on this server", path))
	}
	path = strings.Trim(path, "/")
	if !auth.Allowed(p, auth.PermTagsWrite, path) {
		return WritableTag{}, refuse(http.StatusForbidden, auth.OutcomeDenied, errcode.New(errcode.AuthForbidden, "%s may not %s on %s", p.Name, auth.PermTagsWrite, path))
	}
	if !auth.WriteScoped(p, path) {
		return WritableTag{}, refuse(http.StatusForbidden, auth.OutcomeDenied, errcode.New(errcode.WebWriteTokenScope, "write %s: token is not scoped explicitly to this part of the plant", path))
	}
	wt, ok := s.opts.Writes.Writable(path)
	if !ok {
		return WritableTag{}, refuse(http.StatusNotFound, auth.OutcomeFailed, errcode.New(errcode.WebWriteNotWritable, "write %s: no such writable tag", path))
	}
	return wt, nil
}

// current is the tag's live value, if the source has it.
func (s *Server) current(path string) (Tag, bool) {
	if s.opts.Source == nil {
		return Tag{}, false
	}
	for _, t := range s.opts.Source.Tags() {
		if t.Path == path {
			return t, true
		}
	}
	return Tag{}, false
}

// parseValue reads a typed value for the tag: numbers as float64 (the
// engine scales and converts to the raw type), bools, strings.
func parseValue(wt WritableTag, text string) (model.Value, error) {
	text = strings.TrimSpace(text)
	switch {
	case wt.Type == model.Bool:
		switch strings.ToLower(text) {
		case "true", "1", "on":
			return model.BoolValue(true), nil
		case "false", "0", "off":
			return model.BoolValue(false), nil
		}
		return model.Value{}, errcode.New(errcode.WebWriteBadValue, "write %s: %q is not true or false", wt.Path, text)
	case wt.Type == model.String:
		return model.StringValue(text), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return model.Value{}, errcode.New(errcode.WebWriteBadValue, "write %s: %q is not a number", wt.Path, text)
	}
	// Integer tags may take fractions when scaled: the engine rounds the
	// raw value, so fractions are not refused here.
	return model.FloatValue(model.Float64, f), nil
}

// checkLimits applies the tag's limits before the engine does, so that a
// refused value never reaches the device's queue: min and max, and max_step
// from the current value when it is known and good.
func checkLimits(wt WritableTag, v model.Value, cur Tag, hasCur bool) error {
	if !v.T.IsNumeric() || wt.Type == model.Bool || wt.Type == model.String {
		return nil
	}
	f := v.Float()
	if f < wt.Min || f > wt.Max {
		return errcode.New(errcode.WebWriteLimits, "write %s: %g is outside the limits %g..%g", wt.Path, f, wt.Min, wt.Max)
	}
	if wt.MaxStep > 0 && hasCur && cur.Quality == model.Good && cur.Value.T.IsNumeric() {
		if step := math.Abs(f - cur.Value.Float()); step > wt.MaxStep {
			return errcode.New(errcode.WebWriteLimits, "write %s: step %g from %s exceeds max_step %g", wt.Path, step, cur.Value, wt.MaxStep)
		}
	}
	return nil
}

// engineStatus maps the engine's refusal codes to HTTP statuses.
func engineStatus(err error) int {
	switch errcode.Of(err) {
	case errcode.AcquireWriteUnknownTag, errcode.AcquireWriteNotWritable:
		return http.StatusNotFound
	case errcode.AcquireWriteOutOfLimits, errcode.AcquireWriteStep, errcode.AcquireWriteType:
		return http.StatusUnprocessableEntity
	case errcode.AcquireWriteTooFast:
		return http.StatusTooManyRequests
	case errcode.AcquireWriteNotConnected:
		return http.StatusServiceUnavailable
	case errcode.AcquireWriteUnsupported:
		return http.StatusNotImplemented
	}
	return http.StatusBadGateway
}

// doWrite checks and performs one write and audits the attempt, whatever
// its outcome. The caller has checked freshness (sessions) or the token's
// scope.
func (s *Server) doWrite(r *http.Request, wt WritableTag, text string) (old string, err *writeErr) {
	cur, hasCur := s.current(wt.Path)
	if hasCur {
		old = cur.Value.String()
	}
	defer func() { s.auditWrite(r, wt.Path, old, text, err) }()
	v, perr := parseValue(wt, text)
	if perr != nil {
		return old, refuse(http.StatusBadRequest, auth.OutcomeFailed, perr)
	}
	if lerr := checkLimits(wt, v, cur, hasCur); lerr != nil {
		return old, refuse(http.StatusUnprocessableEntity, auth.OutcomeFailed, lerr)
	}
	if werr := s.opts.Writes.Write(r.Context(), wt.Path, v); werr != nil {
		if errcode.Of(werr) == 0 {
			werr = errcode.Wrap(errcode.WebWriteRefused, werr, "write %s", wt.Path)
		}
		return old, refuse(engineStatus(werr), auth.OutcomeFailed, werr)
	}
	return old, nil
}

func (s *Server) auditWrite(r *http.Request, path, old, text string, err *writeErr) {
	e := auth.Event{Action: "tag.write", Object: path, Outcome: auth.OutcomeOK,
		Detail: fmt.Sprintf("old=%s new=%s", orNone(old), strings.TrimSpace(text))}
	if err != nil {
		e.Outcome = err.outcome
		e.Detail += " " + err.Error()
	}
	s.audit(r, e)
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeAPI is POST /api/v1/tags/write {"path": ..., "value": ...}. Sessions
// must be fresh (step-up within stepUpWindow); tokens must hold tags.write
// with a scope that names the tag's part of the plant (auth.WriteScoped).
func (s *Server) writeAPI(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	var req writeReq
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil || req.Path == "" || len(req.Value) == 0 {
		if err == nil {
			err = errors.New("path and value are required")
		}
		writeError(w, http.StatusBadRequest, errcode.Wrap(errcode.APIBadRequest, err, "read write request"))
		return
	}
	req.Path = strings.Trim(req.Path, "/")
	wt, werr := s.writableFor(p, req.Path)
	if werr != nil {
		s.auditWrite(r, req.Path, "", string(req.Value), werr)
		writeError(w, werr.status, werr.err)
		return
	}
	if p.TokenID == 0 {
		if err := s.opts.Auth.RequireFresh(p.Session, stepUpWindow); err != nil {
			werr := refuse(http.StatusForbidden, auth.OutcomeDenied, err)
			s.auditWrite(r, req.Path, "", string(req.Value), werr)
			writeError(w, http.StatusForbidden, err)
			return
		}
	}
	// The value as text: a JSON string is taken as its content, anything
	// else (number, bool) as written.
	text := string(req.Value)
	var str string
	if json.Unmarshal(req.Value, &str) == nil {
		text = str
	}
	old, werr := s.doWrite(r, wt, text)
	if werr != nil {
		writeError(w, werr.status, werr.err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": wt.Path, "old": old, "value": strings.TrimSpace(text), "accepted": true})
}

// writePage shows the tag, its value and limits, and the form.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	path := strings.Trim(r.PathValue("path"), "/")
	v := s.pageView(r, "Write a value")
	wt, werr := s.writableFor(p, path)
	if werr != nil {
		v.Error = werr.Error()
		render(w, r, werr.status, "write-error", v)
		return
	}
	v.Data = s.writeData(wt, r.URL.Query().Get("value"))
	render(w, r, http.StatusOK, "write-form", v)
}

func (s *Server) writeData(wt WritableTag, value string) *writeView {
	cur, ok := s.current(wt.Path)
	d := &writeView{Tag: wt, Current: cur, HasCur: ok, Value: value,
		Numeric: wt.Type.IsNumeric(), Bool: wt.Type == model.Bool}
	if ok {
		d.Old = cur.Value.String()
	}
	if i := strings.LastIndexByte(wt.Path, '/'); i > 0 {
		d.Machine = wt.Path[:i]
	}
	return d
}

// writePost is the form's two steps: without confirm it shows the confirm
// dialog (old and new value, and the step-up fields when the session is not
// fresh); with confirm it steps up if asked, then writes.
func (s *Server) writePost(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	path := strings.Trim(r.PathValue("path"), "/")
	v := s.pageView(r, "Write a value")
	if p.Session == nil {
		err := errcode.New(errcode.WebSessionOnly, "write %s: the write form needs a browser session; tokens use POST /api/v1/tags/write", path)
		writeError(w, http.StatusBadRequest, err)
		return
	}
	wt, werr := s.writableFor(p, path)
	if werr != nil {
		s.auditWrite(r, path, "", r.PostFormValue("value"), werr)
		v.Error = werr.Error()
		render(w, r, werr.status, "write-error", v)
		return
	}
	value := r.PostFormValue("value")
	d := s.writeData(wt, value)
	v.Data = d
	// Check the value before asking for the step-up: a typo should not
	// cost a second factor.
	if pv, err := parseValue(wt, value); err != nil {
		v.Error = err.Error()
		render(w, r, http.StatusBadRequest, "write-form", v)
		return
	} else if err := checkLimits(wt, pv, d.Current, d.HasCur); err != nil {
		v.Error = err.Error()
		render(w, r, http.StatusUnprocessableEntity, "write-form", v)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.confirmPage(w, r, v, d, http.StatusOK)
		return
	}
	csrf, err := s.freshen(w, r)
	if err != nil {
		v.Error = err.Error()
		s.auditWrite(r, wt.Path, d.Old, value, refuse(http.StatusForbidden, auth.OutcomeDenied, err))
		s.confirmPage(w, r, v, d, httpStatus(err))
		return
	}
	v.CSRF = csrf
	old, werr := s.doWrite(r, wt, value)
	d.Old, d.Done = old, werr == nil
	if werr != nil {
		v.Error = werr.Error()
		render(w, r, werr.status, "write-result", v)
		return
	}
	render(w, r, http.StatusOK, "write-result", v)
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request, v view, d *writeView, status int) {
	p := auth.PrincipalFrom(r.Context())
	if s.opts.Auth.RequireFresh(p.Session, stepUpWindow) != nil {
		d.StepUp = s.stepUpData(r, "")
	}
	v.Title = "Confirm the write"
	render(w, r, status, "write-confirm", v)
}

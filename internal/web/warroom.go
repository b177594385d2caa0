package web

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
	netview "github.com/otlink/otlink/internal/monitor/view"
)

// The war room: live network monitoring for the security analyst. The
// page renders the alerts, talkers, rates and assets as they are, and
// warroom.js polls the JSON routes every 2 s and draws the connection map.
// Everything under it comes from packets, which an attacker writes: names,
// identity strings and PDU names reach the page only through html/template
// or textContent, never as HTML.

// Security is what the war-room pages need of live network monitoring
// (internal/monitor implements it).
type Security interface {
	Rates() netview.Rates
	Map() netview.Map
	Talkers(n int) []netview.Talker
	// Alerts returns up to n alerts (n <= 0: all), newest first, in state
	// ("" for every state).
	Alerts(state string, n int) []netview.Alert
	Assets() []netview.Asset
	AssetFlows(ip string) ([]netview.Flow, error)
	FlowPDUs(id uint64) (netview.Flow, []netview.PDU, error)
	// SetAlertState moves an alert to acknowledged, resolved or new
	// (reopen), or only adds the note when state is "", and persists it
	// before returning.
	SetAlertState(ctx context.Context, id, state, user, note string) (netview.Alert, error)
}

// Bounds of what the war room sends.
const (
	secAlertsPage = 200 // alerts listed at most
	secTalkers    = 10  // top talkers by default
	secMaxTalkers = 100
	secBodyLimit  = 8 << 10 // bytes of a state change request
)

func (s *Server) securityRoutes() []route {
	return []route{
		// Network monitoring sees the whole plant network: every route
		// is plant-wide (the page checks the scope itself, since a page
		// route only redirects anonymous visitors).
		{"GET /security", auth.PermSecurityRead, page, s.warRoom},
		{"GET /api/v1/security/rates", auth.PermSecurityRead, plantWide, s.secRates},
		{"GET /api/v1/security/map", auth.PermSecurityRead, plantWide, s.secMap},
		{"GET /api/v1/security/talkers", auth.PermSecurityRead, plantWide, s.secTalkers},
		{"GET /api/v1/security/alerts", auth.PermSecurityRead, plantWide, s.secAlerts},
		{"GET /api/v1/security/assets", auth.PermSecurityRead, plantWide, s.secAssets},
		{"GET /api/v1/security/assets/{ip}/flows", auth.PermSecurityRead, plantWide, s.secAssetFlows},
		{"GET /api/v1/security/flows/{id}/pdus", auth.PermSecurityRead, plantWide, s.secFlowPDUs},
		// Cookie sessions need the CSRF token here: the middleware checks
		// it on every unsafe method before the route is reached.
		{"POST /api/v1/security/alerts/{id}/state", auth.PermAlertsAck, plantWide, s.secAlertState},
	}
}

// security returns the monitor, or answers 503 when it is off.
func (s *Server) security(w http.ResponseWriter) Security {
	if s.opts.Security == nil {
		writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.SecurityOff, "network monitoring is off: no monitor.interfaces configured"))
	}
	return s.opts.Security
}

func secStatus(err error) int {
	switch errcode.Of(err) {
	case errcode.APINotFound, errcode.AlertUnknown:
		return http.StatusNotFound
	case errcode.SecurityBadInput:
		return http.StatusBadRequest
	case errcode.AlertTransition:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (s *Server) secRates(w http.ResponseWriter, r *http.Request) {
	if sec := s.security(w); sec != nil {
		writeJSON(w, http.StatusOK, sec.Rates())
	}
}

func (s *Server) secMap(w http.ResponseWriter, r *http.Request) {
	if sec := s.security(w); sec != nil {
		writeJSON(w, http.StatusOK, sec.Map())
	}
}

func (s *Server) secTalkers(w http.ResponseWriter, r *http.Request) {
	sec := s.security(w)
	if sec == nil {
		return
	}
	n := secTalkers
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 || v > secMaxTalkers {
			writeError(w, http.StatusBadRequest, errcode.New(errcode.SecurityBadInput, "n=%q: want 1..%d", q, secMaxTalkers))
			return
		}
		n = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"talkers": sec.Talkers(n)})
}

func validState(st string) bool {
	return st == "" || st == netview.StateNew || st == netview.StateAcknowledged || st == netview.StateResolved
}

func (s *Server) secAlerts(w http.ResponseWriter, r *http.Request) {
	sec := s.security(w)
	if sec == nil {
		return
	}
	st := r.URL.Query().Get("state")
	if !validState(st) {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.SecurityBadInput, "state %q: want new, acknowledged or resolved", st))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": sec.Alerts(st, secAlertsPage)})
}

func (s *Server) secAssets(w http.ResponseWriter, r *http.Request) {
	if sec := s.security(w); sec != nil {
		writeJSON(w, http.StatusOK, map[string]any{"assets": sec.Assets()})
	}
}

func (s *Server) secAssetFlows(w http.ResponseWriter, r *http.Request) {
	sec := s.security(w)
	if sec == nil {
		return
	}
	fl, err := sec.AssetFlows(r.PathValue("ip"))
	if err != nil {
		writeError(w, secStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flows": fl})
}

func (s *Server) secFlowPDUs(w http.ResponseWriter, r *http.Request) {
	sec := s.security(w)
	if sec == nil {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.SecurityBadInput, "flow id %q is not a number", r.PathValue("id")))
		return
	}
	f, pdus, err := sec.FlowPDUs(id)
	if err != nil {
		writeError(w, secStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flow": f, "pdus": pdus})
}

// stateRequest is the body of a state change: JSON from warroom.js and
// API clients, or the page's form without JavaScript.
type stateRequest struct {
	State string `json:"state"` // acknowledged, resolved, new (reopen); "" adds the note only
	Note  string `json:"note"`
}

// auditActions names the audit action of each state change.
var auditActions = map[string]string{
	netview.StateAcknowledged: "alert.ack",
	netview.StateResolved:     "alert.resolve",
	netview.StateNew:          "alert.reopen",
	"":                        "alert.note",
}

func (s *Server) secAlertState(w http.ResponseWriter, r *http.Request) {
	sec := s.security(w)
	if sec == nil {
		return
	}
	id := r.PathValue("id")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
	var req stateRequest
	r.Body = http.MaxBytesReader(w, r.Body, secBodyLimit)
	if form {
		req.State, req.Note = r.PostFormValue("state"), r.PostFormValue("note")
	} else if err := json.NewDecoder(r.Body).Decode(&req); err != nil && err != io.EOF {
		writeError(w, http.StatusBadRequest, errcode.Wrap(errcode.SecurityBadInput, err, "state change of alert %s", id))
		return
	}
	req.Note = strings.TrimSpace(req.Note)
	action, ok := auditActions[req.State]
	if !ok {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.SecurityBadInput, "state %q: want acknowledged, resolved or new", req.State))
		return
	}
	p := auth.PrincipalFrom(r.Context())
	a, err := sec.SetAlertState(r.Context(), id, req.State, p.Name, req.Note)
	ev := auth.Event{Action: action, Object: "alert/" + id, Detail: req.Note}
	if err != nil {
		ev.Outcome, ev.Detail = auth.OutcomeFailed, err.Error()
		s.audit(r, ev)
		writeError(w, secStatus(err), err)
		return
	}
	s.audit(r, ev)
	if form {
		// The page without JavaScript: back to the alert.
		http.Redirect(w, r, "/security#alert-"+id, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// warRoomData is what the war-room template shows.
type warRoomData struct {
	On      bool // the monitor runs
	CanAck  bool
	Rates   netview.Rates
	Alerts  []netview.Alert
	Talkers []netview.Talker
	Assets  []netview.Asset
}

// States for the alert buttons: the state an alert may go to, with its
// label, as detect allows them.
func (d warRoomData) Next(state string) []string {
	switch state {
	case netview.StateNew:
		return []string{netview.StateAcknowledged, netview.StateResolved}
	case netview.StateAcknowledged:
		return []string{netview.StateResolved}
	case netview.StateResolved:
		return []string{netview.StateNew}
	}
	return nil
}

func (s *Server) warRoom(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	if !auth.Allowed(p, auth.PermSecurityRead, "") {
		httpauth.WriteError(w, errcode.New(errcode.AuthForbidden, "%s may not %s on the plant", p.Name, auth.PermSecurityRead))
		return
	}
	v := view{Title: "War room", User: p.Name, Wide: true}
	if p.Session != nil {
		v.CSRF = p.Session.CSRF
	}
	d := warRoomData{CanAck: auth.Allowed(p, auth.PermAlertsAck, "")}
	if sec := s.opts.Security; sec != nil {
		d.On = true
		d.Rates, d.Alerts, d.Talkers, d.Assets = sec.Rates(), sec.Alerts("", secAlertsPage), sec.Talkers(secTalkers), sec.Assets()
	}
	v.Data = d
	render(w, r, http.StatusOK, "warroom", v)
}

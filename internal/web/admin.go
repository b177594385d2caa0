package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
)

// Administration: the audit trail, users and tokens (users.admin), and the
// self-service pages every signed-in user has: step-up re-authentication
// and security keys. Sensitive actions (adding a user, changing roles,
// resetting MFA, creating a token, adding a security key) need a session
// that stepped up within stepUpWindow; tokens cannot step up, so those
// actions are refused to them.
func (s *Server) adminRoutes() []route {
	return []route{
		{"GET /audit", auth.PermAuditRead, page, s.auditPage},
		{"GET /api/v1/audit", auth.PermAuditRead, plantWide, s.auditAPI},

		{"GET /users", auth.PermUsersAdmin, page, s.usersPage},
		{"POST /users", auth.PermUsersAdmin, page, s.userAdd},
		{"POST /users/{name}/{action}", auth.PermUsersAdmin, page, s.userAction},
		{"GET /api/v1/users", auth.PermUsersAdmin, plantWide, s.usersAPI},
		{"GET /tokens", auth.PermUsersAdmin, page, s.tokensPage},
		{"POST /tokens", auth.PermUsersAdmin, page, s.tokenCreate},
		{"POST /tokens/{id}/revoke", auth.PermUsersAdmin, page, s.tokenRevoke},
		{"GET /api/v1/tokens", auth.PermUsersAdmin, plantWide, s.tokensAPI},
		// Containment for incident responders' scripts: these only take
		// access away, so a token may call them and no step-up is asked
		// (the forms that grant access need one).
		{"POST /api/v1/users/{name}/disable", auth.PermUsersAdmin, plantWide, s.userDisableAPI},
		{"POST /api/v1/tokens/{id}/revoke", auth.PermUsersAdmin, plantWide, s.tokenRevokeAPI},

		// Self-service: any signed-in reader. tags.read is the permission
		// every built-in role holds.
		{"GET /stepup", auth.PermTagsRead, page, s.stepUpPage},
		{"POST /stepup", auth.PermTagsRead, page, s.stepUpPost},
		{"POST /api/v1/stepup/webauthn", auth.PermTagsRead, anyScope, s.stepUpKeyBegin},
		{"GET /keys", auth.PermTagsRead, page, s.keysPage},
		{"GET /account/password", auth.PermTagsRead, page, s.passwordPage},
		{"POST /account/password", auth.PermTagsRead, page, s.passwordPost},
		{"POST /api/v1/webauthn/register/begin", auth.PermTagsRead, anyScope, s.keyRegisterBegin},
		{"POST /api/v1/webauthn/register/finish", auth.PermTagsRead, anyScope, s.keyRegisterFinish},
	}
}

// loginKeyRoutes are the security-key second factor of the login: public,
// since the session is not yet logged in (it is at the MFA step). They are
// not in adminRoutes: allRoutes appends them once the reviewed list of
// public routes in auth_test.go names them.
func (s *Server) loginKeyRoutes() []route {
	rate := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if s.opts.Auth == nil {
				s.noAuth(w)
				return
			}
			httpauth.RateLimitLogin(s.opts.Auth, h).ServeHTTP(w, r)
		}
	}
	return []route{
		{"POST /login/key/begin", "", Public, rate(s.loginKeyBegin)},
		{"POST /login/key", "", Public, rate(s.loginKeyFinish)},
	}
}

// pageView starts a page's view with the signed-in user and CSRF token.
func (s *Server) pageView(r *http.Request, title string) view {
	v := view{Title: title, Wide: true}
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		v.User = p.Name
		if p.Session != nil {
			v.CSRF = p.Session.CSRF
		}
	}
	return v
}

// plantWideOK refuses (403) a principal scoped to part of the plant: users,
// tokens and the audit trail belong to the whole plant.
func plantWideOK(w http.ResponseWriter, r *http.Request, perm string) bool {
	p := auth.PrincipalFrom(r.Context())
	if !auth.Allowed(p, perm, "") {
		httpauth.WriteError(w, errcode.New(errcode.AuthForbidden, "%s may not %s on the whole plant", p.Name, perm))
		return false
	}
	return true
}

// httpStatus is httpauth.Status, knowing this file's codes too.
func httpStatus(err error) int {
	switch errcode.Of(err) {
	case errcode.WebSessionOnly, errcode.WebAuditFilter, errcode.WebWriteBadValue, errcode.APIBadRequest:
		return http.StatusBadRequest
	case errcode.WebWriteTokenScope:
		return http.StatusForbidden
	}
	return httpauth.Status(err)
}

// ---- step-up ----

// stepUpView is the data of the step-up fields: which proofs the user has.
type stepUpView struct {
	Next                          string
	TOTP, Key, Recovery, Password bool
}

func (s *Server) stepUpData(r *http.Request, next string) *stepUpView {
	d := &stepUpView{Next: next}
	p := auth.PrincipalFrom(r.Context())
	u, err := s.opts.Auth.User(r.Context(), p.Name)
	if err != nil {
		return d
	}
	d.TOTP, d.Key, d.Recovery = u.TOTP, u.WebAuthn > 0, u.Recovery > 0
	d.Password = !u.HasMFA()
	return d
}

// freshen makes sure the request's session is fresh: it is, or the form
// carries a step-up proof (stepup_method and its field) that StepUp
// accepts. It sets the rotated cookie and returns the CSRF token the next
// page must use.
func (s *Server) freshen(w http.ResponseWriter, r *http.Request) (string, error) {
	p := auth.PrincipalFrom(r.Context())
	if p == nil || p.Session == nil {
		return "", errcode.New(errcode.WebSessionOnly, "step-up needs a browser session; an API token cannot re-authenticate")
	}
	if s.opts.Auth.RequireFresh(p.Session, stepUpWindow) == nil {
		return p.Session.CSRF, nil
	}
	method := r.PostFormValue("stepup_method")
	if method == "" {
		return "", s.opts.Auth.RequireFresh(p.Session, stepUpWindow)
	}
	ns, err := s.opts.Auth.StepUp(r.Context(), httpauth.SessionSecret(r), auth.StepUpProof{Method: method,
		Code: r.PostFormValue("stepup_code"), Password: r.PostFormValue("stepup_password"), WebAuthn: []byte(r.PostFormValue("stepup_webauthn"))})
	if err != nil {
		return "", err
	}
	http.SetCookie(w, httpauth.SessionCookie(ns))
	sess, err := s.opts.Auth.Session(r.Context(), ns)
	if err != nil {
		return "", err
	}
	return sess.CSRF, nil
}

// safeNext keeps a redirect target on this server: a local path only.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

func (s *Server) stepUpPage(w http.ResponseWriter, r *http.Request) {
	s.showStepUp(w, r, http.StatusOK, "", safeNext(r.URL.Query().Get("next")))
}

func (s *Server) showStepUp(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	v := s.pageView(r, "Confirm it is you")
	v.Wide = false
	v.Error = msg
	if auth.PrincipalFrom(r.Context()).Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "step-up needs a browser session"))
		return
	}
	v.Data = s.stepUpData(r, next)
	render(w, r, status, "stepup", v)
}

// stepUpPost checks the proof and goes on to next.
func (s *Server) stepUpPost(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	p := auth.PrincipalFrom(r.Context())
	if p.Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "step-up needs a browser session"))
		return
	}
	// Always check the proof here, even on a fresh session: this page is
	// where the user asked to confirm.
	ns, err := s.opts.Auth.StepUp(r.Context(), httpauth.SessionSecret(r), auth.StepUpProof{Method: r.PostFormValue("stepup_method"),
		Code: r.PostFormValue("stepup_code"), Password: r.PostFormValue("stepup_password"), WebAuthn: []byte(r.PostFormValue("stepup_webauthn"))})
	if err != nil {
		s.showStepUp(w, r, httpStatus(err), err.Error(), next)
		return
	}
	http.SetCookie(w, httpauth.SessionCookie(ns))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// stepUpKeyBegin returns the options for navigator.credentials.get, for a
// step-up with a security key.
func (s *Server) stepUpKeyBegin(w http.ResponseWriter, r *http.Request) {
	if auth.PrincipalFrom(r.Context()).Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "step-up needs a browser session"))
		return
	}
	opts, err := s.opts.Auth.BeginWebAuthnLogin(r.Context(), httpauth.SessionSecret(r))
	if err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	writeRawJSON(w, opts)
}

func writeRawJSON(w http.ResponseWriter, js []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(js)
}

// ---- security keys ----

type keysView struct {
	Keys  []keyRow
	Fresh bool
}

// passwordPage is the signed-in user's own password change.
func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	s.showPassword(w, r, http.StatusOK, "")
}

func (s *Server) showPassword(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if auth.PrincipalFrom(r.Context()).Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "a password belongs to a browser session's user"))
		return
	}
	v := s.pageView(r, "Password")
	v.Error = msg
	render(w, r, status, "password", v)
}

// passwordPost changes the password: the current one, then the new one
// twice. The user's other sessions end; this one continues with a new
// secret.
func (s *Server) passwordPost(w http.ResponseWriter, r *http.Request) {
	if auth.PrincipalFrom(r.Context()).Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "a password belongs to a browser session's user"))
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		s.showPassword(w, r, http.StatusBadRequest, "The two new passwords differ.")
		return
	}
	secret, err := s.opts.Auth.ChangePassword(r.Context(), httpauth.SessionSecret(r), r.PostFormValue("current"), r.PostFormValue("password"))
	if err != nil {
		if errcode.Of(err) == errcode.AuthLocked || errcode.Of(err) == errcode.AuthSessionInvalid {
			// Too many wrong current passwords end the session: sign in again.
			http.SetCookie(w, httpauth.ClearCookie())
		}
		s.showPassword(w, r, httpauth.Status(err), err.Error())
		return
	}
	http.SetCookie(w, httpauth.SessionCookie(secret))
	v := s.pageView(r, "Password")
	v.Done = true
	v.CSRF = "" // the old session's token ended with it
	if sess, err := s.opts.Auth.Session(r.Context(), secret); err == nil {
		v.CSRF = sess.CSRF
	}
	render(w, r, http.StatusOK, "password", v)
}

type keyRow struct {
	Name    string
	Created time.Time
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	v := s.pageView(r, "Security keys")
	if p.Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "security keys belong to a browser session's user"))
		return
	}
	keys, err := s.opts.Auth.SecurityKeys(r.Context(), p.UserID)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	d := &keysView{Fresh: s.opts.Auth.RequireFresh(p.Session, stepUpWindow) == nil}
	for _, k := range keys {
		d.Keys = append(d.Keys, keyRow{Name: k.Name, Created: time.Unix(0, k.Created).UTC()})
	}
	v.Data = d
	render(w, r, http.StatusOK, "keys", v)
}

// keyRegisterBegin starts adding a security key. Adding a factor is
// sensitive (a stolen session could add the thief's key), so the session
// must be fresh.
func (s *Server) keyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	if p.Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "security keys are added from a browser session"))
		return
	}
	if err := s.opts.Auth.RequireFresh(p.Session, stepUpWindow); err != nil {
		httpauth.WriteError(w, err)
		return
	}
	opts, err := s.opts.Auth.BeginWebAuthnRegistration(r.Context(), httpauth.SessionSecret(r))
	if err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	writeRawJSON(w, opts)
}

// keyRegisterFinish stores the key: {"name": ..., "credential": {...}}.
func (s *Server) keyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	if p.Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "security keys are added from a browser session"))
		return
	}
	var req struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || len(req.Credential) == 0 {
		if err == nil {
			err = errors.New("credential is required")
		}
		writeError(w, http.StatusBadRequest, errcode.Wrap(errcode.APIBadRequest, err, "read security key registration"))
		return
	}
	if len(req.Name) > 64 {
		req.Name = req.Name[:64]
	}
	if err := s.opts.Auth.FinishWebAuthnRegistration(r.Context(), httpauth.SessionSecret(r), strings.TrimSpace(req.Name), req.Credential); err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// loginKeyBegin starts the security-key second factor of a login at the
// MFA step; the anonymous-stage CSRF check is ours, as the middleware only
// checks logged-in sessions.
func (s *Server) loginKeyBegin(w http.ResponseWriter, r *http.Request) {
	sess, secret := s.secretOf(r)
	if sess == nil {
		httpauth.WriteError(w, errcode.New(errcode.AuthSessionInvalid, "sign-in expired; start again"))
		return
	}
	if err := httpauth.CheckCSRF(r, sess); err != nil {
		httpauth.WriteError(w, err)
		return
	}
	if sess.Stage != auth.StageMFA {
		httpauth.WriteError(w, errcode.New(errcode.AuthSessionInvalid, "no second factor is pending in this session"))
		return
	}
	opts, err := s.opts.Auth.BeginWebAuthnLogin(r.Context(), secret)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	writeRawJSON(w, opts)
}

// loginKeyFinish completes the login with the browser's answer, posted by
// webauthn.js as the form field webauthn.
func (s *Server) loginKeyFinish(w http.ResponseWriter, r *http.Request) {
	sess, secret := s.secretOf(r)
	if sess == nil {
		s.showLogin(w, r, http.StatusUnauthorized, "Your sign-in expired. Please start again.")
		return
	}
	if err := httpauth.CheckCSRF(r, sess); err != nil {
		httpauth.WriteError(w, err)
		return
	}
	res, err := s.opts.Auth.LoginWebAuthn(r.Context(), secret, []byte(r.PostFormValue("webauthn")))
	if err != nil {
		s.showLogin(w, r, httpauth.Status(err), err.Error())
		return
	}
	http.SetCookie(w, httpauth.SessionCookie(res.Secret))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ---- audit ----

// auditRow is an event as the audit page and API show it.
type auditRow struct {
	auth.Event
	InLog bool `json:"in_log"` // taken by the integrity log
}

type auditView struct {
	Q      map[string]string // the filter as typed, to fill the form again
	Events []auditRow
	Next   string // the next page's URL, or ""
}

// auditTime reads RFC 3339 or the browser's datetime-local (taken as UTC).
func auditTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errcode.New(errcode.WebAuditFilter, "audit filter %s=%q: not a time like 2026-01-02T08:00", name, v)
}

func auditQuery(q url.Values) (auth.AuditFilter, auth.Page, error) {
	f := auth.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Outcome: strings.TrimSpace(q.Get("outcome")), Text: strings.TrimSpace(q.Get("text"))}
	var pg auth.Page
	var err error
	if f.From, err = auditTime("from", q.Get("from")); err != nil {
		return f, pg, err
	}
	if f.To, err = auditTime("to", q.Get("to")); err != nil {
		return f, pg, err
	}
	for _, n := range []struct {
		name string
		dst  *int64
	}{{"before", &pg.Before}, {"limit", nil}} {
		v := q.Get(n.name)
		if v == "" {
			continue
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < 0 {
			return f, pg, errcode.New(errcode.WebAuditFilter, "audit filter %s=%q: not a number", n.name, v)
		}
		if n.dst != nil {
			*n.dst = x
		} else {
			pg.Limit = int(min(x, 1000))
		}
	}
	return f, pg, nil
}

func (s *Server) searchAudit(r *http.Request) ([]auditRow, int64, error) {
	f, pg, err := auditQuery(r.URL.Query())
	if err != nil {
		return nil, 0, err
	}
	evs, next, err := s.opts.Auth.SearchAudit(r.Context(), f, pg)
	if err != nil {
		return nil, 0, err
	}
	rows := make([]auditRow, len(evs))
	for i, e := range evs {
		rows[i] = auditRow{Event: e, InLog: e.InLog}
	}
	return rows, next, nil
}

// auditAPI is GET /api/v1/audit: {"events": [...], "next": ID}; pass
// before=ID for the next page.
func (s *Server) auditAPI(w http.ResponseWriter, r *http.Request) {
	rows, next, err := s.searchAudit(r)
	if err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	if rows == nil {
		rows = []auditRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": rows, "next": next})
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	if !plantWideOK(w, r, auth.PermAuditRead) {
		return
	}
	v := s.pageView(r, "Audit trail")
	q := r.URL.Query()
	d := &auditView{Q: map[string]string{}}
	for _, k := range []string{"from", "to", "actor", "action", "outcome", "text"} {
		d.Q[k] = q.Get(k)
	}
	v.Data = d
	rows, next, err := s.searchAudit(r)
	if err != nil {
		v.Error = err.Error()
		render(w, r, httpStatus(err), "audit", v)
		return
	}
	d.Events = rows
	if next > 0 {
		nq := url.Values{}
		for k, x := range d.Q {
			if x != "" {
				nq.Set(k, x)
			}
		}
		nq.Set("before", strconv.FormatInt(next, 10))
		d.Next = "/audit?" + nq.Encode()
	}
	render(w, r, http.StatusOK, "audit", v)
}

// ---- users ----

type usersView struct {
	Users       []userRow
	Roles       []auth.Role
	Fresh       bool
	Self        string
	NewUser     string
	NewPassword string // shown once
	Reset       bool   // NewPassword replaced NewUser's password (else the account is new)
}

func (s *Server) usersData(r *http.Request) (*usersView, error) {
	ctx := r.Context()
	users, err := s.opts.Auth.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	roles, err := s.opts.Auth.Roles(ctx)
	if err != nil {
		return nil, err
	}
	p := auth.PrincipalFrom(ctx)
	fresh := p.Session != nil && s.opts.Auth.RequireFresh(p.Session, stepUpWindow) == nil
	d := &usersView{Roles: roles, Fresh: fresh, Self: p.Name}
	for _, u := range users {
		row := userRow{User: u, ScopesText: strings.Join(u.Scopes, ", ")}
		for _, r := range roles {
			row.RoleBoxes = append(row.RoleBoxes, roleBox{Name: r.Name, Checked: slices.Contains(u.Roles, r.Name)})
		}
		d.Users = append(d.Users, row)
	}
	return d, nil
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.showUsers(w, r, http.StatusOK, "", nil)
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, status int, msg string, edit func(*usersView)) {
	if !plantWideOK(w, r, auth.PermUsersAdmin) {
		return
	}
	v := s.pageView(r, "Users")
	v.Error = msg
	d, err := s.usersData(r)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	if edit != nil {
		edit(d)
	}
	v.Data = d
	render(w, r, status, "users", v)
}

func (s *Server) usersAPI(w http.ResponseWriter, r *http.Request) {
	users, err := s.opts.Auth.ListUsers(r.Context())
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	if users == nil {
		users = []*auth.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

// sensitive runs the checks every administrative POST shares: a browser
// session, the whole plant, and (when fresh is asked) a step-up within
// stepUpWindow, else the step-up page that returns to back.
func (s *Server) sensitive(w http.ResponseWriter, r *http.Request, fresh bool, back string) bool {
	p := auth.PrincipalFrom(r.Context())
	if p.Session == nil {
		writeError(w, http.StatusBadRequest, errcode.New(errcode.WebSessionOnly, "administration forms need a browser session"))
		return false
	}
	if !plantWideOK(w, r, auth.PermUsersAdmin) {
		return false
	}
	if fresh {
		if err := s.opts.Auth.RequireFresh(p.Session, stepUpWindow); err != nil {
			s.showStepUp(w, r, http.StatusForbidden, err.Error(), back)
			return false
		}
	}
	return true
}

// fields splits a list typed as "a, b c".
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
}

// oneTimePassword is a random first password, given to the user once.
func oneTimePassword(user string) string {
	for range 100 {
		b := make([]byte, 18)
		rand.Read(b)
		pw := base64.RawURLEncoding.EncodeToString(b)
		if auth.CheckPassword(user, pw) == nil {
			return pw
		}
	}
	return ""
}

func (s *Server) userAdd(w http.ResponseWriter, r *http.Request) {
	if !s.sensitive(w, r, true, "/users") {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	roles := r.PostForm["roles"]
	pw := oneTimePassword(name)
	if _, err := s.opts.Auth.CreateUserTemporary(r.Context(), name, pw, roles, fields(r.PostFormValue("scopes"))); err != nil {
		s.showUsers(w, r, httpStatus(err), err.Error(), nil)
		return
	}
	s.showUsers(w, r, http.StatusOK, "", func(d *usersView) { d.NewUser, d.NewPassword = name, pw })
}

func (s *Server) userAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	fresh := action == "roles" || action == "reset-mfa" || action == "reset-password"
	if !s.sensitive(w, r, fresh, "/users") {
		return
	}
	ctx := r.Context()
	var err error
	switch action {
	case "disable":
		if strings.EqualFold(name, auth.PrincipalFrom(ctx).Name) {
			err = errcode.New(errcode.AuthBadInput, "you cannot disable your own account")
		} else {
			err = s.opts.Auth.SetDisabled(ctx, name, true)
		}
	case "enable":
		err = s.opts.Auth.SetDisabled(ctx, name, false)
	case "unlock":
		if _, err = s.opts.Auth.User(ctx, name); err == nil {
			err = s.opts.Auth.Unlock(ctx, name)
		}
	case "reset-mfa":
		err = s.opts.Auth.ResetMFA(ctx, name)
	case "reset-password":
		// The administrator's own password changes with the current one
		// (/account/password): a reset would end the session doing it.
		if strings.EqualFold(name, auth.PrincipalFrom(ctx).Name) {
			err = errcode.New(errcode.AuthBadInput, "change your own password on the Password page")
			break
		}
		pw := oneTimePassword(name)
		if err = s.opts.Auth.ResetPassword(ctx, name, pw); err == nil {
			s.showUsers(w, r, http.StatusOK, "", func(d *usersView) { d.NewUser, d.NewPassword, d.Reset = name, pw, true })
			return
		}
	case "roles":
		err = s.opts.Auth.SetRoles(ctx, name, r.PostForm["roles"], fields(r.PostFormValue("scopes")))
	default:
		writeError(w, http.StatusNotFound, errcode.New(errcode.APINotFound, "no user action %q", action))
		return
	}
	if err != nil {
		s.showUsers(w, r, httpStatus(err), err.Error(), nil)
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// userDisableAPI disables an account: its sessions end and its tokens
// stop working at once.
func (s *Server) userDisableAPI(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var err error
	if strings.EqualFold(name, auth.PrincipalFrom(r.Context()).Name) {
		err = errcode.New(errcode.AuthBadInput, "you cannot disable your own account")
	} else {
		err = s.opts.Auth.SetDisabled(r.Context(), name, true)
	}
	if err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": name, "disabled": true})
}

// tokenRevokeAPI revokes an API token: it is refused from the next request.
func (s *Server) tokenRevokeAPI(w http.ResponseWriter, r *http.Request) {
	id, err := s.revokeToken(r)
	if err != nil {
		writeError(w, httpStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": id, "revoked": true})
}

// userRow is a user with its role check boxes: templates have no set
// lookup, so the view does it.
type userRow struct {
	*auth.User
	RoleBoxes  []roleBox
	ScopesText string
}

type roleBox struct {
	Name    string
	Checked bool
}

// ---- tokens ----

type tokensView struct {
	Tokens []tokenRow
	Users  []string
	Perms  []string
	Fresh  bool
	Secret string // the new token's secret, shown once
	New    *auth.Token
}

type tokenRow struct {
	auth.Token
	PermsText, ScopesText string
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) {
	s.showTokens(w, r, http.StatusOK, "", nil)
}

func (s *Server) showTokens(w http.ResponseWriter, r *http.Request, status int, msg string, edit func(*tokensView)) {
	if !plantWideOK(w, r, auth.PermUsersAdmin) {
		return
	}
	ctx := r.Context()
	v := s.pageView(r, "API tokens")
	v.Error = msg
	toks, err := s.opts.Auth.ListTokens(ctx, "")
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	users, err := s.opts.Auth.ListUsers(ctx)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	p := auth.PrincipalFrom(ctx)
	d := &tokensView{Perms: auth.AllPerms,
		Fresh: p.Session != nil && s.opts.Auth.RequireFresh(p.Session, stepUpWindow) == nil}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, tokenRow{Token: t, PermsText: strings.Join(t.Perms, ", "), ScopesText: strings.Join(t.Scopes, ", ")})
	}
	for _, u := range users {
		d.Users = append(d.Users, u.Name)
	}
	if edit != nil {
		edit(d)
	}
	v.Data = d
	render(w, r, status, "tokens", v)
}

func (s *Server) tokensAPI(w http.ResponseWriter, r *http.Request) {
	toks, err := s.opts.Auth.ListTokens(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	if toks == nil {
		toks = []auth.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	if !s.sensitive(w, r, true, "/tokens") {
		return
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("days")))
	if err != nil || days <= 0 {
		s.showTokens(w, r, http.StatusBadRequest, errcode.New(errcode.AuthBadInput, "expiry: a whole number of days").Error(), nil)
		return
	}
	perms := slices.Clone(r.PostForm["perms"])
	secret, tok, err := s.opts.Auth.CreateToken(r.Context(), r.PostFormValue("user"), r.PostFormValue("name"), perms,
		fields(r.PostFormValue("scopes")), time.Duration(days)*24*time.Hour)
	if err != nil {
		s.showTokens(w, r, httpStatus(err), err.Error(), nil)
		return
	}
	s.showTokens(w, r, http.StatusOK, "", func(d *tokensView) { d.Secret, d.New = secret, tok })
}

// revokeToken revokes the token of the request's {id}.
func (s *Server) revokeToken(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, errcode.New(errcode.AuthBadInput, "token id %q is not a number", r.PathValue("id"))
	}
	return id, s.opts.Auth.RevokeToken(r.Context(), id)
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.sensitive(w, r, false, "/tokens") {
		return
	}
	if _, err := s.revokeToken(r); err != nil {
		s.showTokens(w, r, httpStatus(err), err.Error(), nil)
		return
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}

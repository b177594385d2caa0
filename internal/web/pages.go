package web

import (
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what every page template reads; html/template escapes it.
type view struct {
	Title, Error, CSRF string
	User               string
	QR                 template.URL
	Secret             string
	Codes              []string
	Token              string
	Done               bool
	Machines           []machine
	// The machine page.
	Machine string
	Rows    []Tag
	Wide    bool // a wide layout for tables
	Trend   bool // the principal may read history for the trend
	// Lang is the page's language tag (en, zh-TW) and Path the request's
	// path (for the language switch's way back), set by render.
	Lang, Path string
	// Data is what a page of its own file shows (plant tree, health,
	// admin, war room): each page defines its own type rather than adding
	// fields here.
	Data any
}

// mfaView is the second-factor page's own data.
type mfaView struct {
	Keys bool // the user has a security key to offer
}

type machine struct {
	Path       string
	Tags, Good int
}

func (s *Server) pageRoutes() []route {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
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
		{"GET /static/", "", Public, files.ServeHTTP},
		{"GET /login", "", Public, s.loginPage},
		// The language switch sets a cookie; public so that the login
		// page can be read in either language.
		{"GET /lang", "", Public, s.setLang},
		{"POST /login", "", Public, rate(s.loginPost)},
		{"GET /setup", "", Public, s.setupPage},
		{"POST /setup", "", Public, rate(s.setupPost)},
		// Public so that a dead session can still be cleared; a live one
		// was CSRF-checked by the middleware.
		{"POST /logout", "", Public, s.logout},
		{"GET /{$}", auth.PermTagsRead, page, s.home},
		{"GET /machines/{path...}", auth.PermTagsRead, page, s.machinePage},
	}
}

func (s *Server) noAuth(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, errcode.New(errcode.HTTPSetup, "authentication is not configured on this server"))
}

// render writes page name in the request's language (see i18n.go).
func render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Lang = langOf(r)
	if r != nil {
		v.Path = r.URL.Path
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", v.Lang)
	w.WriteHeader(status)
	_ = pagesFor(v.Lang).ExecuteTemplate(w, name, v)
}

// session returns the request's server-side session (any stage) or, when
// it has none that is alive, a new anonymous one whose cookie is set.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*auth.Session, string, error) {
	if secret := httpauth.SessionSecret(r); secret != "" {
		if sess, err := s.opts.Auth.Session(r.Context(), secret); err == nil {
			return sess, secret, nil
		}
	}
	sess, secret, err := s.opts.Auth.NewSession(r.Context())
	if err != nil {
		return nil, "", err
	}
	http.SetCookie(w, httpauth.SessionCookie(secret))
	return sess, secret, nil
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.opts.Auth == nil {
		s.noAuth(w)
		return
	}
	s.showLogin(w, r, http.StatusOK, "")
}

// showLogin renders the step the session is at, with msg as the error.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	sess, _, err := s.session(w, r)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	v := view{Title: "Sign in", Error: msg, CSRF: sess.CSRF}
	switch sess.Stage {
	case auth.StageFull:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case auth.StageMFA:
		// Offer the security key only to a user who has one (past the
		// password, this reveals nothing to a stranger); if the list
		// cannot be read, offer it and let the ceremony answer.
		keys, err := s.opts.Auth.SecurityKeys(r.Context(), sess.UserID)
		v.Data = mfaView{Keys: err != nil || len(keys) > 0}
		render(w, r, status, "mfa", v)
	case auth.StageEnrol:
		en, err := s.opts.Auth.EnrollTOTP(r.Context(), sess.UserID)
		if err != nil {
			httpauth.WriteError(w, err)
			return
		}
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRPNG))
		v.Secret = en.Secret
		render(w, r, status, "enrol", v)
	case auth.StagePassword:
		v.Title = "Choose your password"
		render(w, r, status, "newpw", v)
	default:
		render(w, r, status, "login", v)
	}
}

// secretOf is the session cookie the request carries, with its session.
func (s *Server) secretOf(r *http.Request) (*auth.Session, string) {
	secret := httpauth.SessionSecret(r)
	if secret == "" {
		return nil, ""
	}
	sess, err := s.opts.Auth.Session(r.Context(), secret)
	if err != nil {
		return nil, ""
	}
	return sess, secret
}

// loginPost runs one step of the login state machine. Each successful step
// issues a new session secret, so the cookie is set again every time.
func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	sess, secret := s.secretOf(r)
	if sess == nil {
		s.showLogin(w, r, http.StatusUnauthorized, "Your sign-in expired. Please start again.")
		return
	}
	if err := httpauth.CheckCSRF(r, sess); err != nil {
		httpauth.WriteError(w, err)
		return
	}
	ctx := r.Context()
	var (
		res   *auth.LoginResult
		err   error
		codes []string
	)
	code := strings.TrimSpace(r.PostFormValue("code"))
	switch step := r.PostFormValue("step"); {
	case step == "password" && sess.Stage == auth.StageAnonymous:
		res, err = s.opts.Auth.Login(ctx, secret, r.PostFormValue("user"), r.PostFormValue("password"))
	case step == "totp" && sess.Stage == auth.StageMFA:
		res, err = s.opts.Auth.LoginTOTP(ctx, secret, code)
	case step == "recovery" && sess.Stage == auth.StageMFA:
		res, err = s.opts.Auth.LoginRecovery(ctx, secret, code)
	case step == "enrol" && sess.Stage == auth.StageEnrol:
		codes, err = s.opts.Auth.ConfirmTOTP(ctx, sess.UserID, code)
		if err == nil {
			res, err = s.opts.Auth.CompleteEnrolment(ctx, secret)
		}
	case step == "newpw" && sess.Stage == auth.StagePassword:
		if r.PostFormValue("password") != r.PostFormValue("confirm") {
			s.showLogin(w, r, http.StatusBadRequest, "The two new passwords differ.")
			return
		}
		res, err = s.opts.Auth.ReplaceTemporaryPassword(ctx, secret, r.PostFormValue("password"))
	default:
		s.showLogin(w, r, http.StatusBadRequest, "That step does not apply now. Please continue here.")
		return
	}
	if err != nil {
		s.showLogin(w, r, httpauth.Status(err), err.Error())
		return
	}
	http.SetCookie(w, httpauth.SessionCookie(res.Secret))
	if codes != nil {
		render(w, r, http.StatusOK, "codes", view{Title: "Recovery codes", Codes: codes})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	if s.opts.Auth == nil {
		s.noAuth(w)
		return
	}
	s.showSetup(w, r, http.StatusOK, "", r.URL.Query().Get("token"))
}

func (s *Server) showSetup(w http.ResponseWriter, r *http.Request, status int, msg, token string) {
	v := view{Title: "Set up", Error: msg, Token: token}
	if ok, err := s.opts.Auth.AdminExists(r.Context()); err != nil {
		httpauth.WriteError(w, err)
		return
	} else if ok {
		v.Done = true
		render(w, r, status, "setup", v)
		return
	}
	sess, _, err := s.session(w, r)
	if err != nil {
		httpauth.WriteError(w, err)
		return
	}
	v.CSRF = sess.CSRF
	render(w, r, status, "setup", v)
}

func (s *Server) setupPost(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.secretOf(r)
	if sess == nil {
		s.showSetup(w, r, http.StatusUnauthorized, "The form expired. Please send it again.", r.PostFormValue("token"))
		return
	}
	if err := httpauth.CheckCSRF(r, sess); err != nil {
		httpauth.WriteError(w, err)
		return
	}
	tok := r.PostFormValue("token")
	if _, err := s.opts.Auth.CreateFirstAdmin(auth.WithActor(r.Context(), "setup"), tok, r.PostFormValue("user"), r.PostFormValue("password")); err != nil {
		status := httpauth.Status(err)
		if errcode.Of(err) == errcode.AuthSetupRefused {
			status = http.StatusForbidden
		}
		s.showSetup(w, r, status, err.Error(), tok)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if s.opts.Auth == nil {
		s.noAuth(w)
		return
	}
	if sess, secret := s.secretOf(r); sess != nil {
		// A full session passed the middleware's CSRF check; a half one
		// is checked here, so no other site can end a login.
		if err := httpauth.CheckCSRF(r, sess); err != nil {
			httpauth.WriteError(w, err)
			return
		}
		if err := s.opts.Auth.Logout(r.Context(), secret); err != nil {
			httpauth.WriteError(w, err)
			return
		}
	}
	http.SetCookie(w, httpauth.ClearCookie())
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// home lists the machines of the principal's part of the plant: each
// tag's path without its last segment.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	byPath := map[string]*machine{}
	for _, t := range s.visibleTags(r) {
		i := strings.LastIndexByte(t.Path, '/')
		if i < 0 {
			continue
		}
		m := byPath[t.Path[:i]]
		if m == nil {
			m = &machine{Path: t.Path[:i]}
			byPath[m.Path] = m
		}
		m.Tags++
		if t.Quality == model.Good {
			m.Good++
		}
	}
	v := view{Title: "Plant", User: p.Name}
	if p.Session != nil {
		v.CSRF = p.Session.CSRF
	}
	for _, m := range byPath {
		v.Machines = append(v.Machines, *m)
	}
	slices.SortFunc(v.Machines, func(a, b machine) int { return strings.Compare(a.Path, b.Path) })
	render(w, r, http.StatusOK, "home", v)
}

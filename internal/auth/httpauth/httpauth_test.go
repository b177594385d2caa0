package httpauth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
)

const pw = "correct-horse-battery-9"

type env struct {
	svc *auth.Service
	srv *httptest.Server
	now time.Time
}

func newEnv(t *testing.T) *env {
	e := &env{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	svc, err := auth.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), auth.Options{
		Argon2: auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}, Now: func() time.Time { return e.now },
		LoginBurst: 3, LoginEvery: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.svc = svc
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, "vic", pw, []string{auth.RoleViewer}, []string{"acme/line1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "sam", pw, []string{auth.RoleSecurityAnalyst}, nil); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+auth.PrincipalFrom(r.Context()).Name)
	})
	mux.Handle("GET /tags/{path...}", RequireAt(auth.PermTagsRead, func(r *http.Request) string { return r.PathValue("path") }, ok))
	mux.Handle("POST /ack", Require(auth.PermAlertsAck, ok))
	mux.Handle("GET /audit", Require(auth.PermAuditRead, ok))
	mux.Handle("POST /fresh", RequireFresh(svc, 5*time.Minute, ok))
	mux.Handle("POST /login", RateLimitLogin(svc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := svc.Login(auth.WithClientIP(r.Context(), ClientIP(r)), SessionSecret(r), r.FormValue("user"), r.FormValue("password"))
		if err != nil {
			WriteError(w, err)
			return
		}
		http.SetCookie(w, SessionCookie(res.Secret))
	})))
	e.srv = httptest.NewServer(Middleware{Svc: svc}.Wrap(mux))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(t *testing.T, method, path string, hdr map[string]string, body string) (int, map[string]string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]string
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func (e *env) loginCookie(t *testing.T, user string) (cookie string, sess *auth.Session) {
	t.Helper()
	res, err := e.svc.Login(context.Background(), "", user, pw)
	if err != nil {
		t.Fatal(err)
	}
	return CookieName + "=" + res.Secret, res.Session
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	// Unauthenticated: 401 with a JSON code.
	st, m, _ := e.do(t, "GET", "/tags/acme/line1/x", nil, "")
	if st != 401 || m["code"] != "OTL-6115" {
		t.Fatalf("%d %v", st, m)
	}
	cookie, sess := e.loginCookie(t, "vic")
	h := map[string]string{"Cookie": cookie}
	if st, _, b := e.do(t, "GET", "/tags/acme/line1/x", h, ""); st != 200 || b != "ok vic" {
		t.Fatalf("%d %s", st, b)
	}
	// Outside the scope, and a permission the role lacks: 403.
	if st, m, _ := e.do(t, "GET", "/tags/acme/line2/x", h, ""); st != 403 || m["code"] != "OTL-6114" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _, _ := e.do(t, "GET", "/audit", h, ""); st != 403 {
		t.Fatalf("viewer read audit: %d", st)
	}
	// A dead session is anonymous: 401.
	if st, _, _ := e.do(t, "GET", "/tags/acme/line1/x", map[string]string{"Cookie": CookieName + "=forged"}, ""); st != 401 {
		t.Fatalf("forged cookie: %d", st)
	}

	// CSRF on unsafe methods with a cookie.
	sc, ssess := e.loginCookie(t, "sam")
	if st, m, _ := e.do(t, "POST", "/ack", map[string]string{"Cookie": sc}, ""); st != 403 || m["code"] != "OTL-6112" {
		t.Fatalf("no csrf: %d %v", st, m)
	}
	if st, _, _ := e.do(t, "POST", "/ack", map[string]string{"Cookie": sc, CSRFHeader: sess.CSRF}, ""); st != 403 {
		t.Fatalf("another session's csrf token accepted: %d", st)
	}
	if st, _, _ := e.do(t, "POST", "/ack", map[string]string{"Cookie": sc, CSRFHeader: ssess.CSRF}, ""); st != 200 {
		t.Fatalf("header csrf: %d", st)
	}
	form := url.Values{CSRFField: {ssess.CSRF}}.Encode()
	if st, _, _ := e.do(t, "POST", "/ack", map[string]string{"Cookie": sc, "Content-Type": "application/x-www-form-urlencoded"}, form); st != 200 {
		t.Fatalf("form csrf: %d", st)
	}

	// Bearer tokens: no CSRF needed, scope and perms enforced.
	tok, _, err := e.svc.CreateToken(context.Background(), "sam", "ci", []string{auth.PermTagsRead, auth.PermAlertsAck}, []string{"acme/line1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := map[string]string{"Authorization": "Bearer " + tok}
	if st, _, body := e.do(t, "GET", "/tags/acme/line1/x", b, ""); st != 200 || body != "ok sam" {
		t.Fatalf("%d %s", st, body)
	}
	if st, _, _ := e.do(t, "GET", "/tags/acme/line2/x", b, ""); st != 403 {
		t.Fatalf("token outside scope: %d", st)
	}
	if st, _, _ := e.do(t, "GET", "/audit", b, ""); st != 403 {
		t.Fatalf("token beyond its perms: %d", st)
	}
	if st, _, _ := e.do(t, "POST", "/ack", b, ""); st != 403 {
		t.Fatalf("ack is plant-wide, token scoped: %d", st) // Require checks the whole plant
	}
	if st, m, _ := e.do(t, "GET", "/tags/acme/line1/x", map[string]string{"Authorization": "Bearer otl_wrong"}, ""); st != 401 || m["code"] != "OTL-6116" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _, _ := e.do(t, "GET", "/tags/acme/line1/x", map[string]string{"Authorization": "Basic dmljOnB3"}, ""); st != 401 {
		t.Fatalf("basic auth: %d", st)
	}
	// Step-up freshness: a token can never be fresh.
	if st, m, _ := e.do(t, "POST", "/fresh", b, ""); st != 403 || m["code"] != "OTL-6113" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _, _ := e.do(t, "POST", "/fresh", map[string]string{"Cookie": sc, CSRFHeader: ssess.CSRF}, ""); st != 200 {
		t.Fatalf("fresh login: %d", st)
	}
	e.now = e.now.Add(6 * time.Minute)
	if st, _, _ := e.do(t, "POST", "/fresh", map[string]string{"Cookie": sc, CSRFHeader: ssess.CSRF}, ""); st != 403 {
		t.Fatalf("stale login: %d", st)
	}
}

func TestLoginRouteCookieAndRateLimit(t *testing.T) {
	e := newEnv(t)
	resp, err := http.PostForm(e.srv.URL+"/login", url.Values{"user": {"vic"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{CookieName + "=", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Domain") {
		t.Error("__Host- cookie with a Domain")
	}
	// Burst 3: two more attempts, then 429.
	codes := []int{}
	for range 3 {
		resp, _ := http.PostForm(e.srv.URL+"/login", url.Values{"user": {"vic"}, "password": {"wrong-wrong-wrong"}})
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 401 || codes[1] != 401 || codes[2] != 429 {
		t.Fatalf("statuses %v", codes)
	}
	if c := ClearCookie(); c.MaxAge >= 0 || !c.Secure {
		t.Fatal("clear cookie")
	}
}

package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/model"
)

var cheap = auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}

// authFixture is a server with real auth: an admin, a viewer and a viewer
// scoped to line a, each with a token.
type authFixture struct {
	svc                    *auth.Service
	srv                    *httptest.Server
	admin, viewer, scopedV string
}

func newAuthFixture(t *testing.T, opts auth.Options) *authFixture {
	t.Helper()
	ctx := context.Background()
	opts.Argon2 = cheap
	opts.Logger = slog.New(slog.DiscardHandler)
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f := &authFixture{svc: svc}
	for _, u := range []struct {
		name, role string
		scopes     []string
		tok        *string
	}{{"root", auth.RoleAdmin, nil, &f.admin}, {"vera", auth.RoleViewer, nil, &f.viewer}, {"liam", auth.RoleViewer, []string{"acme/a"}, &f.scopedV}} {
		if _, err := svc.CreateUser(ctx, u.name, "correct horse battery "+strings.ToUpper(u.name[:1])+"9", []string{u.role}, u.scopes); err != nil {
			t.Fatal(err)
		}
		perms := auth.BuiltinRoles[u.role]
		sec, _, err := svc.CreateToken(ctx, u.name, "test", perms, u.scopes, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		*u.tok = sec
	}
	src := fakeSource{tags: []Tag{
		{Path: "acme/a/m1/x", Value: model.FloatValue(model.Float64, 1.5), Quality: model.Good},
		{Path: "acme/b/m2/y", Quality: model.BadTimeout, Code: "OTL-2102"},
	}}
	s := New(Options{Listen: "127.0.0.1:0", Source: src, Auth: svc})
	f.srv = httptest.NewTLSServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *authFixture) do(t *testing.T, c *http.Client, method, path, token string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = f.srv.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// An event stream never ends by itself: only its status is wanted.
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp
}

// TestEveryRouteGuarded walks every route the server registers: without
// credentials each protected one answers 401 (pages redirect to /login),
// a viewer's token is refused (403) where the viewer's role lacks the
// permission, and an admin's token passes the guard.
func TestEveryRouteGuarded(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	s := New(Options{Source: fakeSource{}, Auth: f.svc})
	routes := s.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes listed", len(routes))
	}
	public := map[string]bool{"GET /healthz": true, "GET /static/": true, "GET /login": true, "POST /login": true, "GET /lang": true, "POST /login/key/begin": true, "POST /login/key": true,
		"GET /setup": true, "POST /setup": true, "POST /logout": true}
	viewerPerms := auth.BuiltinRoles[auth.RoleViewer]
	forbiddenSeen := 0
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "otlink.css"
		}
		if rt.Public {
			if !public[rt.Pattern] {
				t.Errorf("%s is public but not in the reviewed list of public routes", rt.Pattern)
			}
			continue
		}
		if rt.Perm == "" {
			t.Errorf("%s is protected without a permission", rt.Pattern)
		}
		// No credentials.
		resp := f.do(t, noRedirect(f.srv.Client()), method, path, "", nil, nil)
		if rt.Page {
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
				t.Errorf("%s without login: %d %s, want 303 to /login", rt.Pattern, resp.StatusCode, resp.Header.Get("Location"))
			}
		} else if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", rt.Pattern, resp.StatusCode)
		}
		// A bad token is refused, not treated as anonymous.
		if resp := f.do(t, nil, method, path, "otl_forged", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a forged token: %d, want 401", rt.Pattern, resp.StatusCode)
		}
		// A viewer: 403 exactly where the role lacks the permission.
		resp = f.do(t, nil, method, path, f.viewer, nil, nil)
		has := false
		for _, p := range viewerPerms {
			has = has || p == rt.Perm
		}
		if !has {
			forbiddenSeen++
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s as viewer (lacks %s): %d, want 403", rt.Pattern, rt.Perm, resp.StatusCode)
			}
		} else if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Errorf("%s as viewer (holds %s): %d", rt.Pattern, rt.Perm, resp.StatusCode)
		}
		// The admin passes the guard; the handler may still refuse the
		// request itself (no historian here: 503, bad input: 400).
		resp = f.do(t, nil, method, path, f.admin, nil, nil)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Errorf("%s as admin: %d", rt.Pattern, resp.StatusCode)
		}
	}
	if forbiddenSeen < 3 {
		t.Errorf("only %d routes beyond a viewer: the test proves little", forbiddenSeen)
	}
	// Unknown routes say 404 whoever asks.
	if resp := f.do(t, nil, "GET", "/api/v1/nosuch", f.admin, nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
	if resp := f.do(t, nil, "GET", "/healthz", "", nil, nil); resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("healthz: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

func noRedirect(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// TestTokenScopeFiltersTags: a viewer scoped to acme/a sees only its tags
// and may not read plant-wide routes.
func TestTokenScopeFiltersTags(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	var body struct{ Tags []struct{ Path string } }
	getJSONAuth(t, f, "/api/v1/tags", f.scopedV, &body)
	if len(body.Tags) != 1 || body.Tags[0].Path != "acme/a/m1/x" {
		t.Fatalf("scoped viewer sees %+v", body.Tags)
	}
	getJSONAuth(t, f, "/api/v1/tags", f.viewer, &body)
	if len(body.Tags) != 2 {
		t.Fatalf("plant-wide viewer sees %d tags", len(body.Tags))
	}
	if resp := f.do(t, nil, "GET", "/api/v1/devices", f.scopedV, nil, nil); resp.StatusCode != 403 {
		t.Errorf("devices for a scoped viewer: %d, want 403", resp.StatusCode)
	}
}

func getJSONAuth(t *testing.T, f *authFixture, path, tok string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	if err := jsonDecode(resp.Body, v); err != nil {
		t.Fatal(err)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// browser is a cookie-keeping client that does not follow redirects.
func browser(t *testing.T, f *authFixture) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := noRedirect(f.srv.Client())
	c.Jar = jar
	return c
}

func getCSRF(t *testing.T, f *authFixture, c *http.Client, path string) (string, *http.Response) {
	t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no csrf token in %d %s", path, resp.StatusCode, b)
	}
	return string(m[1]), resp
}

func postForm(t *testing.T, f *authFixture, c *http.Client, path string, v url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(f.srv.URL+path, v)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestLoginCookieCSRFLogout logs a viewer in through the form: the cookie
// has its flags and changes at login; POSTs of the session need the CSRF
// token; logout ends the session.
func TestLoginCookieCSRFLogout(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	c := browser(t, f)
	csrf, resp := getCSRF(t, f, c, "/login")
	var first *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == httpauth.CookieName {
			first = ck
		}
	}
	if first == nil {
		t.Fatal("no session cookie on the login page")
	}
	if !first.Secure || !first.HttpOnly || first.SameSite != http.SameSiteStrictMode || first.Path != "/" || first.Domain != "" {
		t.Errorf("cookie flags: %+v", first)
	}
	// Without the CSRF token the login form is refused.
	if r := postForm(t, f, c, "/login", url.Values{"step": {"password"}, "user": {"vera"}, "password": {"correct horse battery V9"}}); r.StatusCode != 403 {
		t.Errorf("login without csrf: %d, want 403", r.StatusCode)
	}
	r := postForm(t, f, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"vera"}, "password": {"correct horse battery V9"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	var second *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == httpauth.CookieName {
			second = ck
		}
	}
	if second == nil || second.Value == first.Value {
		t.Fatal("the session id did not change at login (fixation)")
	}
	// The home page lists the machines and carries the new CSRF token.
	csrf2, resp := getCSRF(t, f, c, "/")
	if resp.StatusCode != 200 {
		t.Fatalf("home: %d", resp.StatusCode)
	}
	// A cookie-session POST without the token: refused by the middleware.
	if r := postForm(t, f, c, "/logout", url.Values{}); r.StatusCode != 403 {
		t.Errorf("logout without csrf: %d, want 403", r.StatusCode)
	}
	if r := postForm(t, f, c, "/logout", url.Values{"csrf_token": {csrf2}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", r.StatusCode)
	}
	// The old cookie no longer works.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/tags", nil)
	req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: second.Value})
	if resp, err := f.srv.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("tags after logout: %v %v", err, resp.StatusCode)
	}
}

// TestLoginLockout: five wrong passwords lock the account; then even the
// right one is refused.
func TestLoginLockout(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	c := browser(t, f)
	for i := 0; i < 5; i++ {
		csrf, _ := getCSRF(t, f, c, "/login")
		r := postForm(t, f, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"vera"}, "password": {"wrong password " + string(rune('a'+i))}})
		if r.StatusCode != 401 && r.StatusCode != 403 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	csrf, _ := getCSRF(t, f, c, "/login")
	if r := postForm(t, f, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"vera"}, "password": {"correct horse battery V9"}}); r.StatusCode != 403 {
		t.Fatalf("right password on a locked account: %d, want 403", r.StatusCode)
	}
}

// TestLoginRateLimit: an address that used its attempts gets 429.
func TestLoginRateLimit(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 2, LoginEvery: time.Hour})
	c := browser(t, f)
	var last int
	for i := 0; i < 4; i++ {
		csrf, _ := getCSRF(t, f, c, "/login")
		last = postForm(t, f, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"nobody" + string(rune('a'+i))}, "password": {"x"}}).StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("after 4 attempts with a burst of 2: %d, want 429", last)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

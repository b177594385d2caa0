package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// testClock is the auth service's clock: tests age sessions past the
// step-up window without waiting.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock           { c := &testClock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// fakeWrites is a Writes over a map, recording what was written.
type fakeWrites struct {
	mu     sync.Mutex
	tags   map[string]WritableTag
	writes []string
	err    error
}

func (f *fakeWrites) Writable(path string) (WritableTag, bool) {
	t, ok := f.tags[path]
	return t, ok
}

func (f *fakeWrites) Write(_ context.Context, path string, v model.Value) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.writes = append(f.writes, path+"="+v.String())
	return nil
}

func (f *fakeWrites) done() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// adminFixture: a TLS server with real auth, a test clock, fake writes and
// users with authenticator apps: ada (admin), otto (operator on acme/a),
// pam (operator, whole plant) and vera (viewer).
type adminFixture struct {
	*authFixture
	clock   *testClock
	writes  *fakeWrites
	server  *Server
	secrets map[string]string // TOTP secrets by user
	sinkOK  atomic.Bool
}

const testPass = "correct horse battery staple 7"

func newAdminFixture(t *testing.T, withWrites bool) *adminFixture {
	t.Helper()
	ctx := context.Background()
	f := &adminFixture{clock: newTestClock(), secrets: map[string]string{}}
	f.sinkOK.Store(true)
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: cheap, Logger: slog.New(slog.DiscardHandler),
		LoginBurst: 1000, Now: f.clock.Now, RPID: "localhost", RPOrigins: []string{"https://localhost:8443"},
		AuditSink: func(context.Context, auth.Event) error {
			if !f.sinkOK.Load() {
				return errors.New("log closed")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	for _, u := range []struct {
		name, role string
		scopes     []string
	}{{"ada", auth.RoleAdmin, nil}, {"otto", auth.RoleOperator, []string{"acme/a"}}, {"pam", auth.RoleOperator, nil}, {"vera", auth.RoleViewer, nil}} {
		usr, err := svc.CreateUser(ctx, u.name, testPass, []string{u.role}, u.scopes)
		if err != nil {
			t.Fatal(err)
		}
		if u.role == auth.RoleViewer {
			continue
		}
		en, err := svc.EnrollTOTP(ctx, usr.ID)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(en.Secret, f.clock.Now().Add(-30*time.Second))
		if _, err := svc.ConfirmTOTP(ctx, usr.ID, code); err != nil {
			t.Fatal(err)
		}
		f.secrets[u.name] = en.Secret
	}
	src := fakeSource{tags: []Tag{
		{Path: "acme/a/m1/x", Value: model.FloatValue(model.Float64, 1.5), Quality: model.Good},
		{Path: "acme/a/m1/sp", Value: model.FloatValue(model.Float64, 20), Quality: model.Good, Unit: "%"},
		{Path: "acme/b/m2/sp", Value: model.FloatValue(model.Float64, 5), Quality: model.Good},
	}}
	opts := Options{Listen: "127.0.0.1:0", Source: src, Auth: svc}
	if withWrites {
		f.writes = &fakeWrites{tags: map[string]WritableTag{
			"acme/a/m1/sp": {Path: "acme/a/m1/sp", Type: model.Float32, Unit: "%", Min: 0, Max: 100, MaxStep: 30},
			"acme/b/m2/sp": {Path: "acme/b/m2/sp", Type: model.Uint16, Min: 0, Max: 10},
		}}
		opts.Writes = f.writes
	}
	f.server = New(opts)
	// The security-key login routes are not yet in allRoutes (see
	// loginKeyRoutes): serve them beside the server's handler.
	mux := http.NewServeMux()
	for _, rt := range f.server.loginKeyRoutes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.Handle("/", f.server.Handler())
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	f.authFixture = &authFixture{svc: svc, srv: srv}
	return f
}

// code is the user's TOTP code at the fixture's clock.
func (f *adminFixture) code(t *testing.T, user string) string {
	t.Helper()
	c, err := totp.GenerateCode(f.secrets[user], f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login signs a user in through the forms (password, then TOTP) and
// returns the cookie-keeping client.
func (f *adminFixture) login(t *testing.T, user string) *http.Client {
	t.Helper()
	c := browser(t, f.authFixture)
	csrf, _ := getCSRF(t, f.authFixture, c, "/login")
	if r := postForm(t, f.authFixture, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {user}, "password": {testPass}}); r.StatusCode != 303 {
		t.Fatalf("%s password: %d", user, r.StatusCode)
	}
	if f.secrets[user] != "" {
		csrf, _ = getCSRF(t, f.authFixture, c, "/login")
		if r := postForm(t, f.authFixture, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"totp"}, "code": {f.code(t, user)}}); r.StatusCode != 303 {
			t.Fatalf("%s totp: %d", user, r.StatusCode)
		}
	}
	return c
}

// page GETs path and returns status and body.
func getPage(t *testing.T, f *adminFixture, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form with the page's CSRF token (taken from csrfFrom) and
// returns status and body.
func post(t *testing.T, f *adminFixture, c *http.Client, csrfFrom, path string, v url.Values) (int, string) {
	t.Helper()
	if csrfFrom != "" {
		csrf, _ := getCSRF(t, f.authFixture, c, csrfFrom)
		v.Set("csrf_token", csrf)
	}
	resp, err := c.PostForm(f.srv.URL+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustContain(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s lacks %q", what, p)
		}
	}
}

// TestAdminStepUpAndUsers: sensitive user administration needs a step-up
// once the login is older than the window; the actions do what they say
// and are audited with the administrator as actor.
func TestAdminStepUpAndUsers(t *testing.T) {
	f := newAdminFixture(t, false)
	ctx := context.Background()
	c := f.login(t, "ada")
	f.clock.Add(stepUpWindow + time.Minute)

	st, body := getPage(t, f, c, "/users")
	if st != 200 {
		t.Fatalf("users page: %d", st)
	}
	mustContain(t, "users page", body, `data-user="otto"`, "/stepup?next=/users", "authenticator app")
	// Not fresh: adding a user shows the step-up page and adds nobody.
	st, body = post(t, f, c, "/users", "/users", url.Values{"name": {"bob"}, "roles": {"operator"}})
	if st != http.StatusForbidden || !strings.Contains(body, `action="/stepup"`) || !strings.Contains(body, errcode.AuthStepUpRequired.String()) {
		t.Fatalf("stale add user: %d %.300s", st, body)
	}
	if _, err := f.svc.User(ctx, "bob"); errcode.Of(err) != errcode.AuthUserNotFound {
		t.Fatalf("bob created without step-up: %v", err)
	}
	// A wrong code is refused; the right one goes back to the page.
	st, body = post(t, f, c, "/stepup?next=/users", "/stepup", url.Values{"next": {"/users"}, "stepup_method": {"totp"}, "stepup_code": {"000000"}})
	if st != http.StatusBadRequest || !strings.Contains(body, errcode.AuthMFAInvalid.String()) {
		t.Fatalf("wrong step-up code: %d", st)
	}
	// An open redirect through next is not possible.
	if safeNext("//evil.example/x") != "/" || safeNext("https://evil.example") != "/" || safeNext("/users") != "/users" {
		t.Error("safeNext lets a foreign target through")
	}
	f.clock.Add(30 * time.Second) // a new TOTP step: codes are single-use
	resp := postForm(t, f.authFixture, c, "/stepup", url.Values{"csrf_token": {mustCSRF(t, f, c, "/stepup?next=/users")}, "next": {"/users"}, "stepup_method": {"totp"}, "stepup_code": {f.code(t, "ada")}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/users" {
		t.Fatalf("step-up: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	st, body = post(t, f, c, "/users", "/users", url.Values{"name": {"bob"}, "roles": {"operator"}, "scopes": {"acme/a, acme/b"}})
	if st != 200 {
		t.Fatalf("add user after step-up: %d %.500s", st, body)
	}
	m := regexpFind(body, `id="new-password">([^<]+)<`)
	if m == "" {
		t.Fatal("no one-time password shown")
	}
	if _, err := f.svc.Login(auth.WithClientIP(ctx, "127.0.0.1"), "", "bob", m); err != nil {
		t.Fatalf("the shown password does not log bob in: %v", err)
	}
	bob, _ := f.svc.User(ctx, "bob")
	if len(bob.Scopes) != 2 || bob.Roles[0] != "operator" {
		t.Errorf("bob: %+v", bob)
	}
	// Names are checked: no markup gets into a user name.
	if st, _ := post(t, f, c, "/users", "/users", url.Values{"name": {`<img src=x onerror=alert(1)>`}, "roles": {"viewer"}}); st != http.StatusBadRequest {
		t.Errorf("user name with markup: %d, want 400", st)
	}
	// Roles, disable, enable, lock and unlock, reset MFA.
	if st, _ := post(t, f, c, "/users", "/users/bob/roles", url.Values{"roles": {"viewer"}, "scopes": {""}}); st != 303 {
		t.Fatalf("set roles: %d", st)
	}
	bob, _ = f.svc.User(ctx, "bob")
	if len(bob.Roles) != 1 || bob.Roles[0] != "viewer" || bob.Scopes[0] != "*" {
		t.Errorf("bob after roles: %+v", bob)
	}
	if st, _ := post(t, f, c, "/users", "/users/bob/disable", url.Values{}); st != 303 {
		t.Fatalf("disable: %d", st)
	}
	if bob, _ = f.svc.User(ctx, "bob"); !bob.Disabled {
		t.Error("bob not disabled")
	}
	if st, _ := post(t, f, c, "/users", "/users/ada/disable", url.Values{}); st != http.StatusBadRequest {
		t.Errorf("disabling oneself: %d, want 400", st)
	}
	post(t, f, c, "/users", "/users/bob/enable", url.Values{})
	for i := range 5 {
		f.svc.Login(auth.WithClientIP(ctx, "127.0.0.1"), "", "bob", "wrong "+strconv.Itoa(i))
	}
	if bob, _ = f.svc.User(ctx, "bob"); bob.Disabled || bob.Locked.IsZero() {
		t.Fatalf("bob should be enabled and locked: %+v", bob)
	}
	if st, _ := post(t, f, c, "/users", "/users/bob/unlock", url.Values{}); st != 303 {
		t.Fatalf("unlock: %d", st)
	}
	if bob, _ = f.svc.User(ctx, "bob"); !bob.Locked.IsZero() {
		t.Error("bob still locked")
	}
	if st, _ := post(t, f, c, "/users", "/users/otto/reset-mfa", url.Values{}); st != 303 {
		t.Fatalf("reset mfa: %d", st)
	}
	if otto, _ := f.svc.User(ctx, "otto"); otto.HasMFA() {
		t.Error("otto kept his second factor")
	}
	if st, _ := post(t, f, c, "/users", "/users/bob/nonsense", url.Values{}); st != 404 {
		t.Errorf("unknown action: %d", st)
	}
	// Each action is in the audit trail, by ada.
	var res struct {
		Events []struct {
			Actor, Action, Object string
			InLog                 bool `json:"in_log"`
		}
	}
	getJSONAuth(t, f.authFixture, "/api/v1/audit?actor=ada&action=user.", adminToken(t, f), &res)
	seen := map[string]bool{}
	for _, e := range res.Events {
		seen[e.Action+" "+e.Object] = true
		if !e.InLog {
			t.Errorf("event %s %s not in the integrity log", e.Action, e.Object)
		}
	}
	for _, want := range []string{"user.create user/bob", "user.roles user/bob", "user.disable user/bob", "user.enable user/bob", "user.unlock user/bob"} {
		if !seen[want] {
			t.Errorf("audit lacks %q: %v", want, seen)
		}
	}
}

func mustCSRF(t *testing.T, f *adminFixture, c *http.Client, path string) string {
	t.Helper()
	csrf, _ := getCSRF(t, f.authFixture, c, path)
	return csrf
}

func regexpFind(s, re string) string {
	m := regexpMust(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

var tokenOnce sync.Map

// adminToken is a plant-wide admin token of ada, for JSON reads.
func adminToken(t *testing.T, f *adminFixture) string {
	t.Helper()
	if v, ok := tokenOnce.Load(f); ok {
		return v.(string)
	}
	sec, _, err := f.svc.CreateToken(context.Background(), "ada", "reader", []string{auth.PermAuditRead, auth.PermUsersAdmin}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokenOnce.Store(f, sec)
	return sec
}

// TestTokensPageXSS: a token created through the page shows its secret
// once, its name escaped; revoking works; the list API agrees.
func TestTokensPageXSS(t *testing.T) {
	f := newAdminFixture(t, false)
	c := f.login(t, "ada") // fresh: the login is the strong authentication
	evil := `<script>alert("x")</script>`
	st, body := post(t, f, c, "/tokens", "/tokens", url.Values{"user": {"otto"}, "name": {evil}, "perms": {"tags.read", "tags.write"}, "scopes": {"acme/a"}, "days": {"30"}})
	if st != 200 {
		t.Fatalf("create token: %d %.400s", st, body)
	}
	secret := regexpFind(body, `id="new-secret">([^<]+)<`)
	if !strings.HasPrefix(secret, auth.TokenPrefix) {
		t.Fatalf("no secret shown: %q", secret)
	}
	if strings.Contains(body, evil) || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("token name not escaped on the tokens page")
	}
	p, err := f.svc.AuthenticateToken(context.Background(), secret)
	if err != nil || p.Name != "otto" || p.TokenScopes[0] != "acme/a" {
		t.Fatalf("token: %+v %v", p, err)
	}
	// A token beyond its user's permissions is refused.
	if st, _ := post(t, f, c, "/tokens", "/tokens", url.Values{"user": {"otto"}, "name": {"x"}, "perms": {"users.admin"}, "days": {"1"}}); st != 403 {
		t.Errorf("token above its owner: %d, want 403", st)
	}
	if st, _ := post(t, f, c, "/tokens", "/tokens", url.Values{"user": {"otto"}, "name": {"x"}, "perms": {"tags.read"}, "days": {"x"}}); st != 400 {
		t.Errorf("bad expiry: %d, want 400", st)
	}
	var list struct{ Tokens []auth.Token }
	getJSONAuth(t, f.authFixture, "/api/v1/tokens", adminToken(t, f), &list)
	var id int64
	for _, tk := range list.Tokens {
		if tk.Name == evil {
			id = tk.ID
		}
	}
	if id == 0 {
		t.Fatalf("token not listed: %+v", list)
	}
	if st, _ := post(t, f, c, "/tokens", "/tokens/"+strconv.FormatInt(id, 10)+"/revoke", url.Values{}); st != 303 {
		t.Fatalf("revoke: %d", st)
	}
	if _, err := f.svc.AuthenticateToken(context.Background(), secret); err == nil {
		t.Error("revoked token still works")
	}
	// The audit page escapes the token's name in the event detail.
	_, body = getPage(t, f, c, "/audit?action=token.create")
	if strings.Contains(body, evil) || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("audit page does not escape the detail")
	}
	// Stale session: token creation needs the step-up.
	f.clock.Add(stepUpWindow + time.Minute)
	if st, body := post(t, f, c, "/tokens", "/tokens", url.Values{"user": {"otto"}, "name": {"late"}, "perms": {"tags.read"}, "days": {"1"}}); st != 403 || !strings.Contains(body, "/stepup") {
		t.Errorf("stale token create: %d", st)
	}
}

// TestAuditSearch: filters, pages, bad parameters, the integrity-log flag,
// and escaping of stored details.
func TestAuditSearch(t *testing.T) {
	f := newAdminFixture(t, false)
	ctx := context.Background()
	base := f.clock.Now().UTC().Truncate(time.Second)
	f.sinkOK.Store(false) // these wait for the integrity log
	for i := range 7 {
		e := auth.Event{Time: base.Add(time.Duration(i) * time.Minute), Actor: "act" + strconv.Itoa(i%2), Action: "test.event", Object: "o" + strconv.Itoa(i),
			Outcome: []string{auth.OutcomeOK, auth.OutcomeDenied}[i%2], Detail: `<img src=x onerror=alert(1)> n` + strconv.Itoa(i)}
		if err := f.svc.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tok := adminToken(t, f)
	type auditPage struct {
		Events []struct {
			ID     int64
			Object string
			InLog  bool `json:"in_log"`
		}
		Next int64
	}
	var p auditPage
	getJSONAuth(t, f.authFixture, "/api/v1/audit?action=test.event&limit=3", tok, &p)
	if len(p.Events) != 3 || p.Events[0].Object != "o6" || p.Next == 0 || p.Events[0].InLog {
		t.Fatalf("first page: %+v", p)
	}
	var all []string
	for range 5 { // bounded: 7 events in pages of 3
		for _, e := range p.Events {
			all = append(all, e.Object)
		}
		if p.Next == 0 {
			break
		}
		getJSONAuth(t, f.authFixture, "/api/v1/audit?action=test.event&limit=3&before="+strconv.FormatInt(p.Next, 10), tok, &p)
	}
	if strings.Join(all, ",") != "o6,o5,o4,o3,o2,o1,o0" {
		t.Errorf("pages: %v", all)
	}
	for q, want := range map[string]int{
		"actor=act1":                       3,
		"outcome=denied&action=test.event": 3,
		"text=n4":                          1,
		"action=test.&from=" + base.Add(2*time.Minute).Format("2006-01-02T15:04:05") + "&to=" + base.Add(4*time.Minute).Format(time.RFC3339): 2,
	} {
		getJSONAuth(t, f.authFixture, "/api/v1/audit?"+q, tok, &p)
		if len(p.Events) != want {
			t.Errorf("%s: %d events, want %d", q, len(p.Events), want)
		}
	}
	for _, q := range []string{"from=yesterday", "limit=-1", "before=x"} {
		resp := f.do(t, nil, "GET", "/api/v1/audit?"+q, tok, nil, nil)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	// Once the sink takes them, the events are in the log.
	f.sinkOK.Store(true)
	if err := f.svc.ResendAudit(ctx); err != nil {
		t.Fatal(err)
	}
	getJSONAuth(t, f.authFixture, "/api/v1/audit?action=test.event&limit=1", tok, &p)
	if !p.Events[0].InLog {
		t.Error("event not marked in the log after the sink took it")
	}
	// The page: filters kept, details escaped, a link to older events.
	c := f.login(t, "ada")
	st, body := pageGet(t, f, c, "/audit?action=test.event&limit=3&text=%22%3E%3Cb%3E")
	if st != 200 {
		t.Fatalf("audit page: %d", st)
	}
	if strings.Contains(body, "<b>") || strings.Contains(body, "<img src=x") {
		t.Error("audit page lets markup through")
	}
	st, body = pageGet(t, f, c, "/audit?action=test.event&limit=3")
	mustContain(t, "audit page", body, "&lt;img src=x", "before=", `value="test.event"`, "in the log")
	if st, _ := pageGet(t, f, c, "/audit?from=nonsense"); st != 400 {
		t.Errorf("bad filter on the page: %d", st)
	}
}

func pageGet(t *testing.T, f *adminFixture, c *http.Client, path string) (int, string) {
	return getPage(t, f, c, path)
}

// TestAdminRoutesRefused: every route of admin.go and write.go refuses
// anonymous callers and under-privileged sessions, and every POST refuses
// a request without the CSRF token.
func TestAdminRoutesRefused(t *testing.T) {
	f := newAdminFixture(t, true)
	vera := f.login(t, "vera") // viewer
	otto := f.login(t, "otto") // operator on acme/a: tags.write, not users.admin
	ada := f.login(t, "ada")   // admin
	perms := map[string][]string{"vera": auth.BuiltinRoles[auth.RoleViewer], "otto": auth.BuiltinRoles[auth.RoleOperator]}
	routes := append(f.server.adminRoutes(), f.server.writeRoutes()...)
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{path...}", "acme/a/m1/sp", "{name}", "otto", "{action}", "disable", "{id}", "1").Replace(path)
		// Anonymous.
		resp := f.do(t, noRedirect(f.srv.Client()), method, path, "", nil, nil)
		if rt.Access == page && (resp.StatusCode != 303 || resp.Header.Get("Location") != "/login") {
			t.Errorf("%s anonymous: %d", rt.Pattern, resp.StatusCode)
		} else if rt.Access != page && resp.StatusCode != 401 {
			t.Errorf("%s anonymous: %d", rt.Pattern, resp.StatusCode)
		}
		// Sessions without the permission: 403.
		for name, c := range map[string]*http.Client{"vera": vera, "otto": otto} {
			has := false
			for _, p := range perms[name] {
				has = has || p == rt.Perm
			}
			if has {
				continue
			}
			var r *http.Response
			if method == "POST" {
				r = postForm(t, f.authFixture, c, path, url.Values{"csrf_token": {mustCSRF(t, f, c, "/keys")}})
			} else {
				r = f.do(t, c, method, path, "", nil, nil)
			}
			if r.StatusCode != 403 {
				t.Errorf("%s as %s: %d, want 403", rt.Pattern, name, r.StatusCode)
			}
		}
		// CSRF: an admin's session POST without the token is refused.
		if method == "POST" {
			r := postForm(t, f.authFixture, ada, path, url.Values{"name": {"x"}})
			if r.StatusCode != 403 {
				t.Errorf("%s without csrf: %d, want 403", rt.Pattern, r.StatusCode)
			}
		}
	}
	// An admin scoped to part of the plant may not administer the plant.
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, "sal", testPass, []string{auth.RoleAdmin}, []string{"acme/a"}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.svc.CreateToken(ctx, "sal", "t", auth.AllPerms, []string{"acme/a"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/users", "/tokens", "/audit", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit"} {
		if r := f.do(t, nil, "GET", p, tok, nil, nil); r.StatusCode != 403 {
			t.Errorf("%s for an admin scoped to acme/a: %d, want 403", p, r.StatusCode)
		}
	}
	// Tokens cannot step up, so session-only routes say so (400), not 500.
	admTok := adminToken(t, f)
	for _, p := range []string{"/api/v1/stepup/webauthn", "/api/v1/webauthn/register/begin", "/users", "/tokens"} {
		if r := f.do(t, nil, "POST", p, admTok, nil, nil); r.StatusCode != 400 && r.StatusCode != 403 {
			t.Errorf("POST %s with a token: %d", p, r.StatusCode)
		}
	}
}

// webKey is a software authenticator (ES256, "none" attestation), as
// auth's tests use, for the HTTP ceremonies.
type webKey struct {
	key    *ecdsa.PrivateKey
	id     []byte
	count  uint32
	rpID   string
	origin string
}

func newWebKey() *webKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 16)
	rand.Read(id)
	return &webKey{key: k, id: id, rpID: "localhost", origin: "https://localhost:8443"}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *webKey) challenge(t *testing.T, options []byte) string {
	var o struct {
		PublicKey struct{ Challenge string } `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", options, err)
	}
	return o.PublicKey.Challenge
}

func (k *webKey) clientData(typ, ch string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": ch, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *webKey) authData(flags byte, rest []byte) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	d := binary.BigEndian.AppendUint32(append(h[:], flags), k.count)
	return append(d, rest...)
}

func (k *webKey) register(t *testing.T, options []byte) []byte {
	cose, _ := webauthncbor.Marshal(map[int64]any{1: int64(2), 3: int64(-7), -1: int64(1),
		-2: k.key.PublicKey.X.FillBytes(make([]byte, 32)), -3: k.key.PublicKey.Y.FillBytes(make([]byte, 32))})
	att := binary.BigEndian.AppendUint16(make([]byte, 16), uint16(len(k.id)))
	att = append(append(att, k.id...), cose...)
	obj, _ := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(0x45, att)})
	b, _ := json.Marshal(map[string]any{"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key",
		"response": map[string]any{"attestationObject": b64u(obj), "clientDataJSON": b64u(k.clientData("webauthn.create", k.challenge(t, options)))}})
	return b
}

func (k *webKey) assert(t *testing.T, options []byte) []byte {
	k.count++
	ad := k.authData(0x05, nil)
	cd := k.clientData("webauthn.get", k.challenge(t, options))
	ch := sha256.Sum256(cd)
	dg := sha256.Sum256(append(append([]byte{}, ad...), ch[:]...))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.key, dg[:])
	b, _ := json.Marshal(map[string]any{"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key",
		"response": map[string]any{"authenticatorData": b64u(ad), "clientDataJSON": b64u(cd), "signature": b64u(sig)}})
	return b
}

// postJSON posts body with the CSRF header and returns status and body.
func postJSON(t *testing.T, f *adminFixture, c *http.Client, path, csrf string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestSecurityKeyHTTP registers a key through the HTTP API, steps up with
// it, and logs in with it as the second factor; and the error paths.
func TestSecurityKeyHTTP(t *testing.T) {
	f := newAdminFixture(t, false)
	key := newWebKey()
	c := f.login(t, "ada")
	st, body := getPage(t, f, c, "/keys")
	if st != 200 || !strings.Contains(body, "webauthn-register") {
		t.Fatalf("keys page: %d", st)
	}
	csrf := mustCSRF(t, f, c, "/stepup?next=/keys")
	// Finish without begin: no ceremony.
	if st, b := postJSON(t, f, c, "/api/v1/webauthn/register/finish", csrf, []byte(`{"name":"k","credential":{"id":"x"}}`)); st != 400 {
		t.Errorf("finish without begin: %d %s", st, b)
	}
	if st, _ := postJSON(t, f, c, "/api/v1/webauthn/register/finish", csrf, []byte(`not json`)); st != 400 {
		t.Errorf("garbage finish: %d", st)
	}
	if st, _ := postJSON(t, f, c, "/api/v1/webauthn/register/begin", "", nil); st != 403 {
		t.Errorf("begin without csrf: %d", st)
	}
	st, opts := postJSON(t, f, c, "/api/v1/webauthn/register/begin", csrf, nil)
	if st != 200 {
		t.Fatalf("begin: %d %s", st, opts)
	}
	fin, _ := json.Marshal(map[string]any{"name": "desk key", "credential": json.RawMessage(key.register(t, opts))})
	if st, b := postJSON(t, f, c, "/api/v1/webauthn/register/finish", csrf, fin); st != 200 {
		t.Fatalf("finish: %d %s", st, b)
	}
	ada, _ := f.svc.User(context.Background(), "ada")
	if ada.WebAuthn != 1 {
		t.Fatalf("ada has %d keys", ada.WebAuthn)
	}
	if _, body := getPage(t, f, c, "/keys"); !strings.Contains(body, "desk key") {
		t.Error("keys page does not list the new key")
	}
	// Stale: adding another key needs a step-up; do it with the key.
	f.clock.Add(stepUpWindow + time.Minute)
	if st, _ := postJSON(t, f, c, "/api/v1/webauthn/register/begin", csrf, nil); st != 403 {
		t.Errorf("stale begin: %d, want 403", st)
	}
	st, opts = postJSON(t, f, c, "/api/v1/stepup/webauthn", csrf, nil)
	if st != 200 {
		t.Fatalf("step-up begin: %d %s", st, opts)
	}
	resp := postForm(t, f.authFixture, c, "/stepup", url.Values{"csrf_token": {csrf}, "next": {"/keys"}, "stepup_method": {"webauthn"}, "stepup_webauthn": {string(key.assert(t, opts))}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/keys" {
		t.Fatalf("step-up with key: %d", resp.StatusCode)
	}
	// A replayed answer fails (the challenge was spent).
	csrf = mustCSRF(t, f, c, "/stepup?next=/keys")
	if st, b := post(t, f, c, "", "/stepup", url.Values{"csrf_token": {csrf}, "next": {"/keys"}, "stepup_method": {"webauthn"}, "stepup_webauthn": {string(key.assert(t, opts))}}); st != 400 {
		t.Errorf("replayed step-up: %d %.200s", st, b)
	}

	// Login: password, then the key through /login/key.
	l := browser(t, f.authFixture)
	lc, _ := getCSRF(t, f.authFixture, l, "/login")
	postForm(t, f.authFixture, l, "/login", url.Values{"csrf_token": {lc}, "step": {"password"}, "user": {"ada"}, "password": {testPass}})
	lc, _ = getCSRF(t, f.authFixture, l, "/login")
	if st, _ := postJSON(t, f, l, "/login/key/begin", "", nil); st != 403 {
		t.Errorf("login key begin without csrf: %d", st)
	}
	st, opts = postJSON(t, f, l, "/login/key/begin", lc, nil)
	if st != 200 {
		t.Fatalf("login key begin: %d %s", st, opts)
	}
	if r := postForm(t, f.authFixture, l, "/login/key", url.Values{"csrf_token": {lc}, "webauthn": {`{"id":"bad"}`}}); r.StatusCode != 400 {
		t.Errorf("bad login answer: %d", r.StatusCode)
	}
	lc, _ = getCSRF(t, f.authFixture, l, "/login")
	_, opts = postJSON(t, f, l, "/login/key/begin", lc, nil)
	if r := postForm(t, f.authFixture, l, "/login/key", url.Values{"csrf_token": {lc}, "webauthn": {string(key.assert(t, opts))}}); r.StatusCode != 303 {
		t.Fatalf("login with key: %d", r.StatusCode)
	}
	if st, _ := getPage(t, f, l, "/keys"); st != 200 {
		t.Errorf("after key login: %d", st)
	}
	// Anonymous: no ceremony.
	if st, _ := postJSON(t, f, browser(t, f.authFixture), "/login/key/begin", "x", nil); st != 401 {
		t.Errorf("begin without a session: %d", st)
	}
}

func regexpMust(re string) *regexp.Regexp { return regexp.MustCompile(re) }

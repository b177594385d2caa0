package web

// The security-key browser test: chromium's virtual authenticator (the
// DevTools WebAuthn domain) stands in for a key, and webauthn.js runs
// navigator.credentials.create and .get against the real server: a user
// signs in with TOTP, adds a key on /keys, signs out, signs in with the
// password and the key, and steps up with the key.
//
// WebAuthn needs a relying party ID that is a domain, not an IP address,
// and the origin of the page must be one the server expects: the browser
// reaches the server as https://localhost:PORT and the auth service is
// configured with RPID localhost and exactly that origin (production:
// https://localhost:8443 by default).

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/otlink/otlink/internal/auth"
)

func TestBrowserWebAuthn(t *testing.T) {
	if chromiumPath() == "" || testing.Short() {
		t.Skip("browser tests need chromium and no -short")
	}
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	origin := "https://localhost:" + port

	// Accounts on a clock the test moves: the login is older than the
	// step-up window when the user confirms with the key.
	clock := newTestClock()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: cheap, Logger: slog.New(slog.DiscardHandler),
		LoginBurst: 1000, Now: clock.Now, RPID: "localhost", RPOrigins: []string{origin}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	const pass = "correct horse battery K8"
	kim, err := svc.CreateUser(ctx, "kim", pass, []string{auth.RoleOperator}, nil)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	secret := enrolTOTP(t, svc, kim.ID, clock.Now())

	s := New(Options{Source: &liveSource{}, Auth: svc, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { close(s.quit) })
	f, _ := serveBrowser(t, s.Handler(), ln, "localhost")
	tab := f.tab(t)

	// The virtual authenticator: a platform key (internal transport) with
	// CTAP 2.1, resident keys and user verification, that answers without
	// a touch.
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	if _, err := chromedp.Call(sctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		cancel()
		t.Fatalf("enable the WebAuthn domain: %v", err)
	}
	va, err := chromedp.Call(sctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	cancel()
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	credentials := func() []*webauthn.Credential {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		r, err := chromedp.Call(sctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: va.AuthenticatorID})
		if err != nil {
			t.Fatalf("credentials of the virtual authenticator: %v", err)
		}
		return r.Credentials
	}
	// audited reports whether the audit trail has an ok event of action
	// whose detail contains detail.
	audited := func(action, detail string) bool {
		evs, _, err := svc.SearchAudit(ctx, auth.AuditFilter{Action: action, Outcome: auth.OutcomeOK}, auth.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if strings.Contains(e.Detail, detail) {
				return true
			}
		}
		return false
	}
	// status is what webauthn.js said, for the failure messages.
	status := func() string {
		return evalJS[string](t, tab, `Array.from(document.querySelectorAll(".webauthn-status")).map(function (e) { return e.textContent; }).join(" | ")`)
	}

	// 1. Sign in with the authenticator app, add a key on /keys.
	f.loginTOTP(t, tab, "kim", pass, secret, clock.Now())
	if st := load(t, tab, "open keys", chromedp.Navigate(f.url+"/keys")); st != 200 {
		t.Fatalf("keys page: %d", st)
	}
	if p := text(t, tab, "main"); !strings.Contains(p, "No security key yet.") {
		t.Fatalf("keys page of a user without keys says %q", p)
	}
	f.shot(t, tab, "40-keys-empty")
	do(t, tab, "name the key", chromedp.SendKeys(chromedp.CSS("#key-name"), "desk key"))
	// The page reloads when the server has stored the key.
	do(t, tab, "add the key", chromedp.Click(chromedp.CSS("form.webauthn-register button[type=submit]")))
	err = until(tab, `!!document.querySelector("table.live") && document.querySelector("table.live tbody").textContent.includes("desk key")`)
	if err != nil {
		t.Logf("registration: %v", err)
		f.shot(t, tab, "41-keys-register-failed")
		t.Fatalf("registration did not finish (page says %q): %v", status(), err)
	}
	keys, err := svc.SecurityKeys(ctx, kim.ID)
	if err != nil || len(keys) != 1 || keys[0].Name != "desk key" {
		t.Fatalf("stored keys %+v %v", keys, err)
	}
	if c := credentials(); len(c) != 1 || string(c[0].CredentialID) != string(keys[0].ID) || c[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v, the server %x", c, keys[0].ID)
	}
	if !audited("mfa.webauthn.enrol", "desk key") {
		t.Error("no audit event of the new key")
	}
	if n := evalJS[int](t, tab, `document.querySelectorAll('form[action="/logout"]').length`); n != 1 {
		t.Errorf("the keys page has %d sign-out forms, want the header's only", n)
	}
	f.shot(t, tab, "41-keys-registered")

	// 2. Sign out; sign in with the password and the key.
	load(t, tab, "sign out", chromedp.Click(chromedp.CSS("header form button[type=submit]")))
	if h := text(t, tab, "h1"); h != "Sign in to otlink" {
		t.Fatalf("after signing out: %q", h)
	}
	if st := f.password(t, tab, "kim", pass); st != 200 {
		t.Fatalf("password: %d", st)
	}
	if h := text(t, tab, "h1"); h != "Second factor" {
		t.Fatalf("after the password: %q", h)
	}
	f.shot(t, tab, "42-mfa-with-key")
	do(t, tab, "use the key", chromedp.Click(chromedp.CSS("button.webauthn-login-button")))
	err = until(tab, `location.pathname === "/" && !!document.querySelector("h2") && document.querySelector("h2").textContent === "Machines"`)
	if err != nil {
		f.shot(t, tab, "43-login-key-failed")
		t.Fatalf("login with the key did not finish at home (at %s, page says %q / %q): %v", evalJS[string](t, tab, `location.pathname`),
			status(), evalJS[string](t, tab, `(document.querySelector("p.error") || {}).textContent || ""`), err)
	}
	// Read with JavaScript: the page came from webauthn.js's form.submit,
	// which chromedp's node cache has not followed.
	if b := evalJS[string](t, tab, `document.querySelector("header form button").textContent`); b != "Sign out kim" {
		t.Errorf("signed in as %q", b)
	}
	if !audited("login", "webauthn") {
		t.Error("no audit event of the login with the key")
	}
	f.shot(t, tab, "43-home-after-key")

	// 3. Later, adding another key needs a fresh confirmation: step up
	// with the key.
	clock.Add(stepUpWindow + time.Minute)
	load(t, tab, "open keys", chromedp.Navigate(f.url+"/keys"))
	if n := evalJS[int](t, tab, `document.querySelectorAll("form.webauthn-register").length`); n != 0 {
		t.Fatal("a stale session is offered to add a key")
	}
	load(t, tab, "open step-up", chromedp.Click(chromedp.CSS(`main a[href="/stepup?next=/keys"]`)))
	if h := text(t, tab, "h1"); h != "Confirm it is you" {
		t.Fatalf("step-up page: %q", h)
	}
	f.shot(t, tab, "44-stepup")
	do(t, tab, "confirm with the key", chromedp.Click(chromedp.CSS("button.webauthn-stepup")))
	err = until(tab, `location.pathname === "/keys" && !!document.querySelector("form.webauthn-register")`)
	if err != nil {
		f.shot(t, tab, "45-stepup-failed")
		t.Fatalf("step-up with the key did not return to a fresh /keys (at %s, page says %q / %q): %v", evalJS[string](t, tab, `location.pathname`),
			status(), evalJS[string](t, tab, `(document.querySelector("p.error") || {}).textContent || ""`), err)
	}
	if !audited("stepup", "webauthn") {
		t.Error("no audit event of the step-up with the key")
	}
	// The key signed three times: registration, login, step-up; the
	// counter the server keeps follows the authenticator's.
	if c := credentials(); len(c) != 1 || c[0].SignCount < 2 {
		t.Errorf("authenticator credentials after two assertions: %+v", c)
	}
	f.shot(t, tab, "45-keys-fresh")

	// 4. The same key again: the server excludes it, the authenticator
	// refuses, the page says so and lets the user try again.
	do(t, tab, "name the key again", chromedp.SendKeys(chromedp.CSS("#key-name"), "same key"))
	do(t, tab, "add it again", chromedp.Click(chromedp.CSS("form.webauthn-register button[type=submit]")))
	if err := until(tab, `(function(){ var st = document.querySelector("form.webauthn-register .webauthn-status").textContent;
		return st !== "" && st !== "Touch your security key…" && !document.querySelector("form.webauthn-register button").disabled; })()`); err != nil {
		t.Fatalf("a second registration of the same key: page says %q: %v", status(), err)
	}
	if keys, _ := svc.SecurityKeys(ctx, kim.ID); len(keys) != 1 {
		t.Errorf("the same key was stored twice: %+v", keys)
	}
	if c := credentials(); len(c) != 1 {
		t.Errorf("the authenticator made a second credential: %d", len(c))
	}
	t.Logf("second registration of the same key: %s", status())
	f.shot(t, tab, "46-keys-duplicate")

	// 5. In Traditional Chinese, while the key waits for a touch (no
	// presence now), the page asks for it in Chinese and the button
	// cannot be pressed twice.
	sctx, cancel = context.WithTimeout(tab, stepTimeout)
	_, err = chromedp.Call(sctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: va.AuthenticatorID, Enabled: false})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	load(t, tab, "switch to zh-TW", chromedp.Click(chromedp.CSS("#lang-switch")))
	if h := text(t, tab, "h1"); h != "安全金鑰" {
		t.Fatalf("zh-TW keys page: %q", h)
	}
	do(t, tab, "name a key", chromedp.SendKeys(chromedp.CSS("#key-name"), "spare"), chromedp.Click(chromedp.CSS("form.webauthn-register button[type=submit]")))
	if err := until(tab, `document.querySelector("form.webauthn-register .webauthn-status").textContent === "請輕觸您的安全金鑰…" &&
		document.querySelector("form.webauthn-register button").disabled`); err != nil {
		t.Errorf("zh-TW pending registration: page says %q: %v", status(), err)
	}
	f.shot(t, tab, "47-keys-touch-zh-TW")
}

// until polls predicate every 50 ms until it is true, within stepTimeout,
// through the navigations the page makes meanwhile (which end a
// chromedp.Poll): it returns the last error when the predicate never held.
func until(ctx context.Context, predicate string) error {
	deadline := time.Now().Add(stepTimeout)
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](predicate))
		cancel()
		if err == nil && ok {
			return nil
		}
		if err == nil {
			err = errors.New("not yet: " + predicate)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

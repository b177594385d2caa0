package web

// Browser tests: Debian's chromium, driven through chromedp, against the
// real handler served over TLS with a certificate from internal/tlsca. They
// skip when no chromium is installed (scripts/test installs it). Screenshots
// go to $OTLINK_ARTIFACTS/browser (a path relative to this package's folder
// when relative), else to a temporary folder.

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/historian/store"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/tlsca"
)

// stepTimeout bounds each browser step: a hung page fails the step, not
// the whole test binary.
const stepTimeout = 10 * time.Second

// browserFixture is a TLS server with real auth and one headless chromium.
type browserFixture struct {
	svc       *auth.Service
	src       *liveSource
	url       string
	browser   context.Context // the browser; tabs are made from it
	artifacts string
	totpKey   string // the admin's TOTP secret
	// histFrom is the start of the history the fixture wrote: one sample
	// a second of acme/a/m1/speed and acme/a/m1/temp up to the start.
	histFrom time.Time
}

const (
	adminPass  = "correct horse battery R9"
	viewerPass = "correct horse battery V9"
)

func chromiumPath() string {
	if p := os.Getenv("OTLINK_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func newBrowserFixture(t *testing.T) *browserFixture {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		t.Skip("no chromium installed (apt-get install chromium, or set OTLINK_CHROMIUM): browser tests skipped")
	}
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	ctx := context.Background()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{
		Argon2: cheap, Logger: slog.New(slog.DiscardHandler), LoginBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f := &browserFixture{svc: svc, src: &liveSource{tags: []Tag{
		{Path: "acme/a/m1/speed", Value: model.FloatValue(model.Float64, 1.5), Quality: model.Good, Unit: "rpm", Time: time.Now()},
		{Path: "acme/a/m1/temp", Value: model.FloatValue(model.Float64, 20), Quality: model.Good, Time: time.Now()},
		{Path: "acme/b/m2/level", Quality: model.BadTimeout, Code: "OTL-2102"},
	}}}

	// Users: an administrator with an authenticator app, and viewers.
	admin, err := svc.CreateUser(ctx, "root", adminPass, []string{auth.RoleAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	en, err := svc.EnrollTOTP(ctx, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Confirm with the previous step's code, so that the current one is
	// still unused (codes are single-use) when the browser logs in.
	code, err := totp.GenerateCode(en.Secret, time.Now().Add(-30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, admin.ID, code); err != nil {
		t.Fatal(err)
	}
	f.totpKey = en.Secret
	for _, n := range []string{"vera", "olga"} {
		if _, err := svc.CreateUser(ctx, n, viewerPass, []string{auth.RoleViewer}, nil); err != nil {
			t.Fatal(err)
		}
	}

	// The server certificate comes from the local CA, as in production.
	files, err := tlsca.Ensure(t.TempDir(), tlsca.DefaultNames(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsca.ServerConfig(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	hist, integ, from := openBrowserHistory(t)
	f.histFrom = from
	s := New(Options{Listen: "127.0.0.1:0", Source: f.src, Auth: svc, History: hist, Integrity: integ})
	s.ssePoll = 50 * time.Millisecond
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// End the open event streams first, or srv.Close waits for them.
	t.Cleanup(func() { close(s.quit) })
	f.url = srv.URL

	// Chromium trusts exactly this server key (its SPKI pin) instead of
	// ignoring every certificate error: a test CA cannot be added to the
	// browser's trust store without NSS tools and a profile database.
	pin, err := spkiPin(files.Cert)
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", pin),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first action starts the browser; it must not carry a timeout,
	// which would end the browser with it.
	start(t, bctx, "start "+exe)
	f.browser = bctx

	f.artifacts = os.Getenv("OTLINK_ARTIFACTS")
	if f.artifacts == "" {
		f.artifacts = t.TempDir()
	} else {
		f.artifacts = filepath.Join(f.artifacts, "browser")
		if err := os.MkdirAll(f.artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// browserHistory is the historian as the app wires it (app.History, which
// this package's internal tests cannot import): the embedded store with
// its integrity log, and the query engine over the store.
type browserHistory struct {
	st  *store.Store
	log *integrity.Log
}

func (h browserHistory) Verify(ctx context.Context, o integrity.VerifyOptions) (*integrity.Report, error) {
	o.Recompute = h.st.RecomputeLeaf
	return integrity.Verify(ctx, h.log, o)
}
func (h browserHistory) ExportCheckpoint(ctx context.Context, w io.Writer) error {
	return h.log.ExportCheckpoint(ctx, w)
}
func (h browserHistory) WriteBundle(context.Context, io.Writer, integrity.Selection) error {
	return errcode.New(errcode.APIHistoryOff, "no bundles in the browser tests")
}
func (h browserHistory) Witness(ctx context.Context, signed []byte, keys ...string) (integrity.Checkpoint, error) {
	return h.log.AcceptCheckpoint(ctx, signed, keys...)
}

// openBrowserHistory writes the last hour of two tags of machine
// acme/a/m1 into a real embedded store (sealed in chunks of 600 samples,
// recorded in an integrity log with a signed checkpoint) and returns the
// query engine, the integrity view and the start of the data.
func openBrowserHistory(t *testing.T) (History, Integrity, time.Time) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	l, err := integrity.Open(filepath.Join(t.TempDir(), "integrity"), integrity.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "history"), store.Options{MaxSamples: 600, TimePrecision: time.Millisecond,
		Ledger: store.IntegrityLedger(l), Logger: quiet})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); l.Close() })
	const n = 3600
	from := time.Now().Add(-n * time.Second).Truncate(time.Second)
	batch := make([]model.Sample, 0, 2*n)
	for i := range n {
		ts := from.Add(time.Duration(i) * time.Second).UnixNano()
		// A slow wave with a fast ripple: zooming in shows the ripple.
		speed := 1000 + 200*math.Sin(float64(i)/600) + 20*math.Sin(float64(i)/3)
		batch = append(batch,
			model.Sample{Tag: "acme/a/m1/speed", Source: ts, Server: ts, Quality: model.Good, Value: model.FloatValue(model.Float64, speed)},
			model.Sample{Tag: "acme/a/m1/temp", Source: ts, Server: ts, Quality: model.Good, Value: model.FloatValue(model.Float64, 20+float64(i%300)/30)})
	}
	if err := st.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := l.ExportCheckpoint(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	return query.New(st, query.Config{}), browserHistory{st: st, log: l}, from
}

// spkiPin is the base64 SHA-256 of the certificate's public key, the form
// chromium's --ignore-certificate-errors-spki-list reads.
func spkiPin(certFile string) (string, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", errcode.New(errcode.TLSCert, "%s holds no PEM block", certFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// tab opens a tab in a browser context of its own: cookies are not shared
// between tabs, so each is a separate user.
func (f *browserFixture) tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(f.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action opens the tab and binds it to its context: it must
	// run without a timeout, or the timeout closes the tab.
	start(t, ctx, "open a tab")
	return ctx
}

// start runs the first, empty action on a chromedp context (which starts
// the browser or opens the tab), bounded without cancelling the context.
func start(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer within 30 s", what)
	}
}

// do runs steps within stepTimeout.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// load runs steps that navigate and returns the status of the page that
// loads, within stepTimeout.
func load(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// wait polls a JavaScript predicate until it is true, within stepTimeout.
func wait(t *testing.T, ctx context.Context, what, predicate string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (f *browserFixture) shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // quality 100 is PNG, as the file name says
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(f.artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// password fills the login form and sends it; it returns the status of the
// page the browser lands on.
func (f *browserFixture) password(t *testing.T, ctx context.Context, user, pass string) int64 {
	t.Helper()
	do(t, ctx, "fill login form",
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pass))
	return load(t, ctx, "send password", chromedp.Click(chromedp.CSS("form button[type=submit]")))
}

// loginViewer logs a viewer in with the password alone.
func (f *browserFixture) loginViewer(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	load(t, ctx, "open login", chromedp.Navigate(f.url+"/login"))
	if st := f.password(t, ctx, user, viewerPass); st != 200 {
		t.Fatalf("%s login: status %d", user, st)
	}
	if h := text(t, ctx, "h2"); h != "Machines" {
		t.Fatalf("%s after login sees %q, want the home page", user, h)
	}
}

func TestBrowser(t *testing.T) {
	f := newBrowserFixture(t)

	t.Run("AdminLogsInWithTOTP", func(t *testing.T) {
		ctx := f.tab(t)
		if st := load(t, ctx, "open home", chromedp.Navigate(f.url+"/")); st != 200 {
			t.Fatalf("home without login: status %d", st)
		}
		// Not logged in: sent to the login form.
		if h := text(t, ctx, "h1"); h != "Sign in to otlink" {
			t.Fatalf("without login the browser shows %q", h)
		}
		f.shot(t, ctx, "01-login")
		if st := f.password(t, ctx, "root", adminPass); st != 200 {
			t.Fatalf("password step: status %d", st)
		}
		if h := text(t, ctx, "h1"); h != "Second factor" {
			t.Fatalf("after the password the admin sees %q, want the second factor", h)
		}
		// The admin has no security key: none is offered.
		if evalJS[bool](t, ctx, `!!document.querySelector("button.webauthn-login-button")`) {
			t.Error("the second-factor page offers a security key to a user without one")
		}
		f.shot(t, ctx, "02-totp")
		// A wrong code first: refused, still on the second-factor page.
		do(t, ctx, "wrong code", chromedp.SendKeys(chromedp.CSS("#code"), "000000"))
		good, err := totp.GenerateCode(f.totpKey, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if good == "000000" { // one chance in a million; then skip the wrong-code check
			wait(t, ctx, "clear code", `(document.getElementById("code").value = "") === ""`)
		} else {
			if st := load(t, ctx, "send wrong code", chromedp.Click(chromedp.CSS("form button[type=submit]"))); st != 400 && st != 401 {
				t.Errorf("wrong code: status %d, want 400 or 401", st)
			}
			if e := text(t, ctx, "p.error"); !strings.Contains(e, errcode.AuthMFAInvalid.String()) {
				t.Errorf("wrong code shows %q", e)
			}
		}
		good, _ = totp.GenerateCode(f.totpKey, time.Now())
		do(t, ctx, "type code", chromedp.SendKeys(chromedp.CSS("#code"), good))
		if st := load(t, ctx, "send code", chromedp.Click(chromedp.CSS("form button[type=submit]"))); st != 200 {
			t.Fatalf("code step: status %d", st)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil || loc != f.url+"/" {
			t.Fatalf("after login at %q (%v), want %s/", loc, err, f.url)
		}
		list := text(t, ctx, "ul.machines")
		for _, m := range []string{"acme/a/m1", "acme/b/m2"} {
			if !strings.Contains(list, m) {
				t.Errorf("home page lists %q, missing %s", list, m)
			}
		}
		if b := text(t, ctx, "nav form button"); b != "Sign out root" {
			t.Errorf("sign-out button says %q", b)
		}
		f.shot(t, ctx, "03-home-admin")
		// The admin may open what a viewer may not.
		if st := load(t, ctx, "open metrics", chromedp.Navigate(f.url+"/metrics")); st != 200 {
			t.Errorf("metrics as admin: %d", st)
		}
	})

	t.Run("ViewerRefusedAdminRoute", func(t *testing.T) {
		ctx := f.tab(t)
		f.loginViewer(t, ctx, "vera")
		if st := load(t, ctx, "open metrics", chromedp.Navigate(f.url+"/metrics")); st != http.StatusForbidden {
			t.Fatalf("metrics as viewer: status %d, want 403", st)
		}
		if b := text(t, ctx, "body"); !strings.Contains(b, errcode.AuthForbidden.String()) {
			t.Errorf("refusal page says %q, want %s", b, errcode.AuthForbidden)
		}
		f.shot(t, ctx, "04-viewer-refused")
	})

	t.Run("LockoutAfterWrongPasswords", func(t *testing.T) {
		ctx := f.tab(t)
		load(t, ctx, "open login", chromedp.Navigate(f.url+"/login"))
		for i := range 5 {
			if st := f.password(t, ctx, "olga", "wrong password "+string(rune('a'+i))); st != 401 && st != 403 {
				t.Fatalf("wrong password %d: status %d", i+1, st)
			}
		}
		// Now even the right password is refused, and the page says why.
		if st := f.password(t, ctx, "olga", viewerPass); st != http.StatusForbidden {
			t.Errorf("right password on a locked account: status %d, want 403", st)
		}
		e := text(t, ctx, "p.error")
		if !strings.Contains(e, errcode.AuthLocked.String()) || !strings.Contains(e, "too many failed attempts") {
			t.Errorf("locked account page says %q", e)
		}
		if h := text(t, ctx, "h1"); h != "Sign in to otlink" {
			t.Errorf("locked account lands on %q", h)
		}
		f.shot(t, ctx, "05-locked")
	})

	t.Run("LiveValueChanges", func(t *testing.T) {
		ctx := f.tab(t)
		f.loginViewer(t, ctx, "vera")
		if st := load(t, ctx, "open machine", chromedp.Navigate(f.url+"/machines/acme/a/m1")); st != 200 {
			t.Fatalf("machine page: status %d", st)
		}
		cell := `tr[data-path="acme/a/m1/speed"] td.value`
		// The stream is live once machine.js says so.
		// The stream needs connect-src 'self' in the CSP: without it the
		// browser refuses the EventSource (a test of the policy, too).
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		_, err := chromedp.Run(sctx, chromedp.Poll[bool](`document.getElementById("live-status").textContent.startsWith("Live")`,
			chromedp.WithPollingTimeout(stepTimeout)))
		cancel()
		if err != nil {
			f.shot(t, ctx, "06-machine-no-stream")
			t.Fatalf("live stream not established in chromium (status %q): %v", text(t, ctx, "#live-status"), err)
		}
		if v := text(t, ctx, cell); !strings.Contains(v, "1.5") {
			t.Fatalf("speed shows %q, want 1.5", v)
		}
		f.shot(t, ctx, "06-machine-before")
		f.src.set("acme/a/m1/speed", 42.25) // liveSource of live_test.go
		wait(t, ctx, "wait for the new value",
			`document.querySelector('tr[data-path="acme/a/m1/speed"] td.value').textContent.includes("42.25")`)
		// The other tag did not change.
		if v := text(t, ctx, `tr[data-path="acme/a/m1/temp"] td.value`); !strings.Contains(v, "20") {
			t.Errorf("temp shows %q, want 20", v)
		}
		f.shot(t, ctx, "07-machine-after")
	})

	t.Run("OneTimePasswordReplaced", func(t *testing.T) {
		const oneTime, chosen, later = "one-time Kq4 Zt8 Pw2", "my own passphrase 51", "my next passphrase 52"
		if _, err := f.svc.CreateUserTemporary(context.Background(), "nina", oneTime, []string{auth.RoleViewer}, nil); err != nil {
			t.Fatal(err)
		}
		ctx := f.tab(t)
		load(t, ctx, "open login", chromedp.Navigate(f.url+"/login"))
		if st := f.password(t, ctx, "nina", oneTime); st != 200 {
			t.Fatalf("one-time password: status %d", st)
		}
		if h := text(t, ctx, "h1"); h != "Choose your password" {
			t.Fatalf("after a one-time password the browser shows %q", h)
		}
		// Anything else is refused until the password is chosen.
		if st := load(t, ctx, "open home", chromedp.Navigate(f.url+"/")); st != 200 || text(t, ctx, "h1") != "Choose your password" {
			t.Fatalf("home before the new password: %d %q", st, text(t, ctx, "h1"))
		}
		do(t, ctx, "type new password", chromedp.SendKeys(chromedp.CSS("#password"), chosen), chromedp.SendKeys(chromedp.CSS("#confirm"), chosen))
		f.shot(t, ctx, "14-choose-password")
		if st := load(t, ctx, "save password", chromedp.Click(chromedp.CSS("form button[type=submit]"))); st != 200 {
			t.Fatalf("new password: status %d", st)
		}
		if h := text(t, ctx, "h2"); h != "Machines" {
			t.Fatalf("after choosing a password nina sees %q, want the home page", h)
		}
		// Her own change, from the account page.
		load(t, ctx, "open password page", chromedp.Navigate(f.url+"/account/password"))
		do(t, ctx, "fill password form", chromedp.SendKeys(chromedp.CSS("#current"), chosen),
			chromedp.SendKeys(chromedp.CSS("#password"), later), chromedp.SendKeys(chromedp.CSS("#confirm"), later))
		if st := load(t, ctx, "change password", chromedp.Click(chromedp.CSS("form.password button[type=submit]"))); st != 200 {
			t.Fatalf("change: status %d", st)
		}
		if m := text(t, ctx, "#password-changed"); !strings.Contains(m, "changed") {
			t.Errorf("after the change the page says %q", m)
		}
		f.shot(t, ctx, "15-password-changed")
		if _, err := f.svc.Login(auth.WithClientIP(context.Background(), "127.0.0.1"), "", "nina", later); err != nil {
			t.Errorf("the new password does not sign in: %v", err)
		}
	})

	t.Run("ZoomTrend", func(t *testing.T) { f.zoomTrend(t) })
	t.Run("PlantTreeAndDevices", func(t *testing.T) {
		ctx := f.tab(t)
		f.loginViewer(t, ctx, "vera")
		if st := load(t, ctx, "open plant", chromedp.Navigate(f.url+"/plant")); st != 200 {
			t.Fatalf("plant page: %d", st)
		}
		if tree := text(t, ctx, "#plant-tree"); !strings.Contains(tree, "m1") || !strings.Contains(tree, "m2") {
			t.Errorf("plant tree shows %q", tree)
		}
		f.shot(t, ctx, "09-plant")
		// The language switch returns to this page, in Chinese.
		load(t, ctx, "switch language", chromedp.Click(chromedp.CSS("#lang-switch")))
		if h := text(t, ctx, "h1"); h != "工廠" {
			t.Errorf("after the switch the plant page says %q", h)
		}
		f.shot(t, ctx, "10-plant-zh-TW")
		load(t, ctx, "switch back", chromedp.Click(chromedp.CSS("#lang-switch")))
		if st := load(t, ctx, "open devices", chromedp.Navigate(f.url+"/devices")); st != 200 {
			t.Fatalf("devices page: %d", st)
		}
		wait(t, ctx, "devices refreshed", `document.getElementById("devices-status").textContent.startsWith("Updated")`)
		f.shot(t, ctx, "11-devices")
	})
}

// zoomTrend opens the machine page with an hour of history, drag-selects
// a part of the chart and checks that the x range shrank and that the
// page asked the historian again for the narrower window.
func (f *browserFixture) zoomTrend(t *testing.T) {
	ctx := f.tab(t)
	f.loginViewer(t, ctx, "vera")
	if st := load(t, ctx, "open machine", chromedp.Navigate(f.url+"/machines/acme/a/m1")); st != 200 {
		t.Fatalf("machine page: %d", st)
	}
	// settled: every plot request sent was answered and drawn.
	const settled = `(function(){ var d = document.getElementById("trend").dataset; return !!window.otlinkTrend && d.loaded === d.fetches; })()`
	wait(t, ctx, "first trend drawn", settled)
	if s := text(t, ctx, "#trend-status"); !strings.Contains(s, "points") {
		t.Fatalf("trend status %q, want points drawn", s)
	}
	if s := text(t, ctx, "#integrity"); !strings.Contains(s, "Verified up to checkpoint") {
		t.Errorf("integrity status says %q", s)
	}
	f.shot(t, ctx, "08-trend-hour")
	type scale struct {
		Min, Max float64
		Fetches  string
		Left     float64
		Top      float64
		Width    float64
		Height   float64
	}
	read := func() scale {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[scale](`(function(){
			var u = window.otlinkTrend.chart, r = u.over.getBoundingClientRect();
			return {min: u.scales.x.min, max: u.scales.x.max, fetches: document.getElementById("trend").dataset.fetches,
				left: r.left, top: r.top, width: r.width, height: r.height};
		})()`))
		if err != nil {
			t.Fatalf("read chart: %v", err)
		}
		return v
	}
	// Mouse events land only inside the viewport: bring the chart in.
	do(t, ctx, "scroll to the chart", chromedp.ScrollIntoView(chromedp.CSS("#trend-chart")))
	before := read()
	if span := before.Max - before.Min; span < 3500 || span > 3700 {
		t.Fatalf("first window spans %.0f s, want the last hour", span)
	}
	// Drag from 40 % to 60 % of the plot area: a fifth of the hour.
	y := before.Top + before.Height/2
	x0, x1 := before.Left+before.Width*0.4, before.Left+before.Width*0.6
	do(t, ctx, "drag-select on the chart",
		chromedp.MouseEvent(chromedp.MouseMoved, x0, y),
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.Button("left"), chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, chromedp.Button("left")),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, chromedp.Button("left")),
		chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.Button("left"), chromedp.ClickCount(1)))
	n, _ := strconv.Atoi(before.Fetches)
	wait(t, ctx, "zoomed window drawn", settled+` && Number(document.getElementById("trend").dataset.fetches) > `+before.Fetches)
	after := read()
	span := after.Max - after.Min
	if span > (before.Max-before.Min)*0.3 || span < (before.Max-before.Min)*0.1 {
		t.Errorf("after the drag the window spans %.0f s, want about a fifth of %.0f s", span, before.Max-before.Min)
	}
	if after.Fetches != strconv.Itoa(n+1) {
		t.Errorf("%s plot requests after one zoom, want %d", after.Fetches, n+1)
	}
	f.shot(t, ctx, "12-trend-zoomed")
	// The buttons: zoom out doubles the window and asks again.
	do(t, ctx, "zoom out", chromedp.Click(chromedp.CSS("#trend-out")))
	wait(t, ctx, "zoomed out", settled+` && Number(document.getElementById("trend").dataset.fetches) > `+after.Fetches)
	if out := read(); out.Max-out.Min < span*1.9 || out.Fetches != strconv.Itoa(n+2) {
		t.Errorf("zoom out: %.0f s after %.0f s, %s requests", out.Max-out.Min, span, out.Fetches)
	}
}

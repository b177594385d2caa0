package web

// The governed-write browser test: an operator writes a setpoint of a
// simulated machine through the UI (write page, confirm dialog, step-up
// with a TOTP code) over a real acquire.Engine and the Modbus driver; then
// an administrator finds the write in the audit trail.

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/modbus"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/tlsca"
)

// engineSource and engineWrites adapt a real engine as the app does
// (internal/app cannot be imported here: it imports web).
type engineSource struct{ e *acquire.Engine }

func (s engineSource) Tags() []Tag {
	var out []Tag
	for _, t := range s.e.Snapshot() {
		tg := Tag{Path: t.Path, Value: t.Value, Quality: t.Quality, Unit: t.Unit}
		if t.Time != 0 {
			tg.Time = time.Unix(0, t.Time).UTC()
		}
		out = append(out, tg)
	}
	return out
}
func (s engineSource) Devices() any { return s.e.Health() }

type engineWrites struct {
	e    *acquire.Engine
	tags map[string]WritableTag
}

func (w engineWrites) Writable(p string) (WritableTag, bool) { t, ok := w.tags[p]; return t, ok }
func (w engineWrites) Write(ctx context.Context, p string, v model.Value) error {
	return w.e.Write(ctx, p, v)
}

const feedPath = "acme/s/a/l/cnc1/feed_override"

func TestBrowserGovernedWrite(t *testing.T) {
	exe := chromiumPath()
	if exe == "" {
		t.Skip("no chromium installed (apt-get install chromium, or set OTLINK_CHROMIUM): browser tests skipped")
	}
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	ctx := context.Background()

	// The machine: a simulated CNC over Modbus TCP, polled by the engine.
	dev := sim.NewDevice(sim.DeviceConfig{Name: "cnc1"})
	dctx, dcancel := context.WithCancel(ctx)
	if err := dev.Start(dctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dcancel(); dev.Close() })
	lim := &config.Limits{Min: 0, Max: 200}
	cfg := &config.Config{Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "s", Areas: []config.Area{{Name: "a",
		Lines: []config.Line{{Name: "l", Machines: []config.Machine{{Name: "cnc1", Device: "cnc1", Tags: []config.Tag{
			{Name: "feed_override", Address: "hr:6", Type: "uint16", Unit: "%", Writable: true, Limits: lim}}}}}}}}}}},
		Devices: []config.Device{{Name: "cnc1", Driver: "modbus", Endpoint: "tcp://" + dev.Addr(), Unit: 1,
			Timeout: config.Duration(time.Second), Budget: config.Budget{MaxInFlight: 1},
			Poll: []config.PollClass{{Name: "fast", Interval: config.Duration(100 * time.Millisecond)}}}}}
	eng, err := acquire.New(cfg, acquire.Options{Sink: nopSink{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ectx, ecancel := context.WithCancel(ctx)
	edone := make(chan error, 1)
	go func() { edone <- eng.Run(ectx) }()
	t.Cleanup(func() { ecancel(); <-edone })

	// Accounts on a clock the test moves: the login is older than the
	// step-up window when the operator writes.
	clock := newTestClock()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: cheap, Logger: slog.New(slog.DiscardHandler),
		LoginBurst: 1000, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	keys := map[string]string{}
	for name, role := range map[string]string{"opal": auth.RoleOperator, "root": auth.RoleAdmin} {
		u, err := svc.CreateUser(ctx, name, testPass, []string{role}, nil)
		if err != nil {
			t.Fatal(err)
		}
		en, _ := svc.EnrollTOTP(ctx, u.ID)
		code, _ := totp.GenerateCode(en.Secret, clock.Now().Add(-30*time.Second))
		if _, err := svc.ConfirmTOTP(ctx, u.ID, code); err != nil {
			t.Fatal(err)
		}
		keys[name] = en.Secret
	}
	code := func(user string) string {
		c, _ := totp.GenerateCode(keys[user], clock.Now())
		return c
	}

	files, err := tlsca.Ensure(t.TempDir(), tlsca.DefaultNames(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tcfg, err := tlsca.ServerConfig(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Listen: "127.0.0.1:0", Source: engineSource{eng}, Auth: svc, Writes: engineWrites{eng, map[string]WritableTag{
		feedPath: {Path: feedPath, Type: model.Uint16, Unit: "%", Description: "feed override setpoint", Min: 0, Max: 200}}}})
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = tcfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.quit) })
	pin, err := spkiPin(files.Cert)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(exe), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", pin))
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	start(t, bctx, "start "+exe)
	f := &browserFixture{svc: svc, url: srv.URL, browser: bctx, artifacts: os.Getenv("OTLINK_ARTIFACTS")}
	if f.artifacts == "" {
		f.artifacts = t.TempDir()
	} else {
		f.artifacts = filepath.Join(f.artifacts, "browser")
		if err := os.MkdirAll(f.artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The machine's setpoint is read before anyone writes it.
	wait := time.Now().Add(10 * time.Second)
	for {
		if tg, ok := s.current(feedPath); ok && tg.Quality == model.Good {
			break
		}
		if time.Now().After(wait) {
			t.Fatal("the engine did not read the feed override")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := dev.Values().FeedOverride
	target := "150"
	if before == 150 {
		target = "120"
	}

	login := func(tctx context.Context, user string) {
		t.Helper()
		load(t, tctx, "open login", chromedp.Navigate(f.url+"/login"))
		if st := f.password(t, tctx, user, testPass); st != 200 {
			t.Fatalf("%s password: %d", user, st)
		}
		do(t, tctx, "type code", chromedp.SendKeys(chromedp.CSS("#code"), code(user)))
		if st := load(t, tctx, "send code", chromedp.Click(chromedp.CSS("form button[type=submit]"))); st != 200 {
			t.Fatalf("%s code: %d", user, st)
		}
	}

	op := f.tab(t)
	login(op, "opal")
	clock.Add(stepUpWindow + time.Minute) // the login is no longer fresh

	if st := load(t, op, "open write page", chromedp.Navigate(f.url+WritePath(feedPath))); st != 200 {
		t.Fatalf("write page: %d", st)
	}
	if cur := text(t, op, "#current"); !strings.Contains(cur, "Good") {
		t.Errorf("current value shows %q", cur)
	}
	f.shot(t, op, "20-write-form")
	do(t, op, "type value", chromedp.SendKeys(chromedp.CSS("#value"), target))
	if st := load(t, op, "review", chromedp.Click(chromedp.CSS("form.write button[type=submit]"))); st != 200 {
		t.Fatalf("review: %d", st)
	}
	if o, n := text(t, op, "#old-value"), text(t, op, "#new-value"); !strings.Contains(o, model.UintValue(model.Uint16, uint64(before)).String()) || !strings.Contains(n, target) {
		t.Errorf("confirm dialog: old %q new %q", o, n)
	}
	f.shot(t, op, "21-write-confirm-stepup")
	do(t, op, "type step-up code", chromedp.SendKeys(chromedp.CSS("#stepup_code"), code("opal")))
	if st := load(t, op, "confirm", chromedp.Click(chromedp.CSS("#confirm-write"))); st != 200 {
		t.Fatalf("confirm: %d (%s)", st, text(t, op, "main"))
	}
	if d := text(t, op, "#write-done"); d == "" {
		t.Fatal("no confirmation of the write")
	}
	f.shot(t, op, "22-write-done")
	deadline := time.Now().Add(5 * time.Second)
	for dev.Values().FeedOverride != uint16(atoi(target)) {
		if time.Now().After(deadline) {
			t.Fatalf("device feed override %d, want %s", dev.Values().FeedOverride, target)
		}
		time.Sleep(20 * time.Millisecond)
	}

	adm := f.tab(t)
	login(adm, "root")
	if st := load(t, adm, "open audit", chromedp.Navigate(f.url+"/audit?action=tag.write")); st != 200 {
		t.Fatalf("audit page: %d", st)
	}
	row := text(t, adm, `tr[data-action="tag.write"]`)
	for _, want := range []string{"opal", feedPath, "ok", "new=" + target} {
		if !strings.Contains(row, want) {
			t.Errorf("audit row %q lacks %q", row, want)
		}
	}
	f.shot(t, adm, "23-audit-write")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

type nopSink struct{}

func (nopSink) PublishBatch(context.Context, *model.Batch) error { return nil }

package web

// The war-room browser test: a security analyst opens /security in
// chromium over a real monitor replaying a synthetic capture (an HMI
// polling a PLC, a write from a host that never wrote: an alert), reads
// the rates, the map and the timeline, acknowledges the alert from the
// keyboard and drills down from an asset to its flows to its PDUs.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/monitor"
	netview "github.com/otlink/otlink/internal/monitor/view"
	"github.com/otlink/otlink/internal/tlsca"
)

// serveBrowser serves h over TLS on ln (a listener on 127.0.0.1) with a
// server certificate of the local CA, and starts a headless chromium that
// trusts exactly that key. The browser reaches the server as host
// ("127.0.0.1", or "localhost" where WebAuthn needs a domain). The
// returned fixture has url, browser and artifacts set, for tab, shot and
// password, and the client trusts the CA, for API checks beside the
// browser.
func serveBrowser(t *testing.T, h http.Handler, ln net.Listener, host string) (*browserFixture, *http.Client) {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		ln.Close()
		t.Skip("no chromium installed (apt-get install chromium, or set OTLINK_CHROMIUM): browser tests skipped")
	}
	if testing.Short() {
		ln.Close()
		t.Skip("browser tests skipped in -short mode")
	}
	files, err := tlsca.Ensure(t.TempDir(), tlsca.DefaultNames(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsca.ServerConfig(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pin, err := spkiPin(files.Cert)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", pin))
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	start(t, bctx, "start "+exe)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	f := &browserFixture{url: "https://" + net.JoinHostPort(host, port), browser: bctx, artifacts: os.Getenv("OTLINK_ARTIFACTS")}
	if f.artifacts == "" {
		f.artifacts = t.TempDir()
	} else {
		f.artifacts = filepath.Join(f.artifacts, "browser")
		if err := os.MkdirAll(f.artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f, client
}

// enrolTOTP gives the user an authenticator app, confirmed with the
// previous step's code so that the current one is still unused.
func enrolTOTP(t *testing.T, svc *auth.Service, userID int64, now time.Time) string {
	t.Helper()
	en, err := svc.EnrollTOTP(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, now.Add(-30*time.Second))
	if _, err := svc.ConfirmTOTP(context.Background(), userID, code); err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// loginTOTP signs user in with the password and the current TOTP code and
// checks that the browser lands on the home page.
func (f *browserFixture) loginTOTP(t *testing.T, ctx context.Context, user, pass, secret string, now time.Time) {
	t.Helper()
	load(t, ctx, "open login", chromedp.Navigate(f.url+"/login"))
	if st := f.password(t, ctx, user, pass); st != 200 {
		t.Fatalf("%s password: status %d", user, st)
	}
	if h := text(t, ctx, "h1"); h != "Second factor" {
		t.Fatalf("after the password %s sees %q, want the second factor", user, h)
	}
	code, _ := totp.GenerateCode(secret, now)
	do(t, ctx, "type code", chromedp.SendKeys(chromedp.CSS("#code"), code))
	if st := load(t, ctx, "send code", chromedp.Click(chromedp.CSS("#code + button[type=submit]"))); st != 200 {
		t.Fatalf("%s code: status %d (%s)", user, st, text(t, ctx, "main"))
	}
	if h := text(t, ctx, "h2"); h != "Machines" {
		t.Fatalf("%s after login sees %q, want the home page", user, h)
	}
}

// evalJS evaluates expression in the page and decodes its value.
func evalJS[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// jsq quotes s as a JavaScript string literal.
func jsq(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestBrowserWarRoom(t *testing.T) {
	if chromiumPath() == "" || testing.Short() {
		t.Skip("browser tests need chromium and no -short")
	}
	ctx := context.Background()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: cheap,
		Logger: slog.New(slog.DiscardHandler), LoginBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	const pass = "correct horse battery S7"
	sara, err := svc.CreateUser(ctx, "sara", pass, []string{auth.RoleSecurityAnalyst}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The analyst's role does not need a second factor by default; she has
	// one anyway, as a security team would ask.
	secret := enrolTOTP(t, svc, sara.ID, time.Now())
	tok, _, err := svc.CreateToken(ctx, "sara", "check", []string{auth.PermSecurityRead}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// The monitor replays the capture of warroom_test.go against a
	// baseline that knows the HMI's reads, so the rogue write alerts.
	dir := t.TempDir()
	pcap, base := filepath.Join(dir, "s.pcap"), filepath.Join(dir, "baseline.json")
	frames := writeWarCapture(t, pcap)
	if err := os.WriteFile(base, []byte(`{"version":1,"assets":[{"ip":"10.0.0.10"},{"ip":"10.0.0.20"}],"connections":[{"client":"10.0.0.10","server":"10.0.0.20","proto":"modbus","requests":3,"peak_per_minute":100,"functions":[{"code":3,"action":"read","count":3},{"code":43,"action":"identify","count":1}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mon, err := monitor.Start(ctx, config.Monitor{Interfaces: []config.MonitorInterface{{Name: "replay"}}, Baseline: base},
		monitor.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler),
			Open: func(config.MonitorInterface) (capture.Source, error) { return capture.OpenFile(pcap) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	var alert netview.Alert
	for i := 0; i < 750 && alert.ID == ""; i++ {
		if mon.Stats().Packets == uint64(frames) {
			for _, a := range mon.Alerts("", 0) {
				if a.Detection == "new_writer" {
					alert = a
				}
			}
		}
		if alert.ID == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if alert.ID == "" {
		t.Fatalf("the monitor read %d of %d frames and raised no new_writer alert: %+v", mon.Stats().Packets, frames, mon.Alerts("", 0))
	}

	s := New(Options{Source: fakeSource{}, Auth: svc, Security: mon, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { close(s.quit) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, api := serveBrowser(t, s.Handler(), ln, "127.0.0.1")
	getAPI := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}

	tab := f.tab(t)
	f.loginTOTP(t, tab, "sara", pass, secret, time.Now())
	if st := load(t, tab, "open the war room", chromedp.Navigate(f.url+"/security")); st != 200 {
		t.Fatalf("war room: status %d", st)
	}
	// Live once warroom.js has polled every route and drawn what came
	// back: a script error in any part says "Connection lost" instead.
	live := `document.getElementById("wr-status").textContent === "Live: updated every 2 seconds."`
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	_, err = chromedp.Run(sctx, chromedp.Poll[bool](live, chromedp.WithPollingTimeout(stepTimeout)))
	cancel()
	if err != nil {
		f.shot(t, tab, "30-warroom-not-live")
		t.Fatalf("war room not live (status %q): %v", text(t, tab, "#wr-status"), err)
	}

	// The page opens at its top, and the timeline follows changes made
	// elsewhere while it is open: another analyst acknowledges the
	// new-asset alert through the API.
	if y := evalJS[float64](t, tab, `window.scrollY`); y != 0 {
		t.Errorf("the war room opens scrolled down to %.0f px", y)
	}
	var other string
	for _, a := range mon.Alerts("", 0) {
		if a.Detection != "new_writer" {
			other = a.ID
		}
	}
	if other == "" {
		t.Fatalf("one alert only: %+v", mon.Alerts("", 0))
	}
	if _, err := mon.SetAlertState(ctx, other, netview.StateAcknowledged, "olaf", "seen on the other console"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel = context.WithTimeout(tab, stepTimeout)
	_, err = chromedp.Run(sctx, chromedp.Poll[bool](`(function(){ var li = document.getElementById("alert-`+other+`");
		return !!li && !!li.querySelector(".state-acknowledged") && li.textContent.includes("olaf: seen on the other console"); })()`,
		chromedp.WithPollingTimeout(stepTimeout)))
	cancel()
	if err != nil {
		f.shot(t, tab, "30-warroom-timeline-frozen")
		t.Errorf("the timeline did not show an acknowledgement made elsewhere (focus on %s): %v", evalJS[string](t, tab, `document.activeElement.id || document.activeElement.tagName`), err)
	}

	// Rates: a modbus row counting every frame of the capture.
	type rateRow struct{ Proto, Packets string }
	rows := evalJS[[]rateRow](t, tab, `Array.from(document.querySelectorAll("#wr-rates tbody tr")).map(function (r) {
		return {proto: r.cells[0].textContent, packets: r.cells[3].textContent}; })`)
	if len(rows) != 1 || rows[0].Proto != "modbus" || rows[0].Packets != strconv.Itoa(frames) {
		t.Errorf("rate table %+v, want modbus with %d packets", rows, frames)
	}

	// The map: every host a focusable button in the SVG.
	hosts := []string{"10.0.0.10", "10.0.0.20", "10.0.0.66"}
	wait(t, tab, "map drawn", `document.querySelectorAll("#wr-map g[data-ip]").length === 3`)
	for _, ip := range hosts {
		sel := `document.querySelector('#wr-map g[data-ip="` + ip + `"]')`
		if !evalJS[bool](t, tab, `(function(){ var g = `+sel+`; g.focus(); return document.activeElement === g && g.getAttribute("role") === "button" && g.tabIndex === 0 && g.getAttribute("aria-label").includes(`+jsq(ip)+`); })()`) {
			t.Errorf("map host %s is not a focusable button", ip)
		}
	}
	// The drawing fills its view box: no blank band under the zones.
	if r := evalJS[float64](t, tab, `(function(){ var s = document.getElementById("wr-map"); return s.getBBox().height / s.viewBox.baseVal.height; })()`); r < 0.9 {
		t.Errorf("the map's zones fill %.0f %% of its height", 100*r)
	}
	// Every conversation is a line on the map that the browser paints on
	// top of its zone: the point halfway along it shows the line.
	if seen := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll("#wr-map line")).map(function (l) {
		var a = l.getBoundingClientRect(), e = document.elementFromPoint(a.left + a.width / 2, a.top + a.height / 2);
		return e ? e.tagName : "none"; })`); len(seen) != 2 || seen[0] != "line" || seen[1] != "line" {
		t.Errorf("conversation lines on the map: the browser shows %v at their middles, want 2 lines", seen)
	}
	if e := text(t, tab, "#wr-edges tbody"); !strings.Contains(e, "10.0.0.66") || !strings.Contains(e, "modbus") {
		t.Errorf("edge table says %q", e)
	}
	// Enter on the focused PLC opens its flows: the HMI's and the rogue's.
	do(t, tab, "enter on the PLC", chromedp.Focus(chromedp.CSS(`#wr-map g[data-ip="10.0.0.20"]`)), chromedp.KeyEvent(kb.Enter))
	wait(t, tab, "PLC flows", `!document.getElementById("wr-flows").hidden && document.querySelectorAll("#wr-flows tbody tr").length === 2`)
	if c := text(t, tab, "#wr-flows-caption"); c != "Flows of 10.0.0.20" {
		t.Errorf("flows caption %q", c)
	}
	evalJS[bool](t, tab, `(document.activeElement.blur(), true)`)
	f.shot(t, tab, "30-warroom")

	// The alert timeline: the rogue write with its ATT&CK technique.
	li := `[id="alert-` + alert.ID + `"]`
	if got := text(t, tab, li+" abbr"); got != "T0855" {
		t.Errorf("alert technique %q, want T0855", got)
	}
	if got := text(t, tab, li+" strong"); got != alert.Title {
		t.Errorf("alert title %q, want %q", got, alert.Title)
	}
	if got := text(t, tab, li+" .state-new"); got != "new" {
		t.Errorf("alert state shows %q", got)
	}

	// Acknowledge from the keyboard: the note, Tab to the button, Enter.
	const note = "rogue laptop of a contractor, unplugged"
	do(t, tab, "type the note", chromedp.Focus(chromedp.CSS(`[id="note-`+alert.ID+`"]`)), chromedp.SendKeys(chromedp.CSS(`[id="note-`+alert.ID+`"]`), note),
		chromedp.KeyEvent(kb.Tab))
	if v := evalJS[string](t, tab, `document.activeElement.tagName + " " + document.activeElement.value`); v != "BUTTON acknowledged" {
		t.Fatalf("Tab from the note lands on %q, want the Acknowledge button", v)
	}
	f.shot(t, tab, "31-warroom-ack-focus")
	do(t, tab, "press enter", chromedp.KeyEvent(kb.Enter))
	wait(t, tab, "alert acknowledged on the page", `(function(){ var li = document.getElementById("alert-`+alert.ID+`");
		return !!li && !!li.querySelector(".state-acknowledged") && li.textContent.includes("sara: `+note+`"); })()`)
	if st := text(t, tab, "#wr-status"); st != "Saved." && !strings.HasPrefix(st, "Live") {
		t.Errorf("status after the acknowledgement: %q", st)
	}
	// The next state offered is resolve only.
	if b := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[id="alert-`+alert.ID+`"] button')).map(function (b) { return b.value; })`); len(b) != 1 || b[0] != "resolved" {
		t.Errorf("buttons after the acknowledgement: %v", b)
	}
	var al struct{ Alerts []netview.Alert }
	getAPI("/api/v1/security/alerts?state=acknowledged", &al)
	acked := false
	for _, a := range al.Alerts {
		if a.ID == alert.ID && len(a.Notes) == 1 && a.Notes[0].Text == note && a.Notes[0].User == "sara" && a.Notes[0].To == netview.StateAcknowledged {
			acked = true
		}
	}
	if !acked || len(al.Alerts) != 2 {
		t.Errorf("acknowledged alerts from the API: %+v", al.Alerts)
	}
	evs, _, err := svc.SearchAudit(ctx, auth.AuditFilter{Action: "alert.ack"}, auth.Page{})
	if err != nil || len(evs) != 1 || evs[0].Object != "alert/"+alert.ID || evs[0].Outcome != auth.OutcomeOK {
		t.Errorf("audit of the acknowledgement: %+v %v", evs, err)
	}
	f.shot(t, tab, "32-warroom-acked")

	// Drill-down: the rogue asset, its one flow, the flow's PDUs.
	do(t, tab, "open the rogue asset", chromedp.Click(chromedp.CSS(`#wr-assets a.wr-asset[data-ip="10.0.0.66"]`)))
	wait(t, tab, "rogue flows", `document.getElementById("wr-flows-caption").textContent === "Flows of 10.0.0.66" && document.querySelectorAll("#wr-flows tbody tr").length === 1`)
	if loc := evalJS[string](t, tab, `location.pathname`); loc != "/security" {
		t.Errorf("the asset link navigated to %s", loc)
	}
	flow := text(t, tab, "#wr-flows tbody tr")
	if !strings.Contains(flow, "10.0.0.66") || !strings.Contains(flow, "modbus") {
		t.Errorf("flow row %q", flow)
	}
	do(t, tab, "open the PDUs", chromedp.Click(chromedp.CSS("#wr-flows tbody button")))
	wait(t, tab, "PDUs listed", `!document.getElementById("wr-pdus").hidden && document.querySelectorAll("#wr-pdus tbody tr").length === 2`)
	type pduRow struct{ Dir, Function, Objects string }
	pdus := evalJS[[]pduRow](t, tab, `Array.from(document.querySelectorAll("#wr-pdus tbody tr")).map(function (r) {
		return {dir: r.cells[2].textContent, function: r.cells[3].textContent, objects: r.cells[5].textContent}; })`)
	if len(pdus) != 2 || pdus[0].Dir != "request" || !strings.HasPrefix(pdus[0].Function, "6 ") || !strings.Contains(pdus[0].Objects, "4242") {
		t.Errorf("PDU rows %+v, want the write of 4242 (function 6) and its answer", pdus)
	}
	f.shot(t, tab, "33-warroom-drilldown")

	// In Traditional Chinese.
	load(t, tab, "switch to zh-TW", chromedp.Click(chromedp.CSS("#lang-switch")))
	load(t, tab, "open the war room in zh-TW", chromedp.Navigate(f.url+"/security"))
	wait(t, tab, "live in zh-TW", `document.getElementById("wr-status").textContent === "即時：每 2 秒更新。"`)
	for sel, want := range map[string]string{"h1": "戰情室", "#wr-rates-title": "各協定流量", "#wr-map-title": "連線圖",
		"#wr-alerts-title": "警示時間軸", "#wr-assets-title": "資產", li + " .state-acknowledged": "已確認"} {
		if got := text(t, tab, sel); got != want {
			t.Errorf("zh-TW %s says %q, want %q", sel, got, want)
		}
	}
	if b := text(t, tab, li+" button"); b != "結案" {
		t.Errorf("zh-TW resolve button says %q", b)
	}
	f.shot(t, tab, "34-warroom-zh-TW")
}

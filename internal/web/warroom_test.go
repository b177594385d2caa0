package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/monitor"
	netview "github.com/otlink/otlink/internal/monitor/view"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// Strings an attacker puts in the identity a PLC reports.
const (
	xssVendor  = `<script>alert("v")</script>`
	xssProduct = `"><img src=x onerror=alert(1)>`
)

// writeWarCapture writes a capture: the HMI polls the PLC three times and
// asks its identity (answered with hostile strings); a rogue host writes a
// register. It returns the number of frames.
func writeWarCapture(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	adu := func(tid uint16, pdu []byte) []byte { return append(mb.AppendMBAP(nil, tid, 1, len(pdu)), pdu...) }
	plc := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.20"), 502)
	c, err := w.TCP(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.10"), 40001), plc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.Send(true, adu(uint16(i), mb.AppendReadRequest(nil, mb.FuncReadHoldingRegisters, 0, 1)))
		c.Send(false, adu(uint16(i), mb.AppendReadResponse(nil, mb.FuncReadHoldingRegisters, []byte{0, 1})))
	}
	c.Send(true, adu(9, mb.AppendReadDeviceIDRequest(nil, mb.DeviceIDBasic, 0)))
	c.Send(false, adu(9, mb.AppendReadDeviceIDResponse(nil, mb.DeviceIDBasic, 0x81, false, 0, []mb.DeviceObject{
		{ID: 0, Value: []byte(xssVendor)}, {ID: 1, Value: []byte(xssProduct)}, {ID: 2, Value: []byte("v1")}})))
	r, err := w.TCP(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.66"), 40002), plc)
	if err != nil {
		t.Fatal(err)
	}
	r.Send(true, adu(1, mb.AppendWriteSingleRegister(nil, 7, 4242)))
	r.Send(false, adu(1, mb.AppendWriteResponse(nil, mb.FuncWriteSingleRegister, 7, 4242)))
	return w.Frames()
}

// warFixture is a server with auth and a monitor replaying the capture,
// and a security analyst (token and password).
type warFixture struct {
	*authFixture
	mon     *monitor.Monitor
	analyst string
	frames  int
}

func newWarFixture(t *testing.T) *warFixture {
	t.Helper()
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	ctx := context.Background()
	// A role of the war room only: it needs no second factor, so the
	// test can sign in with a password.
	watch := []string{auth.PermSecurityRead, auth.PermAlertsAck}
	if err := f.svc.DefineRole(ctx, "watch", watch); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, "sara", "correct horse battery S9", []string{"watch"}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.svc.CreateToken(ctx, "sara", "test", watch, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pcap, base := filepath.Join(dir, "s.pcap"), filepath.Join(dir, "baseline.json")
	n := writeWarCapture(t, pcap)
	os.WriteFile(base, []byte(`{"version":1,"assets":[{"ip":"10.0.0.10"},{"ip":"10.0.0.20"}],"connections":[{"client":"10.0.0.10","server":"10.0.0.20","proto":"modbus","requests":3,"peak_per_minute":100,"functions":[{"code":3,"action":"read","count":3},{"code":43,"action":"identify","count":1}]}]}`), 0o600)
	cfg := config.Monitor{Interfaces: []config.MonitorInterface{{Name: "replay"}}, Baseline: base}
	mon, err := monitor.Start(ctx, cfg, monitor.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		Open: func(config.MonitorInterface) (capture.Source, error) { return capture.OpenFile(pcap) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	s := New(Options{Source: fakeSource{}, Auth: f.svc, Security: mon, Logger: slog.New(slog.DiscardHandler)})
	f.srv = httptest.NewTLSServer(s.Handler())
	t.Cleanup(f.srv.Close)
	wf := &warFixture{authFixture: f, mon: mon, analyst: tok, frames: n}
	for i := 0; i < 750; i++ {
		if mon.Stats().Packets == uint64(n) && len(mon.Alerts("", 0)) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return wf
}

func (f *warFixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	getJSONAuth(t, f.authFixture, path, f.analyst, v)
}

func TestWarRoomAPI(t *testing.T) {
	f := newWarFixture(t)
	var rates netview.Rates
	f.getJSON(t, "/api/v1/security/rates", &rates)
	var modbus uint64
	for _, p := range rates.Protos {
		if p.Proto == "modbus" {
			modbus = p.Packets
		}
	}
	if modbus != uint64(f.frames) || rates.Packets != uint64(f.frames) {
		t.Fatalf("rates %+v, fed %d modbus frames", rates, f.frames)
	}
	var mp netview.Map
	f.getJSON(t, "/api/v1/security/map", &mp)
	if len(mp.Zones) != 1 || len(mp.Edges) != 2 || mp.Rule == "" {
		t.Errorf("map %+v", mp)
	}
	var tk struct{ Talkers []netview.Talker }
	f.getJSON(t, "/api/v1/security/talkers?n=1", &tk)
	if len(tk.Talkers) != 1 || tk.Talkers[0].IP != "10.0.0.20" {
		t.Errorf("talkers %+v", tk)
	}
	var as struct{ Assets []netview.Asset }
	f.getJSON(t, "/api/v1/security/assets", &as)
	if len(as.Assets) != 3 {
		t.Errorf("assets %+v", as)
	}
	var fl struct{ Flows []netview.Flow }
	f.getJSON(t, "/api/v1/security/assets/10.0.0.66/flows", &fl)
	if len(fl.Flows) != 1 {
		t.Fatalf("flows %+v", fl)
	}
	var pd struct {
		Flow netview.Flow
		PDUs []netview.PDU
	}
	f.getJSON(t, "/api/v1/security/flows/"+itoa(fl.Flows[0].ID)+"/pdus", &pd)
	if len(pd.PDUs) != 2 || pd.PDUs[0].Function != 6 {
		t.Errorf("pdus %+v", pd)
	}
	for path, want := range map[string]int{"/api/v1/security/flows/x/pdus": 400, "/api/v1/security/flows/999999/pdus": 404,
		"/api/v1/security/assets/10.9.9.9/flows": 404, "/api/v1/security/alerts?state=bogus": 400, "/api/v1/security/talkers?n=0": 400} {
		if r := f.do(t, nil, "GET", path, f.analyst, nil, nil); r.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, r.StatusCode, want)
		}
	}

	// The write from the new host is on the timeline, with its technique.
	var al struct{ Alerts []netview.Alert }
	f.getJSON(t, "/api/v1/security/alerts", &al)
	var nw *netview.Alert
	for i, a := range al.Alerts {
		if a.Detection == "new_writer" {
			nw = &al.Alerts[i]
		}
	}
	if nw == nil || nw.Severity != "high" || len(nw.Techniques) == 0 || nw.Techniques[0].ID != "T0855" || nw.Assets[0] != "10.0.0.66" {
		t.Fatalf("alerts %+v", al.Alerts)
	}

	// Acknowledge by token: stored, audited; again: a conflict.
	post := func(tok, body string) *http.Response {
		return f.do(t, nil, "POST", "/api/v1/security/alerts/"+nw.ID+"/state", tok, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	}
	if r := post(f.analyst, `{"state":"acknowledged","note":"rogue laptop <b>"}`); r.StatusCode != 200 {
		t.Fatalf("ack: %d", r.StatusCode)
	}
	if r := post(f.analyst, `{"state":"acknowledged"}`); r.StatusCode != http.StatusConflict {
		t.Errorf("second ack: %d, want 409", r.StatusCode)
	}
	if r := post(f.analyst, `{"state":"gone"}`); r.StatusCode != 400 {
		t.Errorf("bad state: %d, want 400", r.StatusCode)
	}
	if r := f.do(t, nil, "POST", "/api/v1/security/alerts/nosuch-1/state", f.analyst, strings.NewReader(`{"state":"resolved"}`), nil); r.StatusCode != 404 {
		t.Errorf("unknown alert: %d, want 404", r.StatusCode)
	}
	f.getJSON(t, "/api/v1/security/alerts?state=acknowledged", &al)
	if len(al.Alerts) != 1 || al.Alerts[0].ID != nw.ID || al.Alerts[0].Notes[0].User != "sara" {
		t.Fatalf("acknowledged alerts %+v", al.Alerts)
	}
	evs, _, err := f.svc.SearchAudit(context.Background(), auth.AuditFilter{Action: "alert.ack"}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || !strings.HasPrefix(evs[1].Actor, "sara") || evs[1].Object != "alert/"+nw.ID || evs[1].Outcome != auth.OutcomeOK || evs[0].Outcome != auth.OutcomeFailed {
		t.Errorf("audit events %+v", evs)
	}
	if r := post(f.analyst, `{"state":"resolved","note":"done"}`); r.StatusCode != 200 {
		t.Errorf("resolve: %d", r.StatusCode)
	}
	if evs, _, _ := f.svc.SearchAudit(context.Background(), auth.AuditFilter{Action: "alert.resolve", Outcome: auth.OutcomeOK}, auth.Page{}); len(evs) != 1 {
		t.Errorf("resolve audit events %+v", evs)
	}
}

// TestWarRoomGuards: every war-room route refuses the anonymous and the
// viewer; the state change refuses a session without its CSRF token.
func TestWarRoomGuards(t *testing.T) {
	f := newWarFixture(t)
	s := New(Options{Source: fakeSource{}, Auth: f.svc})
	n := 0
	for _, rt := range s.Routes() {
		if !strings.Contains(rt.Pattern, "/security") {
			continue
		}
		n++
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{ip}", "10.0.0.66", "{id}", "1").Replace(path)
		r := f.do(t, noRedirect(f.srv.Client()), method, path, "", nil, nil)
		if rt.Page && r.StatusCode != http.StatusSeeOther || !rt.Page && r.StatusCode != 401 {
			t.Errorf("%s anonymous: %d", rt.Pattern, r.StatusCode)
		}
		if r := f.do(t, nil, method, path, f.viewer, nil, nil); r.StatusCode != 403 {
			t.Errorf("%s as viewer: %d, want 403", rt.Pattern, r.StatusCode)
		}
	}
	if n != 9 {
		t.Errorf("%d war-room routes", n)
	}
	// A scoped principal with security.read is refused the page: the
	// network is plant-wide.
	ctx := context.Background()
	f.svc.CreateUser(ctx, "scoped", "correct horse battery X9", []string{"watch"}, []string{"acme/a"})
	tok, _, _ := f.svc.CreateToken(ctx, "scoped", "t", []string{auth.PermSecurityRead}, []string{"acme/a"}, time.Hour)
	for _, p := range []string{"/security", "/api/v1/security/assets"} {
		if r := f.do(t, nil, "GET", p, tok, nil, nil); r.StatusCode != 403 {
			t.Errorf("%s scoped: %d, want 403", p, r.StatusCode)
		}
	}

	// A cookie session: the form post needs the CSRF token.
	c := browser(t, f.authFixture)
	csrf, _ := getCSRF(t, f.authFixture, c, "/login")
	if r := postForm(t, f.authFixture, c, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"sara"}, "password": {"correct horse battery S9"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	id := f.mon.Alerts("", 1)[0].ID
	csrf, resp := getCSRF(t, f.authFixture, c, "/security")
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	path := "/api/v1/security/alerts/" + id + "/state"
	if r := postForm(t, f.authFixture, c, path, url.Values{"state": {"acknowledged"}}); r.StatusCode != 403 {
		t.Errorf("state change without csrf: %d, want 403", r.StatusCode)
	}
	if a := f.mon.Alerts("", 1)[0]; a.State != netview.StateNew {
		t.Fatalf("refused request changed the state: %s", a.State)
	}
	r := postForm(t, f.authFixture, c, path, url.Values{"csrf_token": {csrf}, "state": {"acknowledged"}, "note": {"seen"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/security#alert-") {
		t.Errorf("form state change: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if a := f.mon.Alerts("", 1)[0]; a.State != netview.StateAcknowledged {
		t.Errorf("state %s after the form", a.State)
	}
}

// TestWarRoomEscapes: identity strings from packets reach the page
// escaped, and the JSON API cannot be sniffed as HTML.
func TestWarRoomEscapes(t *testing.T) {
	f := newWarFixture(t)
	for _, lang := range []string{"en", "zh-TW"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/security", nil)
		req.Header.Set("Authorization", "Bearer "+f.analyst)
		req.Header.Set("Accept-Language", lang)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("page: %d", resp.StatusCode)
		}
		page := string(body)
		for _, bad := range []string{xssVendor, xssProduct, "<img", "<script>alert"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s page carries %q unescaped", lang, bad)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(&#34;v&#34;)&lt;/script&gt;") {
			t.Errorf("%s page lacks the escaped vendor", lang)
		}
		if !strings.Contains(page, `src="/static/warroom.js"`) || !strings.Contains(page, "10.0.0.66") {
			t.Errorf("%s page lacks its script or the rogue host", lang)
		}
		if lang == "zh-TW" && !strings.Contains(page, "戰情室") {
			t.Error("zh-TW page not translated")
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("csp %q", csp)
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/security/assets", nil)
	req.Header.Set("Authorization", "Bearer "+f.analyst)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte("<script>")) || resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("assets JSON: %s %v", body, resp.Header)
	}
	var as struct{ Assets []netview.Asset }
	json.Unmarshal(body, &as)
	found := false
	for _, a := range as.Assets {
		found = found || a.Identity["vendor"] == xssVendor
	}
	if !found {
		t.Errorf("the vendor string did not reach the API intact: %s", body)
	}
}

// TestWarRoomOff: without a monitor the page says so and the API answers
// 503 with its code.
func TestWarRoomOff(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	r := f.do(t, nil, "GET", "/api/v1/security/rates", f.admin, nil, nil)
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("rates without monitor: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/security", nil)
	req.Header.Set("Authorization", "Bearer "+f.admin)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Network monitoring is off") {
		t.Errorf("page without monitor: %d", resp.StatusCode)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

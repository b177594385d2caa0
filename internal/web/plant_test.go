package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

func init() {
	// Texts the Go handlers of pages.go pass to templates as Title or
	// Error, which "top" translates: no template names them literally.
	for _, k := range []string{"Recovery codes", "Set up", "Your sign-in expired. Please start again.",
		"That step does not apply now. Please continue here.", "The form expired. Please send it again.",
		"The two new passwords differ."} {
		jsOnly[k] = true
	}
}

// plantSource is a Source with device health records.
type plantSource struct {
	liveSource
	devices any
}

func (p *plantSource) Devices() any { return p.devices }

func u16(v uint64) model.Value { return model.UintValue(model.Uint16, v) }

// simTags are tags shaped like the simulator's demo config, plus one
// machine in a cell and one outside the scoped viewer's branch.
func simTags() []Tag {
	now := time.Unix(1700000000, 0).UTC()
	return []Tag{
		{Path: "acme/a/machining/line1/cnc01/state", Value: u16(2), Quality: model.Good, Time: now},
		{Path: "acme/a/machining/line1/cnc01/spindle_speed", Value: model.FloatValue(model.Float32, 1200), Quality: model.Good, Time: now},
		{Path: "acme/a/machining/line1/cnc02/state", Value: u16(4), Quality: model.Good, Time: now},
		{Path: "acme/a/machining/line1/cnc02/feed", Quality: model.BadTimeout, Code: "OTL-2102"},
		{Path: "acme/a/machining/line2/cell7/press01/state", Value: u16(5), Quality: model.Good, Time: now},
		{Path: "acme/a/machining/line2/cell7/press01/count", Value: model.IntValue(model.Int64, 7), Quality: model.Good, Time: now},
		{Path: "acme/b/welding/line9/robot01/state", Value: u16(1), Quality: model.Good, Time: now},
		{Path: "acme/b/welding/line9/robot01/secret_recipe", Value: model.StringValue("x"), Quality: model.Good, Time: now},
	}
}

// plantServer serves opts (with f's auth) over TLS.
func plantServer(t *testing.T, f *authFixture, opts Options) *httptest.Server {
	t.Helper()
	opts.Auth = f.svc
	opts.Logger = slog.New(slog.DiscardHandler)
	s := New(opts)
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(s.quit) })
	return ts
}

// fetch GETs path with a token and headers; it returns status and body.
func fetch(t *testing.T, ts *httptest.Server, path, tok string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func find(nodes []*PlantNode, path string) *PlantNode {
	for _, n := range nodes {
		if n.Path == path {
			return n
		}
		if c := find(n.Children, path); c != nil {
			return c
		}
	}
	return nil
}

func TestPlantTree(t *testing.T) {
	tags := append(simTags(),
		Tag{Path: "acme/a/machining/line1/cnc03/state", Value: u16(9), Quality: model.Good},       // no such state
		Tag{Path: "acme/a/machining/line1/cnc04/state", Value: u16(2), Quality: model.BadTimeout}, // stale
		Tag{Path: "acme/a/machining/line1/cnc05/state", Value: model.FloatValue(model.Float64, 3), Quality: model.Good},
		Tag{Path: "lonely", Quality: model.Good}, // no machine: ignored
	)
	roots := plantTree(tags)
	if len(roots) != 1 || roots[0].Path != "acme" || roots[0].Level != "enterprise" {
		t.Fatalf("roots: %+v", roots)
	}
	acme := roots[0]
	if acme.Machines != 7 || acme.Tags != 11 || acme.Bad != 2 {
		t.Errorf("acme counts: %d machines %d tags %d bad", acme.Machines, acme.Tags, acme.Bad)
	}
	want := map[string]int{"running": 1, "fault": 1, "maintenance": 1, "idle": 1, "unknown": 2, "setup": 1}
	for st, n := range want {
		if acme.States[st] != n {
			t.Errorf("acme has %d machines %s, want %d (%v)", acme.States[st], st, n, acme.States)
		}
	}
	for path, level := range map[string]string{"acme/a": "site", "acme/a/machining": "area", "acme/a/machining/line1": "line",
		"acme/a/machining/line2/cell7": "cell", "acme/a/machining/line2/cell7/press01": "machine", "acme/a/machining/line1/cnc01": "machine"} {
		if n := find(roots, path); n == nil || n.Level != level {
			t.Errorf("%s: %+v, want level %s", path, n, level)
		}
	}
	for path, state := range map[string]string{"acme/a/machining/line1/cnc01": "running", "acme/a/machining/line1/cnc02": "fault",
		"acme/a/machining/line1/cnc03": "unknown", "acme/a/machining/line1/cnc04": "unknown", "acme/a/machining/line1/cnc05": "setup",
		"acme/b/welding/line9/robot01": "idle"} {
		if n := find(roots, path); n == nil || n.Machine == nil || n.Machine.State != state {
			t.Errorf("%s: state %+v, want %s", path, n, state)
		}
	}
	cnc02 := find(roots, "acme/a/machining/line1/cnc02").Machine
	if cnc02.Tags != 2 || cnc02.Good != 1 || cnc02.Bad != 1 || cnc02.StateTag != "acme/a/machining/line1/cnc02/state" {
		t.Errorf("cnc02: %+v", cnc02)
	}
	// Children are sorted by name.
	line1 := find(roots, "acme/a/machining/line1")
	for i := 1; i < len(line1.Children); i++ {
		if line1.Children[i-1].Name >= line1.Children[i].Name {
			t.Errorf("line1 children out of order: %s before %s", line1.Children[i-1].Name, line1.Children[i].Name)
		}
	}
}

// TestPlantScope: a token scoped to acme/a sees only its branch, in the
// JSON API and the page; a plant-wide one sees both sites.
func TestPlantScope(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	ts := plantServer(t, f, Options{Source: &plantSource{liveSource: liveSource{tags: simTags()}}})

	var body struct{ Plant []*PlantNode }
	code, raw := fetch(t, ts, "/api/v1/plant", f.scopedV)
	if code != 200 || json.Unmarshal([]byte(raw), &body) != nil {
		t.Fatalf("plant as scoped viewer: %d %s", code, raw)
	}
	if len(body.Plant) != 1 || len(body.Plant[0].Children) != 1 || body.Plant[0].Children[0].Path != "acme/a" {
		t.Fatalf("scoped viewer's tree: %s", raw)
	}
	if strings.Contains(raw, "acme/b") || strings.Contains(raw, "robot01") || body.Plant[0].Machines != 3 {
		t.Errorf("scoped viewer sees beyond acme/a: %s", raw)
	}
	code, raw = fetch(t, ts, "/api/v1/plant", f.viewer)
	if code != 200 || json.Unmarshal([]byte(raw), &body) != nil || len(body.Plant[0].Children) != 2 || body.Plant[0].Machines != 4 {
		t.Fatalf("plant-wide viewer's tree: %d %s", code, raw)
	}

	code, page := fetch(t, ts, "/plant", f.scopedV)
	if code != 200 {
		t.Fatalf("plant page: %d", code)
	}
	for _, want := range []string{`href="/machines/acme/a/machining/line1/cnc01"`, `class="state state-running"`, `class="state state-fault"`,
		`class="state state-maintenance"`, "<details open>", `data-state-tag="acme/a/machining/line1/cnc02/state"`} {
		if !strings.Contains(page, want) {
			t.Errorf("plant page lacks %q", want)
		}
	}
	if strings.Contains(page, "acme/b") || strings.Contains(page, "robot01") {
		t.Error("plant page of a scoped viewer shows acme/b")
	}
	// The home page links the tree.
	if _, home := fetch(t, ts, "/", f.scopedV); !strings.Contains(home, `href="/plant"`) {
		t.Error("home page does not link /plant")
	}
}

// TestPlantXSS: tag names are data, escaped in the tree page, its JSON
// and the home page, and the pages load no inline script.
func TestPlantXSS(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	evil := `acme/a/<img src=x onerror=alert(1)>/"><script>alert(2)</script>/state`
	ts := plantServer(t, f, Options{Source: &plantSource{liveSource: liveSource{tags: []Tag{
		{Path: evil, Value: u16(2), Quality: model.Good}}}}})
	for _, p := range []string{"/plant", "/"} {
		code, page := fetch(t, ts, p, f.viewer)
		if code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
		for _, bad := range []string{"<img src=x", "<script>alert", `"><script>`} {
			if strings.Contains(page, bad) {
				t.Errorf("%s contains %q unescaped", p, bad)
			}
		}
		if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s does not show the tag name escaped", p)
		}
		for _, s := range strings.Split(page, "<script")[1:] {
			if !strings.HasPrefix(s, ` src="/static/`) {
				t.Errorf("%s has an inline script: <script%.40s", p, s)
			}
		}
	}
	code, raw := fetch(t, ts, "/api/v1/plant", f.viewer)
	if code != 200 || strings.Contains(raw, "<script>") || !strings.Contains(raw, `\u003cscript\u003e`) {
		t.Errorf("plant JSON: %d %s", code, raw)
	}
}

func healthRecords() any {
	return []map[string]any{
		{"name": "press-3", "driver": "modbus", "endpoint": "127.0.0.1:15020", "connected": false, "rtt_p50_ms": 0.5, "rtt_p99_ms": 20,
			"requests": 1234, "errors": 7, "overruns": 2, "learned_limits": map[string]uint32{"hr": 64},
			"identity":   map[string]string{"vendor": "ACME", "product": "PLC-9", "revision": "1.2"},
			"last_error": map[string]any{"code": "OTL-2102", "message": `modbus timeout <script>alert(3)</script>`, "time": time.Unix(1700000000, 0)}},
		{"name": "cnc01", "driver": "modbus", "endpoint": "127.0.0.1:15021", "connected": true, "on_backup": true, "requests": 99},
	}
}

func TestDevicesPage(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	ts := plantServer(t, f, Options{Source: &plantSource{devices: healthRecords()}})
	code, page := fetch(t, ts, "/devices", f.viewer)
	if code != 200 {
		t.Fatalf("devices page: %d %s", code, page)
	}
	for _, want := range []string{`data-device="press-3"`, "127.0.0.1:15020", "0.5 / 20.0", "1234", "hr: 64", "ACME PLC-9 1.2",
		`href="/errors/OTL-2102"`, "modbus timeout &lt;script&gt;", `class="state state-fault"`, "(backup)"} {
		if !strings.Contains(page, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("devices page shows an error message unescaped")
	}
	// cnc01 sorts before press-3.
	if strings.Index(page, `data-device="cnc01"`) > strings.Index(page, `data-device="press-3"`) {
		t.Error("devices not sorted by name")
	}
	// Plant-wide, like /api/v1/devices: a scoped viewer is refused.
	if code, body := fetch(t, ts, "/devices", f.scopedV); code != http.StatusForbidden || !strings.Contains(body, errcode.AuthForbidden.String()) {
		t.Errorf("devices page for a scoped viewer: %d %s", code, body)
	}
	// No engine records: an empty table that says so.
	ts2 := plantServer(t, f, Options{Source: &plantSource{}})
	if code, page := fetch(t, ts2, "/devices", f.viewer); code != 200 || !strings.Contains(page, "No device is configured.") {
		t.Errorf("devices page without devices: %d", code)
	}
	// The auto-refresh script reads the API it polls.
	if code, js := fetch(t, ts, "/static/otlink.js", f.viewer); code != 200 || !strings.Contains(js, "/api/v1/devices") {
		t.Errorf("otlink.js: %d", code)
	}
}

func TestErrorPage(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	ts := plantServer(t, f, Options{Source: &plantSource{}})
	e, _ := errcode.Lookup(errcode.ModbusTimeout)
	for _, p := range []string{"/errors/OTL-2102", "/errors/otl-2102", "/errors/2102"} {
		code, page := fetch(t, ts, p, f.scopedV)
		if code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
		for _, want := range []string{"OTL-2102", e.Title, e.Fix} {
			want = strings.ReplaceAll(want, "'", "&#39;")
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
	var entry struct{ Code, Title, Fix string }
	code, raw := fetch(t, ts, "/errors/OTL-2102", f.viewer, "Accept", "application/json")
	if code != 200 || json.Unmarshal([]byte(raw), &entry) != nil || entry.Code != "OTL-2102" || entry.Title != e.Title {
		t.Errorf("error entry as JSON: %d %s", code, raw)
	}
	for _, p := range []string{"/errors/OTL-9998", "/errors/nonsense", "/errors/OTL-12"} {
		var body struct{ Code, Message string }
		code, raw := fetch(t, ts, p, f.viewer)
		if code != 404 || json.Unmarshal([]byte(raw), &body) != nil || body.Code != errcode.WebUnknownCode.String() {
			t.Errorf("%s: %d %s, want 404 with %s", p, code, raw, errcode.WebUnknownCode)
		}
	}
	// Not public: a stranger is sent to the login.
	req, _ := http.NewRequest("GET", ts.URL+"/errors/OTL-2102", nil)
	resp, err := noRedirect(ts.Client()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("error page without login: %d", resp.StatusCode)
	}
}

// TestPagesInChinese: a zh-TW browser gets the pages in Traditional
// Chinese, marked as such; an English one in English.
func TestPagesInChinese(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	ts := plantServer(t, f, Options{Source: &plantSource{liveSource: liveSource{tags: simTags()}, devices: healthRecords()}})
	for _, c := range []struct{ path, tok, en, zh string }{
		{"/login", "", "Sign in to otlink", "登入 otlink"},
		{"/plant", f.viewer, "running", "運轉中"},
		{"/plant", f.viewer, "Devices", "裝置"},
		{"/devices", f.viewer, "Last error", "最後錯誤"},
		{"/machines/acme/a/machining/line1/cnc01", f.viewer, "Live tags", "即時點位"},
		{"/", f.viewer, "Machines", "機台"},
		{"/errors/OTL-2102", f.viewer, "What to check", "檢查項目"},
	} {
		code, zh := fetch(t, ts, c.path, c.tok, "Accept-Language", "zh-TW,zh;q=0.9,en;q=0.5")
		if code != 200 || !strings.Contains(zh, c.zh) || !strings.Contains(zh, `<html lang="zh-TW">`) {
			t.Errorf("%s in zh-TW: %d, lacks %q or lang", c.path, code, c.zh)
		}
		if strings.Contains(zh, ">"+c.en+"<") {
			t.Errorf("%s in zh-TW still shows %q", c.path, c.en)
		}
		code, en := fetch(t, ts, c.path, c.tok, "Accept-Language", "en-US")
		if code != 200 || !strings.Contains(en, c.en) || strings.Contains(en, c.zh) || !strings.Contains(en, `<html lang="en">`) {
			t.Errorf("%s in English: %d, lacks %q", c.path, code, c.en)
		}
		// The switch offers the other language.
		if !strings.Contains(zh, "/lang?lang=en&amp;back=") || !strings.Contains(en, "/lang?lang=zh-TW&amp;back=") {
			t.Errorf("%s: no language switch", c.path)
		}
	}
}

// fakeIntegrity answers Verify with a fixed report and records the
// options it was asked with.
type fakeIntegrity struct {
	mu   sync.Mutex
	opts integrity.VerifyOptions
	rep  *integrity.Report
	err  error
}

func (f *fakeIntegrity) Verify(_ context.Context, o integrity.VerifyOptions) (*integrity.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = o
	return f.rep, f.err
}
func (*fakeIntegrity) ExportCheckpoint(context.Context, io.Writer) error { return nil }
func (*fakeIntegrity) WriteBundle(context.Context, io.Writer, integrity.Selection) error {
	return nil
}
func (*fakeIntegrity) Witness(context.Context, []byte, ...string) (integrity.Checkpoint, error) {
	return integrity.Checkpoint{}, nil
}

func TestMachineIntegrity(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	src := &plantSource{liveSource: liveSource{tags: []Tag{
		{Path: "acme/a/l1/m[1]/x", Quality: model.Good, Value: model.FloatValue(model.Float64, 1)},
	}}}
	through := time.Date(2024, 5, 1, 8, 16, 39, 0, time.UTC)
	fi := &fakeIntegrity{rep: &integrity.Report{OK: true, Size: 50,
		Checkpoints: []integrity.CheckpointCheck{{Size: 40, Status: "ok"}, {Size: 48, Status: "ok"}, {Size: 49, Status: "mismatch"}},
		Ranges:      []integrity.Range{{Status: integrity.StatusVerified, Tag: "acme/a/l1/m[1]/x", To: through}},
		Summary:     integrity.Summary{Chunks: 9}}}
	ts := plantServer(t, f, Options{Source: src, Integrity: fi})
	page := "/machines/acme/a/l1/m%5B1%5D"
	code, body := fetch(t, ts, page, f.scopedV)
	if code != 200 || !strings.Contains(body, "Verified up to checkpoint 48, data through 2024-05-01 08:16:39 UTC.") || !strings.Contains(body, `data-state="ok"`) {
		t.Errorf("verified status: %d %s", code, body)
	}
	// Only this machine's tags, its path quoted for the glob.
	if fi.opts.TagGlob != `acme/a/l1/m\[1\]/*` || fi.opts.From.IsZero() {
		t.Errorf("verify options: %+v", fi.opts)
	}
	// A failed verification says so.
	fi.rep = &integrity.Report{OK: false, Summary: integrity.Summary{Chunks: 9, Tampered: 1}}
	if _, body := fetch(t, ts, page, f.viewer); !strings.Contains(body, "Verification failed: 1 tampered, 0 gaps") {
		t.Error("tampered history not reported")
	}
	// Nothing sealed yet.
	fi.rep = &integrity.Report{OK: true, Size: 3}
	if _, body := fetch(t, ts, page, f.viewer); !strings.Contains(body, `data-state="empty"`) {
		t.Error("empty log not reported")
	}
	// An error carries its code and its troubleshooting link.
	fi.rep, fi.err = nil, errcode.New(errcode.StoreOpen, "disk gone")
	if _, body := fetch(t, ts, page, f.viewer); !strings.Contains(body, `href="/errors/OTL-6201"`) {
		t.Error("integrity error without its code")
	}
	// Without an integrity log the page says the history is not verified.
	ts2 := plantServer(t, f, Options{Source: src})
	if _, body := fetch(t, ts2, page, f.viewer); !strings.Contains(body, "This historian has no integrity log") || !strings.Contains(body, `data-state="off"`) {
		t.Error("missing integrity log not reported")
	}
	// The trend needs history: without a historian it says so.
	if strings.Contains(body, `id="trend-chart"`) {
		t.Error("trend chart offered without a historian")
	}
}

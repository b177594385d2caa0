package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// writeAPI posts {"path","value"} with a token or a session and returns
// the status and the error code.
func writeCall(t *testing.T, f *adminFixture, c *http.Client, token, csrf, path, value string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"path": path, "value": json.RawMessage(value)})
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/tags/write", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if c == nil {
		c = f.srv.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Code
}

func TestWriteAPI(t *testing.T) {
	f := newAdminFixture(t, true)
	ctx := context.Background()
	ottoTok, _, err := f.svc.CreateToken(ctx, "otto", "line a", []string{auth.PermTagsRead, auth.PermTagsWrite}, []string{"acme/a"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pamTok, _, err := f.svc.CreateToken(ctx, "pam", "plant", []string{auth.PermTagsWrite}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	veraTok, _, _ := f.svc.CreateToken(ctx, "vera", "v", []string{auth.PermTagsRead}, nil, time.Hour)
	for _, c := range []struct {
		name, tok, path, value string
		status                 int
		code                   errcode.Code
	}{
		{"in limits", ottoTok, "acme/a/m1/sp", `25`, 200, 0},
		{"as a string", ottoTok, "acme/a/m1/sp", `"26.5"`, 200, 0},
		{"above max", ottoTok, "acme/a/m1/sp", `101`, 422, errcode.WebWriteLimits},
		{"step too large", ottoTok, "acme/a/m1/sp", `60`, 422, errcode.WebWriteLimits},
		{"not a number", ottoTok, "acme/a/m1/sp", `"abc"`, 400, errcode.WebWriteBadValue},
		{"read-only tag", ottoTok, "acme/a/m1/x", `1`, 404, errcode.WebWriteNotWritable},
		{"outside the user's scope", ottoTok, "acme/b/m2/sp", `1`, 403, errcode.AuthForbidden},
		{"plant-wide token", pamTok, "acme/b/m2/sp", `1`, 403, errcode.WebWriteTokenScope},
		{"viewer", veraTok, "acme/a/m1/sp", `25`, 403, errcode.AuthForbidden},
	} {
		st, code := writeCall(t, f, nil, c.tok, "", c.path, c.value)
		if st != c.status || (c.code != 0 && code != c.code.String()) {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, code, c.status, c.code)
		}
	}
	if got := strings.Join(f.writes.done(), ","); got != "acme/a/m1/sp=25,acme/a/m1/sp=26.5" {
		t.Errorf("writes reached the engine: %s", got)
	}
	// The engine's refusal comes back with its code and status.
	f.writes.err = errcode.New(errcode.AcquireWriteTooFast, "write: too soon")
	if st, code := writeCall(t, f, nil, ottoTok, "", "acme/a/m1/sp", `21`); st != 429 || code != errcode.AcquireWriteTooFast.String() {
		t.Errorf("engine refusal: %d %s", st, code)
	}
	f.writes.err = nil
	if st, _ := writeCall(t, f, nil, ottoTok, "", "", `1`); st != 400 {
		t.Errorf("no path: %d", st)
	}

	// A session: fresh after the login, with the CSRF header.
	c := f.login(t, "otto")
	csrf := mustCSRF(t, f, c, "/write/acme/a/m1/sp")
	if st, code := writeCall(t, f, c, "", "", "acme/a/m1/sp", `22`); st != 403 || code != errcode.AuthCSRF.String() {
		t.Errorf("session without csrf: %d %s", st, code)
	}
	if st, _ := writeCall(t, f, c, "", csrf, "acme/a/m1/sp", `22`); st != 200 {
		t.Errorf("fresh session: %d", st)
	}
	f.clock.Add(stepUpWindow + time.Minute)
	if st, code := writeCall(t, f, c, "", csrf, "acme/a/m1/sp", `23`); st != 403 || code != errcode.AuthStepUpRequired.String() {
		t.Errorf("stale session: %d %s", st, code)
	}
	// Every attempt that reaches the handler is audited, with old and new
	// values: 11 (the viewer without tags.write, the request without a
	// CSRF token and the one without a path stop before).
	var res struct {
		Events []struct{ Actor, Outcome, Detail string }
	}
	getJSONAuth(t, f.authFixture, "/api/v1/audit?action=tag.write&limit=100", adminToken(t, f), &res)
	if len(res.Events) != 11 {
		t.Errorf("%d tag.write events for 11 attempts", len(res.Events))
	}
	want := map[string]bool{"otto/token:1 ok old=20 new=25": false, "otto ok old=20 new=22": false, "otto denied old=unknown new=23": false}
	for _, e := range res.Events {
		k := e.Actor + " " + e.Outcome + " " + e.Detail
		for w := range want {
			if strings.HasPrefix(k, w) {
				want[w] = true
			}
		}
	}
	for w, ok := range want {
		if !ok {
			t.Errorf("audit lacks %q", w)
		}
	}
}

// TestWritePages walks the form: the tag with its limits, the confirm
// dialog with old and new value, the step-up on a stale session, the
// result.
func TestWritePages(t *testing.T) {
	f := newAdminFixture(t, true)
	c := f.login(t, "otto")
	st, body := getPage(t, f, c, "/write/acme/a/m1/sp")
	if st != 200 {
		t.Fatalf("write page: %d", st)
	}
	mustContain(t, "write page", body, "acme/a/m1/sp", "20 %", "0 … 100 %", "30")
	if st, _ := getPage(t, f, c, "/write/acme/b/m2/sp"); st != 403 {
		t.Errorf("write page outside otto's scope: %d", st)
	}
	if st, _ := getPage(t, f, c, "/write/acme/a/m1/x"); st != 404 {
		t.Errorf("write page of a read-only tag: %d", st)
	}
	// Out of limits: the form again, with the error; nothing written.
	st, body = post(t, f, c, "/write/acme/a/m1/sp", "/write/acme/a/m1/sp", url.Values{"value": {"150"}})
	if st != 422 || !strings.Contains(body, errcode.WebWriteLimits.String()) {
		t.Errorf("out of limits: %d", st)
	}
	f.clock.Add(stepUpWindow + time.Minute)
	st, body = post(t, f, c, "/write/acme/a/m1/sp", "/write/acme/a/m1/sp", url.Values{"value": {"35"}})
	if st != 200 {
		t.Fatalf("confirm: %d", st)
	}
	mustContain(t, "confirm dialog", body, `id="old-value">20`, `id="new-value">35`, `name="stepup_code"`, `name="confirm" value="yes"`)
	csrf := regexpFind(body, `name="csrf_token" value="([^"]+)"`)
	// Confirm without the step-up: refused, nothing written.
	st, body = post(t, f, c, "", "/write/acme/a/m1/sp", url.Values{"csrf_token": {csrf}, "value": {"35"}, "confirm": {"yes"}})
	if st != 403 || !strings.Contains(body, errcode.AuthStepUpRequired.String()) {
		t.Errorf("confirm without step-up: %d", st)
	}
	st, body = post(t, f, c, "", "/write/acme/a/m1/sp", url.Values{"csrf_token": {csrf}, "value": {"35"}, "confirm": {"yes"}, "stepup_method": {"totp"}, "stepup_code": {"123"}})
	if st != 400 || len(f.writes.done()) != 0 {
		t.Errorf("bad step-up code: %d, writes %v", st, f.writes.done())
	}
	f.clock.Add(30 * time.Second)
	st, body = post(t, f, c, "", "/write/acme/a/m1/sp", url.Values{"csrf_token": {csrf}, "value": {"35"}, "confirm": {"yes"}, "stepup_method": {"totp"}, "stepup_code": {f.code(t, "otto")}})
	if st != 200 || !strings.Contains(body, `id="write-done"`) {
		t.Fatalf("write with step-up: %d %.300s", st, body)
	}
	if got := f.writes.done(); len(got) != 1 || got[0] != "acme/a/m1/sp=35" {
		t.Errorf("writes: %v", got)
	}
	// Now fresh: the next write needs no code.
	csrf = mustCSRF(t, f, c, "/write/acme/a/m1/sp")
	if st, body := post(t, f, c, "", "/write/acme/a/m1/sp", url.Values{"csrf_token": {csrf}, "value": {"40"}, "confirm": {"yes"}}); st != 200 || !strings.Contains(body, `id="write-done"`) {
		t.Errorf("fresh write: %d", st)
	}
	// A token cannot use the form.
	tok, _, _ := f.svc.CreateToken(context.Background(), "otto", "t", []string{auth.PermTagsWrite}, []string{"acme/a"}, time.Hour)
	if r := f.do(t, nil, "POST", "/write/acme/a/m1/sp", tok, strings.NewReader("value=1&confirm=yes"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.StatusCode != 400 {
		t.Errorf("form with a token: %d", r.StatusCode)
	}
}

// TestWritesOff: without Writes every write is refused with its code.
func TestWritesOff(t *testing.T) {
	f := newAdminFixture(t, false)
	tok, _, _ := f.svc.CreateToken(context.Background(), "otto", "t", []string{auth.PermTagsWrite}, []string{"acme/a"}, time.Hour)
	if st, code := writeCall(t, f, nil, tok, "", "acme/a/m1/sp", `1`); st != 503 || code != errcode.WebWriteOff.String() {
		t.Errorf("writes off: %d %s", st, code)
	}
}

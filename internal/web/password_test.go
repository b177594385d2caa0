package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

// TestPasswordPages: a user an administrator adds signs in with the
// one-time password and must choose a password first; a signed-in user
// changes their own password; an administrator's reset ends the user's
// sessions and makes them choose again. Bad input gets coded errors.
func TestPasswordPages(t *testing.T) {
	f := newAdminFixture(t, false)
	ctx := context.Background()
	ada := f.login(t, "ada")
	st, body := post(t, f, ada, "/users", "/users", url.Values{"name": {"bea"}, "roles": {"viewer"}})
	oneTime := regexpFind(body, `id="new-password">([^<]+)<`)
	if st != 200 || oneTime == "" {
		t.Fatalf("add bea: %d, password %q", st, oneTime)
	}
	if u, _ := f.svc.User(ctx, "bea"); !u.TemporaryPassword {
		t.Fatal("a one-time password that is not temporary")
	}

	// Sign in with the one-time password: the password step only.
	bea := browser(t, f.authFixture)
	csrf, _ := getCSRF(t, f.authFixture, bea, "/login")
	if r := postForm(t, f.authFixture, bea, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"bea"}, "password": {oneTime}}); r.StatusCode != 303 {
		t.Fatalf("password step: %d", r.StatusCode)
	}
	st, body = getPage(t, f, bea, "/login")
	mustContain(t, "login page", body, `value="newpw"`, `autocomplete="new-password"`)
	if st, _ := getPage(t, f, bea, "/"); st != http.StatusSeeOther {
		t.Fatalf("home before choosing a password: %d, want a redirect to /login", st)
	}
	for _, c := range []struct {
		pw, confirm string
		want        string
	}{
		{"bea-chooses-well-1", "bea-chooses-well-2", "differ"},
		{"short", "short", errcode.AuthWeakPassword.String()},
		{oneTime, oneTime, errcode.AuthPasswordReused.String()},
	} {
		st, body = post(t, f, bea, "/login", "/login", url.Values{"step": {"newpw"}, "password": {c.pw}, "confirm": {c.confirm}})
		if st < 400 || !strings.Contains(body, c.want) {
			t.Errorf("new password %q/%q: %d, want an error with %q: %.300s", c.pw, c.confirm, st, c.want, body)
		}
	}
	const chosen = "a-passphrase-of-my-own-5"
	if st, _ = post(t, f, bea, "/login", "/login", url.Values{"step": {"newpw"}, "password": {chosen}, "confirm": {chosen}}); st != 303 {
		t.Fatalf("choose password: %d", st)
	}
	if st, _ := getPage(t, f, bea, "/"); st != 200 {
		t.Fatalf("home after choosing: %d", st)
	}

	// Her own change: the current password, then the new one twice.
	st, body = getPage(t, f, bea, "/account/password")
	mustContain(t, "password page", body, `name="current"`, `name="confirm"`)
	st, body = post(t, f, bea, "/account/password", "/account/password", url.Values{"current": {"wrong-current-pass-1"}, "password": {"b-newer-passphrase-6"}, "confirm": {"b-newer-passphrase-6"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, errcode.AuthBadCredentials.String()) {
		t.Errorf("wrong current password: %d %.300s", st, body)
	}
	st, body = post(t, f, bea, "/account/password", "/account/password", url.Values{"current": {chosen}, "password": {"b-newer-passphrase-6"}, "confirm": {"b-newer-passphrase-7"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "differ") {
		t.Errorf("mismatched new passwords: %d", st)
	}
	other := browser(t, f.authFixture) // a second session of bea's
	csrf, _ = getCSRF(t, f.authFixture, other, "/login")
	postForm(t, f.authFixture, other, "/login", url.Values{"csrf_token": {csrf}, "step": {"password"}, "user": {"bea"}, "password": {chosen}})
	if st, _ := getPage(t, f, other, "/"); st != 200 {
		t.Fatalf("second session: %d", st)
	}
	st, body = post(t, f, bea, "/account/password", "/account/password", url.Values{"current": {chosen}, "password": {"b-newer-passphrase-6"}, "confirm": {"b-newer-passphrase-6"}})
	if st != 200 || !strings.Contains(body, `id="password-changed"`) {
		t.Fatalf("change: %d %.300s", st, body)
	}
	// The page carries the new session's token: the next form works.
	if st, _ := post(t, f, bea, "/account/password", "/account/password", url.Values{"current": {"b-newer-passphrase-6"}, "password": {"b-newest-passphrase-8"}, "confirm": {"b-newest-passphrase-8"}}); st != 200 {
		t.Fatalf("second change in the same session: %d", st)
	}
	if st, _ := getPage(t, f, other, "/"); st != http.StatusSeeOther {
		t.Errorf("the other session survived the change: %d", st)
	}

	// The administrator's reset: a new one-time password, bea's sessions end.
	st, body = post(t, f, ada, "/users", "/users/bea/reset-password", url.Values{})
	reset := regexpFind(body, `id="new-password">([^<]+)<`)
	if st != 200 || reset == "" || reset == oneTime || !strings.Contains(body, "reset") {
		t.Fatalf("reset: %d %q", st, reset)
	}
	if st, _ := getPage(t, f, bea, "/"); st != http.StatusSeeOther {
		t.Errorf("bea's session survived the reset: %d", st)
	}
	if st, _ := post(t, f, ada, "/users", "/users/ada/reset-password", url.Values{}); st != http.StatusBadRequest {
		t.Errorf("resetting one's own password: %d, want 400", st)
	}
	if st, _ := post(t, f, ada, "/users", "/users/nobody/reset-password", url.Values{}); st != http.StatusNotFound {
		t.Errorf("resetting an unknown user: %d, want 404", st)
	}
	// Tokens have no password of their own.
	resp := f.do(t, f.srv.Client(), "GET", "/account/password", adminToken(t, f), nil, nil)
	if resp.StatusCode < 400 {
		t.Errorf("token on the password page: %d", resp.StatusCode)
	}
	resp.Body.Close()

	var res struct {
		Events []struct{ Actor, Action, Object, Outcome, Detail string }
	}
	getJSONAuth(t, f.authFixture, "/api/v1/audit?action=user.password", adminToken(t, f), &res)
	var kinds []string
	for _, e := range res.Events {
		kinds = append(kinds, e.Actor+":"+e.Outcome+":"+e.Detail)
	}
	all := strings.Join(kinds, "|")
	for _, want := range []string{"bea:ok:temporary password replaced", "bea:failed:OTL-6102", "bea:ok:changed by the user", "ada:ok:reset by an administrator"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q: %s", want, all)
		}
	}
}

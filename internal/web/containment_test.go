package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
)

// TestContainmentAPI: an incident responder's script, with a token that
// holds users.admin, disables an account (its session and tokens stop at
// once) and revokes a token, without a step-up; a reader's token and a
// browser session without its CSRF token are refused; bad input is coded.
func TestContainmentAPI(t *testing.T) {
	f := newAdminFixture(t, false)
	ctx := context.Background()
	responder := adminToken(t, f)
	vera := f.login(t, "vera")
	veraTok, _, err := f.svc.CreateToken(ctx, "vera", "dash", []string{auth.PermTagsRead}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pamTok, pam, err := f.svc.CreateToken(ctx, "pam", "plc-script", []string{auth.PermTagsRead}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	status := func(method, path, tok string) int {
		t.Helper()
		return f.do(t, nil, method, path, tok, nil, nil).StatusCode
	}
	pamID := pam.ID
	if st := status("GET", "/api/v1/tags", pamTok); st != 200 {
		t.Fatalf("pam's token before: %d", st)
	}

	// Refusals first: nothing changes.
	for _, c := range []struct {
		path, tok string
		want      int
	}{
		{"/api/v1/users/vera/disable", "", http.StatusUnauthorized},
		{"/api/v1/users/vera/disable", veraTok, http.StatusForbidden},
		{"/api/v1/users/ada/disable", responder, http.StatusBadRequest}, // the token's own account
		{"/api/v1/users/nobody/disable", responder, http.StatusNotFound},
		{"/api/v1/tokens/x/revoke", responder, http.StatusBadRequest},
		{"/api/v1/tokens/99999/revoke", responder, http.StatusBadRequest},
	} {
		if st := status("POST", c.path, c.tok); st != c.want {
			t.Errorf("POST %s: %d, want %d", c.path, st, c.want)
		}
	}
	// A browser session needs its CSRF token for the API too.
	ada := f.login(t, "ada")
	if r := f.do(t, ada, "POST", "/api/v1/tokens/"+fmt.Sprint(pamID)+"/revoke", "", nil, nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("session without CSRF: %d", r.StatusCode)
	}
	if st, _ := getPage(t, f, vera, "/"); st != 200 {
		t.Fatalf("vera's session before: %d", st)
	}

	if st := status("POST", fmt.Sprintf("/api/v1/tokens/%d/revoke", pamID), responder); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st := status("GET", "/api/v1/tags", pamTok); st != http.StatusUnauthorized {
		t.Errorf("revoked token still works: %d", st)
	}
	if st := status("POST", "/api/v1/users/vera/disable", responder); st != 200 {
		t.Fatalf("disable: %d", st)
	}
	if st, _ := getPage(t, f, vera, "/"); st != http.StatusSeeOther {
		t.Errorf("disabled user's session still works: %d", st)
	}
	if st := status("GET", "/api/v1/tags", veraTok); st != http.StatusUnauthorized {
		t.Errorf("disabled user's token still works: %d", st)
	}
	if u, _ := f.svc.User(ctx, "vera"); !u.Disabled {
		t.Error("vera not disabled")
	}

	var res struct {
		Events []struct{ Actor, Action, Object string }
	}
	getJSONAuth(t, f.authFixture, "/api/v1/audit?limit=200", responder, &res)
	seen := map[string]bool{}
	for _, e := range res.Events {
		seen[e.Actor+" "+e.Action+" "+e.Object] = true
	}
	// The actor names the token and its owner.
	for _, want := range []string{"ada/token:1 user.disable user/vera", fmt.Sprintf("ada/token:1 token.revoke token/%d", pamID)} {
		if !seen[want] {
			t.Errorf("audit lacks %q: %v", want, seen)
		}
	}
}

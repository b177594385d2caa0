package auth

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestBuiltinRoles(t *testing.T) {
	// Expected permission matrix: one row per built-in role, in AllPerms order:
	// tags.read tags.write history.read history.export config.write
	// users.admin security.read alerts.ack audit.read integrity.read
	// integrity.write
	want := map[string]string{
		RoleViewer:          "10100000010",
		RoleOperator:        "11100001010",
		RoleEngineer:        "11111001010",
		RoleSecurityAnalyst: "10110011111",
		RoleAdmin:           "11111111111",
	}
	const line = "acme/taichung/machining/line1"
	for role, row := range want {
		p := &Principal{Name: "x", Roles: []string{role}, Perms: BuiltinRoles[role], Scopes: []string{line}}
		for i, perm := range AllPerms {
			exp := row[i] == '1'
			if got := Allowed(p, perm, line+"/cnc01/spindle"); got != exp {
				t.Errorf("%s %s in scope = %v, want %v", role, perm, got, exp)
			}
			if Allowed(p, perm, "acme/taichung/machining/line10/cnc01") {
				t.Errorf("%s %s allowed on line10 with scope line1", role, perm)
			}
			if Allowed(p, perm, "") {
				t.Errorf("%s %s allowed plant-wide with a line scope", role, perm)
			}
			all := &Principal{Perms: p.Perms, Scopes: []string{ScopeAll}}
			if got := Allowed(all, perm, ""); got != exp {
				t.Errorf("%s %s plant-wide = %v, want %v", role, perm, got, exp)
			}
		}
	}
	if Allowed(nil, PermTagsRead, "acme") {
		t.Fatal("nil principal allowed")
	}
	if Allowed(&Principal{Perms: AllPerms}, PermTagsRead, "acme") {
		t.Fatal("principal without scopes allowed")
	}
}

func TestMFAPolicy(t *testing.T) {
	f := newFixture(t, nil)
	for role, need := range map[string]bool{RoleViewer: false, RoleOperator: true, RoleEngineer: true, RoleSecurityAnalyst: false, RoleAdmin: true} {
		u := f.user("u_"+role, role)
		if u.MFARequired != need {
			t.Errorf("%s: mfa required = %v", role, u.MFARequired)
		}
	}
	g := newFixture(t, func(o *Options) { o.MFAForAll = true })
	if u := g.user("vic", RoleViewer); !u.MFARequired {
		t.Error("MFAForAll ignored")
	}
	_, err := Open(g.ctx, filepath.Join(t.TempDir(), "a.db"), Options{MFARequiredPerms: []string{"tags.smash"}})
	wantCode(t, err, errcode.AuthBadRole)
}

func TestCustomRoles(t *testing.T) {
	f := newFixture(t, nil)
	wantCode(t, f.s.DefineRole(f.ctx, RoleAdmin, []string{PermTagsRead}), errcode.AuthBadRole)
	wantCode(t, f.s.DefineRole(f.ctx, "qa", []string{"tags.smash"}), errcode.AuthBadRole)
	wantCode(t, f.s.DefineRole(f.ctx, "Bad Name", []string{PermTagsRead}), errcode.AuthBadRole)
	if err := f.s.DefineRole(f.ctx, "quality", []string{PermHistoryRead, PermHistoryExport, PermHistoryRead}); err != nil {
		t.Fatal(err)
	}
	u, err := f.s.CreateUser(f.ctx, "quinn", goodPW, []string{"quality"}, []string{"acme/taichung"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.s.Authenticate(f.ctx, f.login("quinn").Secret)
	if err != nil {
		t.Fatal(err)
	}
	if !Allowed(p, PermHistoryExport, "acme/taichung/a/b") || Allowed(p, PermTagsRead, "acme/taichung/a/b") {
		t.Fatalf("custom role perms %v", p.Perms)
	}
	// Redefining the role ends the holders' sessions (a privilege change).
	r := f.login("quinn")
	if err := f.s.DefineRole(f.ctx, "quality", []string{PermHistoryRead}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	wantCode(t, f.s.DeleteRole(f.ctx, "quality"), errcode.AuthBadRole) // held by quinn
	f.s.SetRoles(f.ctx, u.Name, []string{RoleViewer}, nil)
	if err := f.s.DeleteRole(f.ctx, "quality"); err != nil {
		t.Fatal(err)
	}
	roles, _ := f.s.Roles(f.ctx)
	if len(roles) != 5 {
		t.Fatalf("%d roles", len(roles))
	}
	// A custom role with users.admin counts as an administrator for the bootstrap.
	f.s.DefineRole(f.ctx, "useradmin", []string{PermUsersAdmin})
	if ok, _ := f.s.AdminExists(f.ctx); ok {
		t.Fatal("no one holds useradmin yet")
	}
	f.user("ursula", "useradmin")
	if ok, _ := f.s.AdminExists(f.ctx); !ok {
		t.Fatal("useradmin holder not counted")
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.s.CreateUser(f.ctx, "eng", goodPW, []string{RoleEngineer}, []string{"acme/taichung/machining"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.s.CreateToken(f.ctx, "eng", "x", []string{PermUsersAdmin}, nil, time.Hour)
	wantCode(t, err, errcode.AuthForbidden) // more than the owner holds
	_, _, err = f.s.CreateToken(f.ctx, "eng", "x", []string{PermTagsRead}, []string{"acme/kaohsiung"}, time.Hour)
	wantCode(t, err, errcode.AuthForbidden) // outside the owner's scope
	_, _, err = f.s.CreateToken(f.ctx, "eng", "x", []string{PermTagsRead}, nil, time.Hour)
	wantCode(t, err, errcode.AuthForbidden) // nil = whole plant, wider than the owner
	_, _, err = f.s.CreateToken(f.ctx, "eng", "x", []string{PermTagsRead}, []string{"acme/taichung/machining"}, 0)
	wantCode(t, err, errcode.AuthBadInput)

	secret, tok, err := f.s.CreateToken(f.ctx, "eng", "grafana", []string{PermTagsRead, PermHistoryRead}, []string{"acme/taichung/machining/line1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 40 || secret[:4] != TokenPrefix || tok.Prefix != secret[:10] {
		t.Fatalf("secret %q prefix %q", secret, tok.Prefix)
	}
	var n int
	f.s.db.QueryRow(`SELECT count(*) FROM api_tokens WHERE hash = ? OR prefix = ?`, []byte(secret), secret).Scan(&n)
	if n != 0 {
		t.Fatal("token stored in clear")
	}
	p, err := f.s.AuthenticateToken(f.ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		perm, path string
		ok         bool
	}{
		{PermTagsRead, "acme/taichung/machining/line1/cnc01/speed", true},
		{PermHistoryRead, "acme/taichung/machining/line1", true},
		{PermTagsWrite, "acme/taichung/machining/line1/cnc01/speed", false}, // the user may, the token may not
		{PermTagsRead, "acme/taichung/machining/line2/cnc01/speed", false},  // the user may, outside the token's scope
		{PermTagsRead, "", false},
	} {
		if got := Allowed(p, c.perm, c.path); got != c.ok {
			t.Errorf("token %s %s = %v", c.perm, c.path, got)
		}
	}
	// Wrong secrets.
	for _, bad := range []string{"", "otl_", secret[:len(secret)-1], secret + "A", "Bearer " + secret, "x" + secret[1:]} {
		_, err := f.s.AuthenticateToken(f.ctx, bad)
		wantCode(t, err, errcode.AuthTokenInvalid)
	}
	// Listing shows no secret.
	list, _ := f.s.ListTokens(f.ctx, "eng")
	if len(list) != 1 || list[0].Name != "grafana" {
		t.Fatalf("%+v", list)
	}
	// The owner loses a permission: the token loses it too.
	f.s.SetRoles(f.ctx, "eng", []string{RoleViewer}, []string{"acme/taichung/machining"})
	p, _ = f.s.AuthenticateToken(f.ctx, secret)
	if !Allowed(p, PermTagsRead, "acme/taichung/machining/line1/x") || p.Has(PermTagsWrite) {
		t.Fatal("token does not follow its owner")
	}
	// Disabled owner.
	f.s.SetDisabled(f.ctx, "eng", true)
	_, err = f.s.AuthenticateToken(f.ctx, secret)
	wantCode(t, err, errcode.AuthTokenInvalid)
	f.s.SetDisabled(f.ctx, "eng", false)
	// Expiry.
	f.clk.Add(24 * time.Hour)
	_, err = f.s.AuthenticateToken(f.ctx, secret)
	wantCode(t, err, errcode.AuthTokenInvalid)
	// Revocation.
	s2, t2, _ := f.s.CreateToken(f.ctx, "eng", "ci", []string{PermTagsRead}, []string{"acme/taichung/machining"}, time.Hour)
	if _, err := f.s.AuthenticateToken(f.ctx, s2); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RevokeToken(f.ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.AuthenticateToken(f.ctx, s2)
	wantCode(t, err, errcode.AuthTokenInvalid)
	wantCode(t, f.s.RevokeToken(f.ctx, 999), errcode.AuthBadInput)
	list, _ = f.s.ListTokens(f.ctx, "")
	if len(list) != 2 || !list[1].Revoked {
		t.Fatalf("%+v", list)
	}
	// Actor of events done with a token names it.
	if a := actorOf(WithPrincipal(f.ctx, p)); a != "eng/token:1" {
		t.Fatalf("actor %q", a)
	}
}

func TestAuditSearchAndSink(t *testing.T) {
	f := newFixture(t, nil)
	for i, a := range []string{"tags.write", "alerts.ack", "tags.write", "history.export"} {
		f.clk.Add(time.Minute)
		ctx := WithActor(f.ctx, []string{"olga", "eve"}[i%2])
		if err := f.s.Audit(ctx, Event{Action: a, Object: "acme/line1/cnc01/setpoint", Detail: "old=1 new=2 100%_sure"}); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, f.s.Audit(f.ctx, Event{}), errcode.AuthBadInput)
	evs, _, _ := f.s.SearchAudit(f.ctx, AuditFilter{Action: "tags.write"}, Page{})
	if len(evs) != 2 || evs[0].ID < evs[1].ID || evs[0].Actor != "olga" || evs[0].IP != "192.0.2.1" {
		t.Fatalf("%+v", evs)
	}
	evs, _, _ = f.s.SearchAudit(f.ctx, AuditFilter{Actor: "eve"}, Page{})
	if len(evs) != 2 {
		t.Fatalf("%+v", evs)
	}
	evs, _, _ = f.s.SearchAudit(f.ctx, AuditFilter{Text: "100%_"}, Page{})
	if len(evs) != 4 {
		t.Fatalf("text: %d", len(evs))
	}
	evs, _, _ = f.s.SearchAudit(f.ctx, AuditFilter{Text: "0%x"}, Page{})
	if len(evs) != 0 {
		t.Fatal("LIKE wildcards not escaped")
	}
	t0 := time.Date(2026, 3, 1, 8, 2, 0, 0, time.UTC)
	evs, _, _ = f.s.SearchAudit(f.ctx, AuditFilter{From: t0, To: t0.Add(2 * time.Minute)}, Page{})
	if len(evs) != 2 || evs[0].Action != "tags.write" || evs[1].Action != "alerts.ack" {
		t.Fatalf("time range: %+v", evs)
	}
	// Paging.
	var all []Event
	var before int64
	for range 10 {
		page, next, err := f.s.SearchAudit(f.ctx, AuditFilter{Action: "tags."}, Page{Limit: 1, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		before = next
	}
	if len(all) != 2 {
		t.Fatalf("paged %d", len(all))
	}

	// Every event reached the sink, in order.
	total, _, _ := f.s.SearchAudit(f.ctx, AuditFilter{}, Page{Limit: 1000})
	if len(f.sunk) != len(total) || !slices.IsSortedFunc(f.sunk, func(a, b Event) int { return int(a.ID - b.ID) }) {
		t.Fatalf("sunk %d of %d", len(f.sunk), len(total))
	}
	// The sink fails: events are kept and re-sent on the next open.
	f.sinkE = errors.New("integrity log closed")
	f.s.Audit(f.ctx, Event{Action: "config.write", Object: "devices/press-3"})
	f.s.Audit(f.ctx, Event{Action: "logout"})
	before2 := len(f.sunk)
	f.s.Close()
	f.sinkE = nil
	s2, err := Open(f.ctx, filepath.Join(f.dir, "auth.db"), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if len(f.sunk) != before2+2 || f.sunk[len(f.sunk)-2].Action != "config.write" || f.sunk[len(f.sunk)-1].Action != "logout" {
		t.Fatalf("after reopen sunk %d, want %d", len(f.sunk), before2+2)
	}
	var unsent int
	s2.db.QueryRow(`SELECT count(*) FROM audit WHERE sunk = 0`).Scan(&unsent)
	if unsent != 0 {
		t.Fatalf("%d unsent", unsent)
	}
	// The integrity leaf commits to the whole event.
	e := f.sunk[len(f.sunk)-1]
	le := e.IntegrityEntry()
	if _, err := le.Encode(); err != nil {
		t.Fatal(err)
	}
	e2 := e
	e2.IP = "198.51.100.7"
	if e2.DetailHash() == le.Detail {
		t.Fatal("detail hash ignores the ip")
	}
}

// TestWriteScoped: tokens write only where their own scopes name the part
// of the plant; sessions are not limited by it.
func TestWriteScoped(t *testing.T) {
	sess := &Principal{Perms: AllPerms, Scopes: []string{ScopeAll}}
	star := &Principal{Perms: AllPerms, Scopes: []string{ScopeAll}, TokenID: 1, TokenPerms: AllPerms, TokenScopes: []string{ScopeAll}}
	line := &Principal{Perms: AllPerms, Scopes: []string{ScopeAll}, TokenID: 2, TokenPerms: AllPerms, TokenScopes: []string{ScopeAll, "acme/l1"}}
	for _, c := range []struct {
		p    *Principal
		path string
		want bool
	}{{sess, "acme/l1/m/x", true}, {star, "acme/l1/m/x", false}, {line, "acme/l1/m/x", true}, {line, "acme/l10/m/x", false}, {line, "", false}, {nil, "acme", false}} {
		if got := WriteScoped(c.p, c.path); got != c.want {
			t.Errorf("WriteScoped(%+v, %q) = %v", c.p, c.path, got)
		}
	}
}

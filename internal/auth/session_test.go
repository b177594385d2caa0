package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestSessionTimeouts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.IdleTimeout = 30 * time.Minute; o.AbsoluteTimeout = 2 * time.Hour })
	f.user("vic", RoleViewer)
	r := f.login("vic")
	// Activity every 20 minutes keeps it alive until the absolute timeout.
	for range 5 {
		f.clk.Add(20 * time.Minute)
		if _, err := f.s.Authenticate(f.ctx, r.Secret); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Add(20 * time.Minute) // 120 min since login
	_, err := f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)

	r = f.login("vic")
	f.clk.Add(29 * time.Minute)
	if _, err := f.s.Authenticate(f.ctx, r.Secret); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(30 * time.Minute)
	_, err = f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	if !strings.Contains(err.Error(), "idle") {
		t.Fatalf("reason: %v", err)
	}
	// Logout ends it.
	r = f.login("vic")
	if err := f.s.Logout(f.ctx, r.Secret); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	_, err = f.s.Authenticate(f.ctx, "")
	wantCode(t, err, errcode.AuthSessionInvalid)
}

func TestPendingLoginTimeout(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	secret := f.enrolTOTP(u)
	r := f.login("olga")
	f.clk.Add(6 * time.Minute)
	_, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, f.clk.Now()))
	wantCode(t, err, errcode.AuthSessionInvalid)
}

func TestSessionFixation(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	secret := f.enrolTOTP(u)
	anon, anonSecret, err := f.s.NewSession(f.ctx)
	if err != nil || anon.Stage != StageAnonymous || anon.CSRF == "" {
		t.Fatal(err, anon)
	}
	r, err := f.s.Login(f.ctx, anonSecret, "olga", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if r.Secret == anonSecret {
		t.Fatal("session id kept across login")
	}
	_, err = f.s.Session(f.ctx, anonSecret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	done, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Session(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	if done.Session.CSRF == r.Session.CSRF || done.Session.CSRF == anon.CSRF {
		t.Fatal("csrf token kept across login")
	}
	p, err := f.s.Authenticate(f.ctx, done.Secret)
	if err != nil || p.Name != "olga" {
		t.Fatal(err)
	}
	// Only the hash is stored.
	var n int
	f.s.db.QueryRow(`SELECT count(*) FROM sessions WHERE id_hash = ?`, []byte(done.Secret)).Scan(&n)
	if n != 0 {
		t.Fatal("session secret stored in clear")
	}
	// A role change ends the sessions.
	if err := f.s.SetRoles(f.ctx, "olga", []string{RoleViewer}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Authenticate(f.ctx, done.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	// Rotate by hand.
	r = f.login("olga")
	ns, err := f.s.Rotate(f.ctx, r.Secret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Session(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	if _, err := f.s.Session(f.ctx, ns); err != nil {
		t.Fatal(err)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	f.user("vic", RoleViewer)
	r := f.login("vic")
	sess, _ := f.s.Session(f.ctx, r.Secret)
	if err := CheckCSRF(sess, sess.CSRF); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", sess.CSRF[:len(sess.CSRF)-1], sess.CSRF + "x", strings.ToUpper(sess.CSRF)} {
		if bad == sess.CSRF {
			continue
		}
		wantCode(t, CheckCSRF(sess, bad), errcode.AuthCSRF)
	}
	wantCode(t, CheckCSRF(nil, "x"), errcode.AuthCSRF)
}

func TestStepUp(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	secret := f.enrolTOTP(u)
	r := f.login("olga")
	res, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := f.s.Session(f.ctx, res.Secret)
	if err := f.s.RequireFresh(sess, 5*time.Minute); err != nil {
		t.Fatal("a login with MFA is a fresh authentication:", err)
	}
	f.clk.Add(6 * time.Minute)
	sess, _ = f.s.Session(f.ctx, res.Secret)
	wantCode(t, f.s.RequireFresh(sess, 5*time.Minute), errcode.AuthStepUpRequired)
	_, err = f.s.StepUp(f.ctx, res.Secret, StepUpProof{Method: "password", Password: goodPW})
	wantCode(t, err, errcode.AuthMFAInvalid) // a user with a second factor must use it
	_, err = f.s.StepUp(f.ctx, res.Secret, StepUpProof{Method: "totp", Code: "12345"})
	wantCode(t, err, errcode.AuthMFAInvalid)
	ns, err := f.s.StepUp(f.ctx, res.Secret, StepUpProof{Method: "totp", Code: code(t, secret, f.clk.Now())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Session(f.ctx, res.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid) // rotated
	sess, _ = f.s.Session(f.ctx, ns)
	if err := f.s.RequireFresh(sess, 5*time.Minute); err != nil || sess.AuthMethod != "stepup:totp" {
		t.Fatal(err, sess.AuthMethod)
	}
	f.clk.Add(5*time.Minute + time.Second)
	sess, _ = f.s.Session(f.ctx, ns)
	wantCode(t, f.s.RequireFresh(sess, 5*time.Minute), errcode.AuthStepUpRequired)
	wantCode(t, f.s.RequireFresh(nil, time.Hour), errcode.AuthStepUpRequired)

	// A viewer without MFA steps up with the password.
	f.user("vic", RoleViewer)
	vr := f.login("vic")
	f.clk.Add(10 * time.Minute)
	_, err = f.s.StepUp(f.ctx, vr.Secret, StepUpProof{Method: "password", Password: "not-the-password"})
	wantCode(t, err, errcode.AuthBadCredentials)
	if _, err := f.s.StepUp(f.ctx, vr.Secret, StepUpProof{Method: "password", Password: goodPW}); err != nil {
		t.Fatal(err)
	}
}

func TestBootstrap(t *testing.T) {
	f := newFixture(t, nil)
	if ok, _ := f.s.AdminExists(f.ctx); ok {
		t.Fatal("admin exists in an empty store")
	}
	tok, err := f.s.SetupToken(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.CreateFirstAdmin(f.ctx, tok+"x", "root", goodPW)
	wantCode(t, err, errcode.AuthSetupRefused)
	// A newer token replaces the old one.
	tok2, _ := f.s.SetupToken(f.ctx)
	_, err = f.s.CreateFirstAdmin(f.ctx, tok, "root", goodPW)
	wantCode(t, err, errcode.AuthSetupRefused)
	// A weak password does not spend the token.
	_, err = f.s.CreateFirstAdmin(f.ctx, tok2, "root", "short")
	wantCode(t, err, errcode.AuthWeakPassword)
	u, err := f.s.CreateFirstAdmin(f.ctx, tok2, "root", goodPW)
	if err != nil || u.Roles[0] != RoleAdmin || u.Scopes[0] != ScopeAll {
		t.Fatal(err, u)
	}
	_, err = f.s.CreateFirstAdmin(f.ctx, tok2, "root2", goodPW)
	wantCode(t, err, errcode.AuthSetupRefused)
	_, err = f.s.SetupToken(f.ctx)
	wantCode(t, err, errcode.AuthSetupRefused)

	// Expiry.
	g := newFixture(t, func(o *Options) { o.SetupTTL = time.Hour })
	tok, _ = g.s.SetupToken(g.ctx)
	g.clk.Add(time.Hour)
	_, err = g.s.CreateFirstAdmin(g.ctx, tok, "root", goodPW)
	wantCode(t, err, errcode.AuthSetupRefused)
	// An admin made another way also closes the door.
	tok, _ = g.s.SetupToken(g.ctx)
	g.user("boss", RoleAdmin)
	_, err = g.s.CreateFirstAdmin(g.ctx, tok, "root", goodPW)
	wantCode(t, err, errcode.AuthSetupRefused)
}

func TestDemoAdmin(t *testing.T) {
	f := newFixture(t, nil)
	pw, err := f.s.DemoAdmin(f.ctx, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if CheckPassword("admin", pw) != nil {
		t.Fatal("demo password fails the policy")
	}
	path := filepath.Join(f.dir, DemoAdminFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v mode %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), pw) {
		t.Fatal("file lacks the password")
	}
	r, err := f.s.Login(f.ctx, "", "admin", pw)
	if err != nil || r.Session.Stage != StageEnrol {
		t.Fatal("admin must enrol MFA at first login:", err)
	}
	_, err = f.s.DemoAdmin(f.ctx, f.dir)
	wantCode(t, err, errcode.AuthUserExists)
	// The key file and database are private too.
	for _, n := range []string{"auth.key", "auth.db"} {
		fi, err := os.Stat(filepath.Join(f.dir, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", n, err, fi.Mode())
		}
	}
}

func TestKeyFileRefusedWhenReadable(t *testing.T) {
	f := newFixture(t, nil)
	f.s.Close()
	os.Chmod(filepath.Join(f.dir, "auth.key"), 0o644)
	_, err := Open(f.ctx, filepath.Join(f.dir, "auth.db"), f.opts)
	wantCode(t, err, errcode.AuthKeyFile)
}

func TestResetMFA(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	f.enrolTOTP(u)
	r := f.login("olga")
	if err := f.s.ResetMFA(f.ctx, "olga"); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.Session(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	uu, _ := f.s.User(f.ctx, "olga")
	if uu.HasMFA() || uu.Recovery != 0 {
		t.Fatal("mfa not reset")
	}
	if r := f.login("olga"); r.Session.Stage != StageEnrol {
		t.Fatalf("stage %s", r.Session.Stage)
	}
}

package auth

import (
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

const oneTimePW = "OneTime-Xq7-Zr2-Lm9"

// TestTemporaryPassword: an account made with an administrator's one-time
// password signs in to the password step only; the user must choose a
// new password (not a weak one, not the one-time one) before anything
// else, and the one-time password stops working.
func TestTemporaryPassword(t *testing.T) {
	f := newFixture(t, nil)
	u, err := f.s.CreateUserTemporary(f.ctx, "tina", oneTimePW, []string{RoleViewer}, nil)
	if err != nil || !u.TemporaryPassword {
		t.Fatalf("%+v %v", u, err)
	}
	r, err := f.s.Login(f.ctx, "", "tina", oneTimePW)
	if err != nil || r.Session.Stage != StagePassword {
		t.Fatalf("login: %v %+v", err, r)
	}
	_, err = f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthUnauthenticated)
	_, err = f.s.ReplaceTemporaryPassword(f.ctx, r.Secret, "short")
	wantCode(t, err, errcode.AuthWeakPassword)
	_, err = f.s.ReplaceTemporaryPassword(f.ctx, r.Secret, oneTimePW)
	wantCode(t, err, errcode.AuthPasswordReused)
	_, err = f.s.ReplaceTemporaryPassword(f.ctx, "forged", goodPW)
	wantCode(t, err, errcode.AuthSessionInvalid)

	done, err := f.s.ReplaceTemporaryPassword(f.ctx, r.Secret, goodPW)
	if err != nil || done.Session.Stage != StageFull {
		t.Fatalf("replace: %v %+v", err, done)
	}
	if _, err := f.s.Authenticate(f.ctx, done.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Session(f.ctx, r.Secret); errcode.Of(err) != errcode.AuthSessionInvalid {
		t.Fatal("the password step's session id survived")
	}
	_, err = f.s.ReplaceTemporaryPassword(f.ctx, done.Secret, "another-good-pass-42")
	wantCode(t, err, errcode.AuthSessionInvalid) // nothing pending on a full session
	if u, _ := f.s.User(f.ctx, "tina"); u.TemporaryPassword {
		t.Fatal("still temporary")
	}
	_, err = f.s.Login(f.ctx, "", "tina", oneTimePW)
	wantCode(t, err, errcode.AuthBadCredentials)
	if r := f.login("tina"); r.Session.Stage != StageFull {
		t.Fatalf("next login: stage %s", r.Session.Stage)
	}
	var audited bool
	for _, e := range f.sunk {
		audited = audited || e.Action == "user.password" && e.Actor == "tina" && e.Outcome == OutcomeOK && strings.Contains(e.Detail, "replaced")
	}
	if !audited {
		t.Errorf("no user.password event: %+v", f.sunk)
	}

	// A password step left waiting ends like any pending login.
	if err := f.s.ResetPassword(f.ctx, "tina", oneTimePW); err != nil {
		t.Fatal(err)
	}
	r, err = f.s.Login(f.ctx, "", "tina", oneTimePW)
	if err != nil || r.Session.Stage != StagePassword {
		t.Fatalf("login after reset: %v", err)
	}
	f.clk.Add(f.s.opts.PendingTimeout)
	_, err = f.s.ReplaceTemporaryPassword(f.ctx, r.Secret, "another-good-pass-42")
	wantCode(t, err, errcode.AuthSessionInvalid)
}

// TestResetPasswordAfterMFA: an administrator's reset ends the account's
// sessions; the user signs in with the one-time password and their
// second factor, then chooses a new password.
func TestResetPasswordAfterMFA(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleAdmin)
	secret := f.enrolTOTP(u)
	r := f.login("olga")
	full, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, f.clk.Now()))
	if err != nil || full.Session.Stage != StageFull {
		t.Fatal(err)
	}
	f.clk.Add(30e9)
	wantCode(t, f.s.ResetPassword(f.ctx, "olga", "short"), errcode.AuthWeakPassword)
	wantCode(t, f.s.ResetPassword(f.ctx, "nobody", oneTimePW), errcode.AuthUserNotFound)
	if err := f.s.ResetPassword(f.ctx, "olga", oneTimePW); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(f.ctx, full.Secret); errcode.Of(err) != errcode.AuthSessionInvalid {
		t.Fatalf("session survived the reset: %v", err)
	}
	r, err = f.s.Login(f.ctx, "", "olga", oneTimePW)
	if err != nil || r.Session.Stage != StageMFA {
		t.Fatalf("login: %v %+v", err, r)
	}
	mid, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, f.clk.Now()))
	if err != nil || mid.Session.Stage != StagePassword {
		t.Fatalf("after TOTP: %v %+v", err, mid)
	}
	_, err = f.s.Authenticate(f.ctx, mid.Secret)
	wantCode(t, err, errcode.AuthUnauthenticated)
	done, err := f.s.ReplaceTemporaryPassword(f.ctx, mid.Secret, "my-own-passphrase-7")
	if err != nil || done.Session.Stage != StageFull || done.Session.AuthMethod != "totp" {
		t.Fatalf("replace: %v %+v", err, done)
	}
}

// TestChangePassword: a signed-in user changes their own password with
// the current one; wrong current passwords count toward the lockout, and
// the other sessions end.
func TestChangePassword(t *testing.T) {
	f := newFixture(t, nil)
	f.user("vic", RoleViewer)
	a, b := f.login("vic"), f.login("vic")
	_, err := f.s.ChangePassword(f.ctx, a.Secret, "wrong-current-pw-1", "fresh-passphrase-3")
	wantCode(t, err, errcode.AuthBadCredentials)
	_, err = f.s.ChangePassword(f.ctx, a.Secret, goodPW, "short")
	wantCode(t, err, errcode.AuthWeakPassword)
	_, err = f.s.ChangePassword(f.ctx, a.Secret, goodPW, goodPW)
	wantCode(t, err, errcode.AuthPasswordReused)
	_, anonSecret, _ := f.s.NewSession(f.ctx)
	_, err = f.s.ChangePassword(f.ctx, anonSecret, goodPW, "fresh-passphrase-3")
	wantCode(t, err, errcode.AuthUnauthenticated)

	ns, err := f.s.ChangePassword(f.ctx, a.Secret, goodPW, "fresh-passphrase-3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(f.ctx, ns); err != nil {
		t.Fatalf("the changing session ended: %v", err)
	}
	for _, old := range []string{a.Secret, b.Secret} {
		if _, err := f.s.Authenticate(f.ctx, old); errcode.Of(err) != errcode.AuthSessionInvalid {
			t.Fatalf("old session survived: %v", err)
		}
	}
	_, err = f.s.Login(f.ctx, "", "vic", goodPW)
	wantCode(t, err, errcode.AuthBadCredentials)
	if _, err := f.s.Login(f.ctx, "", "vic", "fresh-passphrase-3"); err != nil {
		t.Fatal(err)
	}

	// Guessing the current password from a stolen session locks the
	// account and ends that session.
	var locked bool
	for range 10 {
		_, err = f.s.ChangePassword(f.ctx, ns, "guess-guess-guess-1", "fresher-passphrase-4")
		if errcode.Of(err) != errcode.AuthBadCredentials {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatal("ten wrong current passwords and no lockout")
	}
	if _, err := f.s.Authenticate(f.ctx, ns); errcode.Of(err) != errcode.AuthSessionInvalid {
		t.Fatalf("session survived the lockout: %v", err)
	}
	_, err = f.s.Login(f.ctx, "", "vic", "fresh-passphrase-3")
	wantCode(t, err, errcode.AuthLocked)
}

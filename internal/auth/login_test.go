package auth

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestTOTPEnrolAndLogin(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	if !u.MFARequired {
		t.Fatal("operator can write: MFA must be required")
	}
	// Without a second factor the password leads to enrolment, not a session.
	r := f.login("olga")
	if r.Session.Stage != StageEnrol {
		t.Fatalf("stage %s, want enrol", r.Session.Stage)
	}
	_, err := f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthUnauthenticated)
	_, err = f.s.CompleteEnrolment(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthMFANotEnrolled)

	e, err := f.s.EnrollTOTP(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URL, "otpauth://totp/otlink:olga?") {
		t.Fatalf("url %s", e.URL)
	}
	if _, err := png.Decode(bytes.NewReader(e.QRPNG)); err != nil {
		t.Fatalf("qr png: %v", err)
	}
	// The secret is encrypted at rest.
	var enc []byte
	f.s.db.QueryRow(`SELECT secret_enc FROM mfa_totp WHERE user_id = ?`, u.ID).Scan(&enc)
	if bytes.Contains(enc, []byte(e.Secret)) || len(enc) == 0 {
		t.Fatal("totp secret stored in clear")
	}
	_, err = f.s.ConfirmTOTP(f.ctx, u.ID, "000000")
	if errcode.Of(err) != errcode.AuthMFAInvalid && code(t, e.Secret, f.clk.Now()) != "000000" {
		t.Fatalf("wrong confirmation accepted: %v", err)
	}
	codes, err := f.s.ConfirmTOTP(f.ctx, u.ID, code(t, e.Secret, f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	done, err := f.s.CompleteEnrolment(f.ctx, r.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Session(f.ctx, r.Secret); errcode.Of(err) != errcode.AuthSessionInvalid {
		t.Fatal("enrolment session id survived promotion")
	}
	if _, err := f.s.Authenticate(f.ctx, done.Secret); err != nil {
		t.Fatal(err)
	}

	// Next login: password then TOTP.
	f.clk.Add(30 * time.Second)
	r = f.login("olga")
	if r.Session.Stage != StageMFA || !strings.Contains(strings.Join(r.Methods, ","), "totp") {
		t.Fatalf("stage %s methods %v", r.Session.Stage, r.Methods)
	}
	_, err = f.s.LoginTOTP(f.ctx, r.Secret, "12345")
	wantCode(t, err, errcode.AuthMFAInvalid)
	now := f.clk.Now()
	good := code(t, e.Secret, now)
	wrong := "000000"
	if good == wrong {
		wrong = "111111"
	}
	_, err = f.s.LoginTOTP(f.ctx, r.Secret, wrong)
	wantCode(t, err, errcode.AuthMFAInvalid)
	res, err := f.s.LoginTOTP(f.ctx, r.Secret, good)
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Stage != StageFull || res.Session.AuthMethod != "totp" {
		t.Fatalf("%+v", res.Session)
	}
	// Replay: the same code in a new login is refused.
	r2 := f.login("olga")
	_, err = f.s.LoginTOTP(f.ctx, r2.Secret, good)
	wantCode(t, err, errcode.AuthMFAInvalid)
	if !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replay error %v", err)
	}
}

func TestTOTPWindowEdges(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("olga", RoleOperator)
	secret := f.enrolTOTP(u)
	f.clk.Add(10 * time.Minute)
	now := f.clk.Now().Truncate(30 * time.Second).Add(15 * time.Second) // mid-step
	f.clk.Add(now.Sub(f.clk.Now()))
	try := func(offset time.Duration) error {
		r := f.login("olga")
		_, err := f.s.LoginTOTP(f.ctx, r.Secret, code(t, secret, now.Add(offset)))
		f.s.Unlock(f.ctx, "olga")
		return err
	}
	// Outside the window first (they must not consume anything).
	for _, off := range []time.Duration{-60 * time.Second, 60 * time.Second, -90 * time.Second} {
		if c := code(t, secret, now.Add(off)); c == code(t, secret, now) || c == code(t, secret, now.Add(-30*time.Second)) || c == code(t, secret, now.Add(30*time.Second)) {
			continue // a 1-in-a-million collision of codes
		}
		wantCode(t, try(off), errcode.AuthMFAInvalid)
	}
	// Inside: previous, current, next step, in increasing order.
	for _, off := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		if err := try(off); err != nil {
			t.Fatalf("offset %s: %v", off, err)
		}
	}
	// Having used the next step, the current one is a replay now.
	wantCode(t, try(0), errcode.AuthMFAInvalid)
}

func TestRecoveryCodesSingleUse(t *testing.T) {
	f := newFixture(t, nil)
	u := f.user("eve", RoleEngineer)
	f.enrolTOTP(u)
	codes, err := f.s.NewRecoveryCodes(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		var n int
		f.s.db.QueryRow(`SELECT count(*) FROM recovery_codes WHERE code_hash = ?`, []byte(c)).Scan(&n)
		if n != 0 {
			t.Fatal("recovery code stored in clear")
		}
	}
	r := f.login("eve")
	// Case and dashes do not matter.
	if _, err := f.s.LoginRecovery(f.ctx, r.Secret, strings.ToUpper(strings.ReplaceAll(codes[3], "-", ""))); err != nil {
		t.Fatal(err)
	}
	r = f.login("eve")
	_, err = f.s.LoginRecovery(f.ctx, r.Secret, codes[3])
	wantCode(t, err, errcode.AuthMFAInvalid)
	if _, err := f.s.LoginRecovery(f.ctx, r.Secret, codes[4]); err != nil {
		t.Fatal(err)
	}
	uu, _ := f.s.User(f.ctx, "eve")
	if uu.Recovery != 8 {
		t.Fatalf("%d codes left, want 8", uu.Recovery)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, nil)
	f.user("alice", RoleViewer)
	for i := range 5 {
		_, err := f.s.Login(f.ctx, "", "alice", "wrong-password-"+string(rune('a'+i)))
		wantCode(t, err, errcode.AuthBadCredentials)
		f.clk.Add(time.Minute)
	}
	// Locked: even the right password is refused.
	_, err := f.s.Login(f.ctx, "", "alice", goodPW)
	wantCode(t, err, errcode.AuthLocked)
	u, _ := f.s.User(f.ctx, "alice")
	if u.Locked.IsZero() {
		t.Fatal("user list does not show the lock")
	}
	// An unknown name is locked the same way: no enumeration.
	for range 5 {
		_, err := f.s.Login(f.ctx, "", "nobody", "wrong-password-x")
		wantCode(t, err, errcode.AuthBadCredentials)
	}
	_, err = f.s.Login(f.ctx, "", "nobody", "wrong-password-x")
	wantCode(t, err, errcode.AuthLocked)
	// The lock expires.
	f.clk.Add(15 * time.Minute)
	f.login("alice")

	// Failures spread beyond the window do not lock.
	for range 8 {
		_, err := f.s.Login(f.ctx, "", "alice", "wrong-password-y")
		wantCode(t, err, errcode.AuthBadCredentials)
		f.clk.Add(4 * time.Minute) // 4 failures per 16 minutes at most
		if f.clk.Now().Minute()%16 == 0 {
			f.login("alice") // a success clears the count
		}
	}
	f.s.Unlock(f.ctx, "alice")
	f.login("alice")

	// Wrong second factors count too.
	op := f.user("olga", RoleOperator)
	f.enrolTOTP(op)
	for i := range 5 {
		r := f.login("olga")
		_, err := f.s.LoginTOTP(f.ctx, r.Secret, "99999"+string(rune('0'+i)))
		if errcode.Of(err) != errcode.AuthMFAInvalid {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err = f.s.Login(f.ctx, "", "olga", goodPW)
	wantCode(t, err, errcode.AuthLocked)

	// Audit has the failures with reasons that the error hid.
	evs, _, err := f.s.SearchAudit(f.ctx, AuditFilter{Action: "login", Outcome: OutcomeFailed, Text: "unknown user"}, Page{})
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v %d", err, len(evs))
	}
}

func TestDisabledUserLooksLikeBadPassword(t *testing.T) {
	f := newFixture(t, nil)
	f.user("dan", RoleViewer)
	r := f.login("dan")
	if err := f.s.SetDisabled(f.ctx, "dan", true); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.Authenticate(f.ctx, r.Secret)
	wantCode(t, err, errcode.AuthSessionInvalid)
	_, err = f.s.Login(f.ctx, "", "dan", goodPW)
	wantCode(t, err, errcode.AuthBadCredentials)
	f.s.SetDisabled(f.ctx, "dan", false)
	f.login("dan")
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LoginBurst = 3; o.LoginEvery = 10 * time.Second })
	f.user("alice", RoleViewer)
	for range 3 {
		f.login("alice")
	}
	if f.s.LoginRateOK("192.0.2.1") {
		t.Fatal("peek says ok with an empty bucket")
	}
	_, err := f.s.Login(f.ctx, "", "alice", goodPW)
	wantCode(t, err, errcode.AuthRateLimited)
	// Another address has its own bucket.
	if _, err := f.s.Login(WithClientIP(f.ctx, "192.0.2.2"), "", "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(10 * time.Second)
	f.login("alice")
	_, err = f.s.Login(f.ctx, "", "alice", goodPW)
	wantCode(t, err, errcode.AuthRateLimited)
}

func TestLimiterBounded(t *testing.T) {
	l := newIPLimiter(2, time.Second)
	now := time.Unix(0, 0)
	for i := range maxBuckets + 10 {
		l.allow(string(rune(i)), now)
	}
	if len(l.buckets) > maxBuckets {
		t.Fatalf("%d buckets", len(l.buckets))
	}
}

package auth

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/errcode"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testArgon = Argon2Params{Memory: 256, Time: 1, Threads: 1}

const goodPW = "correct-horse-battery-9"

type fixture struct {
	t     *testing.T
	s     *Service
	clk   *clock
	dir   string
	ctx   context.Context
	opts  Options
	sunk  []Event
	sinkE error
	mu    sync.Mutex
}

func newFixture(t *testing.T, tweak func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}, dir: t.TempDir(),
		ctx: WithClientIP(WithActor(context.Background(), "test"), "192.0.2.1")}
	f.opts = Options{Argon2: testArgon, Now: f.clk.Now, LoginBurst: 1000, Logger: slog.New(slog.DiscardHandler), AuditSink: func(_ context.Context, e Event) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.sinkE != nil {
			return f.sinkE
		}
		f.sunk = append(f.sunk, e)
		return nil
	}}
	if tweak != nil {
		tweak(&f.opts)
	}
	s, err := Open(context.Background(), filepath.Join(f.dir, "auth.db"), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f.s = s
	return f
}

func (f *fixture) user(name string, roles ...string) *User {
	f.t.Helper()
	u, err := f.s.CreateUser(f.ctx, name, goodPW, roles, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// login runs the password step and fails the test on error.
func (f *fixture) login(name string) *LoginResult {
	f.t.Helper()
	r, err := f.s.Login(f.ctx, "", name, goodPW)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// enrolTOTP enrols and confirms TOTP for u and returns the secret; it moves
// the clock past the confirming step so the next code is new.
func (f *fixture) enrolTOTP(u *User) string {
	f.t.Helper()
	e, err := f.s.EnrollTOTP(f.ctx, u.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.ConfirmTOTP(f.ctx, u.ID, code(f.t, e.Secret, f.clk.Now())); err != nil {
		f.t.Fatal(err)
	}
	f.clk.Add(30 * time.Second)
	return e.Secret
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, c errcode.Code) {
	t.Helper()
	if errcode.Of(err) != c {
		t.Fatalf("err = %v, want code %s", err, c)
	}
}

package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"
)

// ipLimiter is a token bucket per client address, in memory: losing it on a
// restart costs an attacker one burst, which lockout still bounds.
type ipLimiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds memory under a flood of distinct addresses; when it is
// reached, full buckets (idle addresses) are dropped first.
const maxBuckets = 100_000

func newIPLimiter(burst int, every time.Duration) *ipLimiter {
	return &ipLimiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// allow takes a token for ip at now and reports whether one was there;
// peek only reports.
func (l *ipLimiter) allow(ip string, now time.Time) bool { return l.take(ip, now, true) }
func (l *ipLimiter) peek(ip string, now time.Time) bool  { return l.take(ip, now, false) }

func (l *ipLimiter) take(ip string, now time.Time, consume bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[ip] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.every))
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	if consume {
		b.tokens--
	}
	return true
}

func (l *ipLimiter) prune(now time.Time) {
	full := time.Duration(l.burst * float64(l.every))
	for ip, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxBuckets { // everyone is active: start over rather than grow
		clear(l.buckets)
	}
}

// AllowLogin takes a login-attempt token for the client address. Login and
// the second-factor steps call it themselves.
func (s *Service) AllowLogin(ip string) bool { return s.lim.allow(ip, s.now()) }

// LoginRateOK reports, without taking a token, whether the address may try
// to log in now; the HTTP middleware uses it to refuse early.
func (s *Service) LoginRateOK(ip string) bool { return s.lim.peek(ip, s.now()) }

// Lockout is tracked per account name, whether or not the account exists, so
// that being locked says nothing about existence.
func lockName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// lockedUntil returns when the name's lock ends, or zero.
func (s *Service) lockedUntil(ctx context.Context, name string) time.Time {
	var until int64
	err := s.db.QueryRowContext(ctx, `SELECT locked_until FROM login_attempts WHERE name = ?`, lockName(name)).Scan(&until)
	if err != nil || until <= s.now().UnixNano() {
		return time.Time{}
	}
	return time.Unix(0, until)
}

// recordFailure counts a failed password or second factor against name and
// reports whether the name is now locked.
func (s *Service) recordFailure(ctx context.Context, name string) (bool, error) {
	now := s.now()
	n := lockName(name)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, storeErr(err, "begin login failure")
	}
	defer tx.Rollback()
	var failures int
	var start, until int64
	err = tx.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM login_attempts WHERE name = ?`, n).Scan(&failures, &start, &until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, storeErr(err, "read login failures")
	}
	if errors.Is(err, sql.ErrNoRows) || now.Sub(time.Unix(0, start)) > s.opts.LockWindow {
		failures, start = 0, now.UnixNano()
	}
	failures++
	locked := false
	if failures >= s.opts.LockAfter {
		until = now.Add(s.opts.LockFor).UnixNano()
		failures, start, locked = 0, now.UnixNano(), true
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_attempts(name, failures, window_start, locked_until) VALUES(?,?,?,?)
		ON CONFLICT(name) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until`,
		n, failures, start, until); err != nil {
		return false, storeErr(err, "record login failure")
	}
	return locked, tx.Commit()
}

func (s *Service) clearFailures(ctx context.Context, name string) {
	s.db.ExecContext(ctx, `DELETE FROM login_attempts WHERE name = ?`, lockName(name))
}

// Unlock lifts a lockout early (an administrator's action).
func (s *Service) Unlock(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_attempts WHERE name = ?`, lockName(name)); err != nil {
		return storeErr(err, "unlock %s", name)
	}
	return s.Audit(ctx, Event{Action: "user.unlock", Object: "user/" + name, Outcome: OutcomeOK})
}

package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// Stage is how far a session has come through the login.
type Stage int

const (
	StageAnonymous Stage = 0 // no user yet: a login form and its CSRF token
	StageMFA       Stage = 1 // password accepted, second factor pending
	StageEnrol     Stage = 2 // password accepted, the policy requires enrolling a second factor
	StageFull      Stage = 3 // logged in
	StagePassword  Stage = 4 // authenticated with a temporary password: the user must choose a new one
)

// pendingStages are the stages of a login not yet completed, as SQL.
const pendingStages = "(1,2,4)"

func (st Stage) String() string {
	switch st {
	case StageAnonymous:
		return "anonymous"
	case StageMFA:
		return "mfa"
	case StageEnrol:
		return "enrol"
	case StageFull:
		return "full"
	case StagePassword:
		return "password"
	}
	return "unknown"
}

// Session is a server-side session. Its secret (the cookie value) is never
// stored; Ref is the hex of its SHA-256 hash, safe to show and log.
type Session struct {
	Ref        string    `json:"ref"`
	UserID     int64     `json:"user_id,omitempty"`
	Stage      Stage     `json:"stage"`
	Created    time.Time `json:"created"`
	LastSeen   time.Time `json:"last_seen"`
	AuthTime   time.Time `json:"auth_time,omitzero"` // last strong authentication: login or step-up
	AuthMethod string    `json:"auth_method,omitempty"`
	CSRF       string    `json:"-"` // synchronizer token for forms and X-CSRF-Token
	IP         string    `json:"ip,omitempty"`

	ceremony string // a WebAuthn ceremony in progress (JSON), server-side only
}

// sessionSecretBytes: 256-bit session ids.
const sessionSecretBytes = 32

// touchEvery limits writes of last_seen to one per interval per session, so
// a page with live updates does not write on every request.
const touchEvery = 30 * time.Second

func newSecret() (secret string, hash []byte) {
	secret = randomToken(sessionSecretBytes)
	return secret, sha(secret)
}

// NewSession starts an anonymous session (for the login form's CSRF token).
func (s *Service) NewSession(ctx context.Context) (*Session, string, error) {
	return s.insertSession(ctx, 0, StageAnonymous, time.Time{}, "")
}

func (s *Service) insertSession(ctx context.Context, userID int64, st Stage, authTime time.Time, method string) (*Session, string, error) {
	secret, h := newSecret()
	now := s.now()
	sess := &Session{Ref: hex.EncodeToString(h), UserID: userID, Stage: st, Created: now, LastSeen: now,
		AuthTime: authTime, AuthMethod: method, CSRF: randomToken(32), IP: ClientIP(ctx)}
	var uid any
	if userID != 0 {
		uid = userID
	}
	var at int64
	if !authTime.IsZero() {
		at = authTime.UnixNano()
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions(id_hash, user_id, stage, created, last_seen, auth_time, auth_method, csrf, ip)
		VALUES(?,?,?,?,?,?,?,?,?)`, h, uid, int(st), now.UnixNano(), now.UnixNano(), at, method, sess.CSRF, sess.IP); err != nil {
		return nil, "", storeErr(err, "create session")
	}
	return sess, secret, nil
}

// Session returns the live session with this secret, whatever its stage,
// and records the activity. An unknown, expired or replaced secret gives
// AuthSessionInvalid.
func (s *Service) Session(ctx context.Context, secret string) (*Session, error) {
	if secret == "" {
		return nil, errcode.New(errcode.AuthSessionInvalid, "no session")
	}
	h := sha(secret)
	var sess Session
	var uid sql.NullInt64
	var st int
	var created, seen, at int64
	err := s.db.QueryRowContext(ctx, `SELECT user_id, stage, created, last_seen, auth_time, auth_method, csrf, ip, ceremony FROM sessions WHERE id_hash = ?`, h).
		Scan(&uid, &st, &created, &seen, &at, &sess.AuthMethod, &sess.CSRF, &sess.IP, &sess.ceremony)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.AuthSessionInvalid, "session unknown or ended")
	}
	if err != nil {
		return nil, storeErr(err, "read session")
	}
	sess.Ref = hex.EncodeToString(h)
	sess.UserID = uid.Int64
	sess.Stage = Stage(st)
	sess.Created = time.Unix(0, created)
	sess.LastSeen = time.Unix(0, seen)
	if at != 0 {
		sess.AuthTime = time.Unix(0, at)
	}
	now := s.now()
	why := ""
	switch {
	case now.Sub(sess.Created) >= s.opts.AbsoluteTimeout:
		why = "reached its absolute timeout"
	case now.Sub(sess.LastSeen) >= s.opts.IdleTimeout:
		why = "idle too long"
	case sess.Stage != StageFull && sess.Stage != StageAnonymous && now.Sub(sess.Created) >= s.opts.PendingTimeout:
		why = "login not completed in time"
	}
	if why != "" {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, h)
		return nil, errcode.New(errcode.AuthSessionInvalid, "session %s", why)
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, now.UnixNano(), h); err != nil {
			return nil, storeErr(err, "touch session")
		}
		sess.LastSeen = now
	}
	return &sess, nil
}

// Authenticate returns the principal of a fully logged-in session.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StageFull {
		return nil, errcode.New(errcode.AuthUnauthenticated, "login not completed (%s step pending)", sess.Stage)
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil || u.Disabled {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(secret))
		return nil, errcode.New(errcode.AuthSessionInvalid, "session's account is gone or disabled")
	}
	p, err := s.principal(ctx, u)
	if err != nil {
		return nil, err
	}
	p.Session = sess
	return p, nil
}

func (s *Service) principal(ctx context.Context, u *User) (*Principal, error) {
	perms, err := s.rolePerms(ctx, u.Roles)
	if err != nil {
		return nil, err
	}
	return &Principal{UserID: u.ID, Name: u.Name, Roles: u.Roles, Scopes: u.Scopes, Perms: perms}, nil
}

// Rotate gives the session a new secret and CSRF token and returns the
// secret; the old secret stops working at once. Call it whenever the
// session gains privilege (the login and step-up do it themselves).
func (s *Service) Rotate(ctx context.Context, secret string) (string, error) {
	ns, nh := newSecret()
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET id_hash = ?, csrf = ? WHERE id_hash = ?`, nh, randomToken(32), sha(secret))
	if err != nil {
		return "", storeErr(err, "rotate session")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", errcode.New(errcode.AuthSessionInvalid, "session unknown or ended")
	}
	return ns, nil
}

// promote rotates a session's secret and sets its stage, user and
// authentication time in one statement.
func (s *Service) promote(ctx context.Context, secret string, st Stage, method string) (*Session, string, error) {
	ns, nh := newSecret()
	now := s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET id_hash = ?, csrf = ?, stage = ?, auth_time = ?, auth_method = ?, ceremony = '', last_seen = ?
		WHERE id_hash = ?`, nh, randomToken(32), int(st), now.UnixNano(), method, now.UnixNano(), sha(secret))
	if err != nil {
		return nil, "", storeErr(err, "promote session")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, "", errcode.New(errcode.AuthSessionInvalid, "session unknown or ended")
	}
	sess, err := s.Session(ctx, ns)
	return sess, ns, err
}

// Logout ends the session.
func (s *Service) Logout(ctx context.Context, secret string) error {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(secret)); err != nil {
		return storeErr(err, "end session")
	}
	if sess.UserID == 0 {
		return nil
	}
	return s.Audit(ctx, Event{Actor: nameOf(ctx, s, sess.UserID), Action: "logout", Object: "session/" + sess.Ref[:16], Outcome: OutcomeOK})
}

func nameOf(ctx context.Context, s *Service, userID int64) string {
	var n string
	s.db.QueryRowContext(ctx, `SELECT name FROM users WHERE id = ?`, userID).Scan(&n)
	return n
}

// EndUserSessions ends every session of a user (after a password, role or
// MFA change, or when the account is disabled).
func (s *Service) EndUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return storeErr(err, "end sessions of user %d", userID)
	}
	return nil
}

// PurgeSessions deletes expired sessions; the lookups refuse them anyway,
// this only reclaims space. Call it now and then.
func (s *Service) PurgeSessions(ctx context.Context) error {
	now := s.now()
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE created <= ? OR last_seen <= ? OR (stage IN `+pendingStages+` AND created <= ?)`,
		now.Add(-s.opts.AbsoluteTimeout).UnixNano(), now.Add(-s.opts.IdleTimeout).UnixNano(), now.Add(-s.opts.PendingTimeout).UnixNano())
	if err != nil {
		return storeErr(err, "purge sessions")
	}
	return nil
}

// CheckCSRF compares a submitted token with the session's in constant time.
func CheckCSRF(sess *Session, token string) error {
	if sess == nil || sess.CSRF == "" || token == "" ||
		subtle.ConstantTimeCompare([]byte(sess.CSRF), []byte(token)) != 1 {
		return errcode.New(errcode.AuthCSRF, "csrf token missing or wrong")
	}
	return nil
}

// RequireFresh fails with AuthStepUpRequired unless the session's last strong
// authentication (login with its factors, or StepUp) is within the window.
func (s *Service) RequireFresh(sess *Session, within time.Duration) error {
	if sess == nil || sess.AuthTime.IsZero() || s.now().Sub(sess.AuthTime) > within {
		return errcode.New(errcode.AuthStepUpRequired, "re-authenticate to continue (needed within %s)", within)
	}
	return nil
}

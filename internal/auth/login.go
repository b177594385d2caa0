package auth

import (
	"context"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// LoginResult is where a login step left the session. Secret replaces the
// client's cookie: every step issues a new one (session fixation defence).
type LoginResult struct {
	Session *Session
	Secret  string
	// Methods lists the second factors the user can use at StageMFA:
	// "totp", "recovery", "webauthn".
	Methods []string
}

func badCredentials() error {
	return errcode.New(errcode.AuthBadCredentials, "login failed: wrong user name or password")
}

func lockedErr() error {
	return errcode.New(errcode.AuthLocked, "login refused: too many failed attempts for this account, try again later")
}

// Login is the password step. prevSecret is the client's current session
// cookie, if any; it is ended whatever the outcome of a successful password
// check, and a new session is issued. The client address comes from
// WithClientIP. Errors say nothing about whether the account exists.
func (s *Service) Login(ctx context.Context, prevSecret, name, password string) (*LoginResult, error) {
	ip := ClientIP(ctx)
	if !s.AllowLogin(ip) {
		s.opts.Logger.Warn("login rate limited", "code", errcode.AuthRateLimited.String(), "ip", ip)
		return nil, errcode.New(errcode.AuthRateLimited, "too many login attempts from %s, wait a minute", ip)
	}
	actx := WithActor(ctx, name)
	if !s.lockedUntil(ctx, name).IsZero() {
		s.Audit(actx, Event{Action: "login", Object: "user/" + name, Outcome: OutcomeDenied, Detail: "account locked"})
		return nil, lockedErr()
	}
	u, uerr := s.User(ctx, name)
	hash := s.dummyHash()
	if uerr == nil {
		hash = u.pwHash
	}
	ok, stale := VerifyPassword(hash, password, s.opts.Argon2)
	reason := ""
	switch {
	case uerr != nil:
		reason = "unknown user"
	case !ok:
		reason = "wrong password"
	case u.Disabled:
		reason = "account disabled"
	}
	if reason != "" {
		locked, err := s.recordFailure(ctx, name)
		if err != nil {
			return nil, err
		}
		if locked {
			reason += "; account now locked"
		}
		s.Audit(actx, Event{Action: "login", Object: "user/" + name, Outcome: OutcomeFailed, Detail: reason})
		return nil, badCredentials()
	}
	if stale {
		// The parameters were raised since this hash was made: rehash now,
		// while the password is at hand.
		s.db.ExecContext(ctx, `UPDATE users SET pw_hash = ? WHERE id = ?`, HashPassword(password, s.opts.Argon2), u.ID)
	}
	if prevSecret != "" {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(prevSecret))
	}
	var methods []string
	if u.TOTP {
		methods = append(methods, "totp")
	}
	if u.WebAuthn > 0 {
		methods = append(methods, "webauthn")
	}
	if u.Recovery > 0 {
		methods = append(methods, "recovery")
	}
	st := afterAuthentication(u)
	switch {
	case u.HasMFA():
		st = StageMFA
	case u.MFARequired:
		st = StageEnrol
	}
	at, method := time.Time{}, ""
	if st == StageFull || st == StagePassword {
		at, method = s.now(), "password"
	}
	sess, secret, err := s.insertSession(ctx, u.ID, st, at, method)
	if err != nil {
		return nil, err
	}
	if st == StageFull {
		s.clearFailures(ctx, name)
		s.Audit(actx, Event{Action: "login", Object: "user/" + u.Name, Outcome: OutcomeOK, Detail: "password"})
	} else {
		s.Audit(actx, Event{Action: "login.password", Object: "user/" + u.Name, Outcome: OutcomeOK, Detail: "next: " + st.String()})
	}
	return &LoginResult{Session: sess, Secret: secret, Methods: methods}, nil
}

// secondFactor runs one second-factor attempt on a session at StageMFA.
func (s *Service) secondFactor(ctx context.Context, secret, method string, check func(*Session) error) (*LoginResult, error) {
	ip := ClientIP(ctx)
	if !s.AllowLogin(ip) {
		return nil, errcode.New(errcode.AuthRateLimited, "too many login attempts from %s, wait a minute", ip)
	}
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StageMFA {
		return nil, errcode.New(errcode.AuthSessionInvalid, "no second factor is pending in this session (%s)", sess.Stage)
	}
	name := nameOf(ctx, s, sess.UserID)
	actx := WithActor(ctx, name)
	if !s.lockedUntil(ctx, name).IsZero() {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(secret))
		s.Audit(actx, Event{Action: "login", Object: "user/" + name, Outcome: OutcomeDenied, Detail: "account locked at " + method})
		return nil, lockedErr()
	}
	if err := check(sess); err != nil {
		if errcode.Of(err) == errcode.AuthStore {
			return nil, err
		}
		locked, ferr := s.recordFailure(ctx, name)
		if ferr != nil {
			return nil, ferr
		}
		detail := method + ": " + err.Error()
		if locked {
			s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(secret))
			detail += "; account now locked"
		}
		s.Audit(actx, Event{Action: "login", Object: "user/" + name, Outcome: OutcomeFailed, Detail: detail})
		return nil, err
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	sess, ns, err := s.promote(ctx, secret, afterAuthentication(u), method)
	if err != nil {
		return nil, err
	}
	s.clearFailures(ctx, name)
	s.auditAuthenticated(actx, name, sess, "password+"+method)
	return &LoginResult{Session: sess, Secret: ns}, nil
}

// LoginTOTP completes a login with an authenticator-app code.
func (s *Service) LoginTOTP(ctx context.Context, secret, code string) (*LoginResult, error) {
	return s.secondFactor(ctx, secret, "totp", func(sess *Session) error { return s.checkTOTP(ctx, sess.UserID, code, true) })
}

// LoginRecovery completes a login with a recovery code, which is spent.
func (s *Service) LoginRecovery(ctx context.Context, secret, code string) (*LoginResult, error) {
	return s.secondFactor(ctx, secret, "recovery", func(sess *Session) error { return s.useRecovery(ctx, sess.UserID, code) })
}

// LoginWebAuthn completes a login with the browser's answer (the JSON of
// the PublicKeyCredential) to the challenge from BeginWebAuthnLogin.
func (s *Service) LoginWebAuthn(ctx context.Context, secret string, response []byte) (*LoginResult, error) {
	return s.secondFactor(ctx, secret, "webauthn", func(sess *Session) error { return s.finishWebAuthnLogin(ctx, sess, response) })
}

// CompleteEnrolment finishes a login at StageEnrol once the user has
// enrolled a second factor (ConfirmTOTP or FinishWebAuthnRegistration with
// this session's user).
func (s *Service) CompleteEnrolment(ctx context.Context, secret string) (*LoginResult, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StageEnrol {
		return nil, errcode.New(errcode.AuthSessionInvalid, "no enrolment is pending in this session (%s)", sess.Stage)
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if !u.HasMFA() {
		return nil, errcode.New(errcode.AuthMFANotEnrolled, "enrol an authenticator app or security key first")
	}
	sess, ns, err := s.promote(ctx, secret, afterAuthentication(u), "enrolment")
	if err != nil {
		return nil, err
	}
	s.clearFailures(ctx, u.Name)
	s.auditAuthenticated(WithActor(ctx, u.Name), u.Name, sess, "password+enrolment")
	return &LoginResult{Session: sess, Secret: ns}, nil
}

// auditAuthenticated records a second factor or an enrolment that
// completed the login, or that leaves only a new password to choose.
func (s *Service) auditAuthenticated(ctx context.Context, name string, sess *Session, how string) {
	if sess.Stage == StageFull {
		s.Audit(ctx, Event{Action: "login", Object: "user/" + name, Outcome: OutcomeOK, Detail: how})
		return
	}
	s.Audit(ctx, Event{Action: "login." + sess.AuthMethod, Object: "user/" + name, Outcome: OutcomeOK, Detail: how + "; next: " + sess.Stage.String()})
}

// StepUpProof is a fresh re-authentication: a TOTP code, a recovery code,
// the password (only for users without a second factor) or a WebAuthn answer
// to BeginWebAuthnLogin.
type StepUpProof struct {
	Method   string // "totp", "recovery", "password", "webauthn"
	Code     string
	Password string
	WebAuthn []byte
}

// StepUp checks a fresh re-authentication on a logged-in session, marks the
// session fresh (see RequireFresh) and rotates its secret, which it returns.
// Failures count toward the account's lockout.
func (s *Service) StepUp(ctx context.Context, secret string, proof StepUpProof) (string, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return "", err
	}
	if sess.Stage != StageFull {
		return "", errcode.New(errcode.AuthUnauthenticated, "step-up needs a completed login")
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return "", err
	}
	actx := WithActor(ctx, u.Name)
	if !s.lockedUntil(ctx, u.Name).IsZero() {
		return "", lockedErr()
	}
	switch proof.Method {
	case "totp":
		err = s.checkTOTP(ctx, u.ID, proof.Code, true)
	case "recovery":
		err = s.useRecovery(ctx, u.ID, proof.Code)
	case "webauthn":
		err = s.finishWebAuthnLogin(ctx, sess, proof.WebAuthn)
	case "password":
		// A password is no stronger than what the session already proved
		// for users who have a second factor.
		if u.HasMFA() {
			err = errcode.New(errcode.AuthMFAInvalid, "use your second factor to confirm")
		} else if ok, _ := VerifyPassword(u.pwHash, proof.Password, s.opts.Argon2); !ok {
			err = errcode.New(errcode.AuthBadCredentials, "password is wrong")
		}
	default:
		err = errcode.New(errcode.AuthBadInput, "unknown step-up method %q", proof.Method)
	}
	if err != nil {
		if errcode.Of(err) != errcode.AuthStore && errcode.Of(err) != errcode.AuthBadInput {
			s.recordFailure(ctx, u.Name)
		}
		s.Audit(actx, Event{Action: "stepup", Object: "user/" + u.Name, Outcome: OutcomeFailed, Detail: proof.Method + ": " + err.Error()})
		return "", err
	}
	_, ns, err := s.promote(ctx, secret, StageFull, "stepup:"+proof.Method)
	if err != nil {
		return "", err
	}
	s.Audit(actx, Event{Action: "stepup", Object: "user/" + u.Name, Outcome: OutcomeOK, Detail: proof.Method})
	return ns, nil
}

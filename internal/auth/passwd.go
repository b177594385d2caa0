package auth

import (
	"context"

	"github.com/otlink/otlink/internal/errcode"
)

// Passwords change three ways: an administrator resets one (it is then
// temporary), a user at the StagePassword step of the login replaces a
// temporary one, and a signed-in user changes their own with the current
// one. Each checks the policy, refuses the password in use, ends the
// account's other sessions and is audited as user.password.

// ResetPassword gives an account a temporary password chosen by an
// administrator (ctx's actor) and ends its sessions: the user's next
// sign-in asks for a new password before anything else.
func (s *Service) ResetPassword(ctx context.Context, name, password string) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	err = s.setPassword(ctx, u, password, true, "")
	s.auditPassword(ctx, u.Name, err, "reset by an administrator: temporary")
	return err
}

// ReplaceTemporaryPassword completes a login at StagePassword with the
// password the user chose, and returns the session, now fully logged in.
func (s *Service) ReplaceTemporaryPassword(ctx context.Context, secret, password string) (*LoginResult, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StagePassword {
		return nil, errcode.New(errcode.AuthSessionInvalid, "no password change is pending in this session (%s)", sess.Stage)
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	actx := WithActor(ctx, u.Name)
	if err := s.setPassword(ctx, u, password, false, secret); err != nil {
		s.auditPassword(actx, u.Name, err, "")
		return nil, err
	}
	sess, ns, err := s.promote(ctx, secret, StageFull, sess.AuthMethod)
	if err != nil {
		return nil, err
	}
	s.auditPassword(actx, u.Name, nil, "temporary password replaced at sign-in")
	s.Audit(actx, Event{Action: "login", Object: "user/" + u.Name, Outcome: OutcomeOK, Detail: "new password after " + sess.AuthMethod})
	return &LoginResult{Session: sess, Secret: ns}, nil
}

// ChangePassword changes a signed-in user's own password after checking
// the current one (a wrong one counts toward the account's lockout). The
// user's other sessions end; this one gets a new secret, returned.
func (s *Service) ChangePassword(ctx context.Context, secret, current, password string) (string, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return "", err
	}
	if sess.Stage != StageFull {
		return "", errcode.New(errcode.AuthUnauthenticated, "login not completed (%s step pending)", sess.Stage)
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return "", err
	}
	actx := WithActor(ctx, u.Name)
	if !s.lockedUntil(ctx, u.Name).IsZero() {
		s.auditPassword(actx, u.Name, lockedErr(), "")
		return "", lockedErr()
	}
	if ok, _ := VerifyPassword(u.pwHash, current, s.opts.Argon2); !ok {
		locked, ferr := s.recordFailure(ctx, u.Name)
		if ferr != nil {
			return "", ferr
		}
		err := errcode.New(errcode.AuthBadCredentials, "the current password is wrong")
		detail := ""
		if locked {
			s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sha(secret))
			detail = "account now locked"
		}
		s.auditPassword(actx, u.Name, err, detail)
		return "", err
	}
	if err := s.setPassword(ctx, u, password, false, secret); err != nil {
		s.auditPassword(actx, u.Name, err, "")
		return "", err
	}
	ns, err := s.Rotate(ctx, secret)
	if err != nil {
		return "", err
	}
	s.auditPassword(actx, u.Name, nil, "changed by the user")
	return ns, nil
}

// setPassword checks and stores a new password and ends the user's
// sessions except keep's (a secret, "" for none).
func (s *Service) setPassword(ctx context.Context, u *User, password string, temporary bool, keep string) error {
	if err := CheckPassword(u.Name, password); err != nil {
		return err
	}
	if ok, _ := VerifyPassword(u.pwHash, password, s.opts.Argon2); ok {
		return errcode.New(errcode.AuthPasswordReused, "the new password is the one in use: choose another")
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET pw_hash = ?, pw_changed = ?, pw_temporary = ? WHERE id = ?`,
		HashPassword(password, s.opts.Argon2), s.now().UnixNano(), temporary, u.ID); err != nil {
		return storeErr(err, "update password of %s", u.Name)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash != ?`, u.ID, sha(keep)); err != nil {
		return storeErr(err, "end sessions of %s", u.Name)
	}
	return nil
}

func (s *Service) auditPassword(ctx context.Context, name string, err error, detail string) {
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeFailed
		if errcode.Of(err) == errcode.AuthLocked {
			outcome = OutcomeDenied
		}
	}
	s.Audit(ctx, Event{Action: "user.password", Object: "user/" + name, Outcome: outcome, Detail: auditDetail(err, detail)})
}

// afterAuthentication is the stage a login reaches once the user proved
// who they are: StagePassword while the password is temporary.
func afterAuthentication(u *User) Stage {
	if u.TemporaryPassword {
		return StagePassword
	}
	return StageFull
}

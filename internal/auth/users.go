package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// User is an account as administrators see it; no secret is ever in it.
type User struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Roles       []string  `json:"roles"`
	Scopes      []string  `json:"scopes"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
	TOTP        bool      `json:"totp"`            // a confirmed authenticator app
	WebAuthn    int       `json:"webauthn"`        // registered security keys
	Recovery    int       `json:"recovery_left"`   // unused recovery codes
	MFARequired bool      `json:"mfa_required"`    // by policy, from the roles
	Locked      time.Time `json:"locked,omitzero"` // locked until, if in the future
	// TemporaryPassword: the password was set by an administrator; the
	// user replaces it at the next sign-in.
	TemporaryPassword bool `json:"temporary_password"`

	handle []byte // the WebAuthn user handle: random, not the id
	pwHash string
}

// HasMFA reports whether the user has any second factor.
func (u *User) HasMFA() bool { return u.TOTP || u.WebAuthn > 0 }

// CreateUser creates an account after checking the name, the password
// policy, the roles and the scopes (empty scopes mean the whole plant).
func (s *Service) CreateUser(ctx context.Context, name, password string, roles, scopes []string) (*User, error) {
	return s.create(ctx, name, password, roles, scopes, false)
}

// CreateUserTemporary is CreateUser for a password the user did not choose
// (an administrator's one-time password): the first sign-in asks for a new
// one before anything else.
func (s *Service) CreateUserTemporary(ctx context.Context, name, password string, roles, scopes []string) (*User, error) {
	return s.create(ctx, name, password, roles, scopes, true)
}

func (s *Service) create(ctx context.Context, name, password string, roles, scopes []string, temporary bool) (*User, error) {
	u, err := s.createUser(ctx, name, password, roles, scopes, temporary, nil)
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeFailed
	}
	detail := "roles=" + strings.Join(roles, ",")
	if temporary {
		detail += "; temporary password"
	}
	if aerr := s.Audit(ctx, Event{Action: "user.create", Object: "user/" + name, Outcome: outcome, Detail: auditDetail(err, detail)}); aerr != nil && err == nil {
		return u, aerr
	}
	return u, err
}

func auditDetail(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// createUser inserts a user; pre, when set, runs in the same transaction
// first (the bootstrap uses it to check that no admin exists).
func (s *Service) createUser(ctx context.Context, name, password string, roles, scopes []string, temporary bool, pre func(*sql.Tx) error) (*User, error) {
	name = strings.TrimSpace(name)
	if !nameRE.MatchString(strings.ToLower(name)) {
		return nil, errcode.New(errcode.AuthBadInput, "user name %q: 1 to 64 letters, digits, _ . - starting with a letter", name)
	}
	if err := CheckPassword(name, password); err != nil {
		return nil, err
	}
	if err := s.checkRoles(ctx, roles); err != nil {
		return nil, err
	}
	sc, err := normScopes(scopes)
	if err != nil {
		return nil, err
	}
	rs := slices.Clone(roles)
	slices.Sort(rs)
	rs = slices.Compact(rs)
	rj, _ := json.Marshal(rs)
	sj, _ := json.Marshal(sc)
	handle := make([]byte, 32)
	rand.Read(handle)
	hash := HashPassword(password, s.opts.Argon2)
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeErr(err, "begin create user")
	}
	defer tx.Rollback()
	if pre != nil {
		if err := pre(tx); err != nil {
			return nil, err
		}
	}
	var n int
	tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, name).Scan(&n)
	if n > 0 {
		return nil, errcode.New(errcode.AuthUserExists, "user %q exists", name)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users(name, pw_hash, roles, scopes, handle, created, pw_changed, pw_temporary) VALUES(?,?,?,?,?,?,?,?)`,
		name, hash, string(rj), string(sj), handle, now.UnixNano(), now.UnixNano(), temporary)
	if err != nil {
		return nil, storeErr(err, "insert user %s", name)
	}
	if err := tx.Commit(); err != nil {
		return nil, storeErr(err, "commit user %s", name)
	}
	id, _ := res.LastInsertId()
	return s.userByID(ctx, id)
}

const userCols = `id, name, pw_hash, roles, scopes, disabled, handle, created,
	(SELECT confirmed FROM mfa_totp WHERE user_id = users.id),
	(SELECT count(*) FROM webauthn_credentials WHERE user_id = users.id),
	(SELECT count(*) FROM recovery_codes WHERE user_id = users.id AND used = 0),
	(SELECT locked_until FROM login_attempts WHERE name = users.name), pw_temporary`

func (s *Service) scanUser(ctx context.Context, row interface{ Scan(...any) error }) (*User, error) {
	u, err := s.scanRow(row)
	if err != nil {
		return nil, err
	}
	perms, _ := s.rolePerms(ctx, u.Roles)
	u.MFARequired = s.mfaRequired(perms)
	return u, nil
}

// scanRow reads the userCols of one row, all but MFARequired (which needs
// a query of its own).
func (s *Service) scanRow(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var rj, sj string
	var created int64
	var totp, locked sql.NullInt64
	if err := row.Scan(&u.ID, &u.Name, &u.pwHash, &rj, &sj, &u.Disabled, &u.handle, &created, &totp, &u.WebAuthn, &u.Recovery, &locked, &u.TemporaryPassword); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(rj), &u.Roles)
	json.Unmarshal([]byte(sj), &u.Scopes)
	u.Created = time.Unix(0, created)
	u.TOTP = totp.Valid && totp.Int64 == 1
	if locked.Valid && locked.Int64 > s.now().UnixNano() {
		u.Locked = time.Unix(0, locked.Int64)
	}
	return &u, nil
}

func (s *Service) userByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.scanUser(ctx, s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.AuthUserNotFound, "no user with id %d", id)
	}
	if err != nil {
		return nil, storeErr(err, "read user %d", id)
	}
	return u, nil
}

// User returns the account called name (case-insensitive).
func (s *Service) User(ctx context.Context, name string) (*User, error) {
	u, err := s.scanUser(ctx, s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, strings.TrimSpace(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errcode.New(errcode.AuthUserNotFound, "no user %q", name)
	}
	if err != nil {
		return nil, storeErr(err, "read user %s", name)
	}
	return u, nil
}

// ListUsers returns every account, by name.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, storeErr(err, "list users")
	}
	var raw []*User
	for rows.Next() {
		// Scan without the role lookup first: one connection, so no query
		// may run while rows is open.
		u, err := s.scanRow(rows)
		if err != nil {
			rows.Close()
			return nil, storeErr(err, "list users")
		}
		raw = append(raw, u)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, storeErr(err, "list users")
	}
	for _, u := range raw {
		perms, _ := s.rolePerms(ctx, u.Roles)
		u.MFARequired = s.mfaRequired(perms)
	}
	return raw, nil
}

// SetDisabled disables or enables an account. Disabling ends its sessions
// and makes its tokens fail.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, disabled, u.ID); err != nil {
		return storeErr(err, "update user %s", name)
	}
	if disabled {
		if err := s.EndUserSessions(ctx, u.ID); err != nil {
			return err
		}
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return s.Audit(ctx, Event{Action: action, Object: "user/" + u.Name, Outcome: OutcomeOK})
}

// SetRoles replaces an account's roles and scopes; it is a privilege change,
// so the account's sessions end and it logs in again.
func (s *Service) SetRoles(ctx context.Context, name string, roles, scopes []string) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if err := s.checkRoles(ctx, roles); err != nil {
		return err
	}
	sc, err := normScopes(scopes)
	if err != nil {
		return err
	}
	rs := slices.Clone(roles)
	slices.Sort(rs)
	rj, _ := json.Marshal(slices.Compact(rs))
	sj, _ := json.Marshal(sc)
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET roles = ?, scopes = ? WHERE id = ?`, string(rj), string(sj), u.ID); err != nil {
		return storeErr(err, "update roles of %s", name)
	}
	if err := s.EndUserSessions(ctx, u.ID); err != nil {
		return err
	}
	return s.Audit(ctx, Event{Action: "user.roles", Object: "user/" + u.Name, Outcome: OutcomeOK,
		Detail: fmt.Sprintf("roles=%s scopes=%s", strings.Join(rs, ","), strings.Join(sc, ","))})
}

// ResetMFA removes every second factor of an account (TOTP, recovery codes,
// security keys) and ends its sessions; if its role requires MFA, the next
// login asks it to enrol again.
func (s *Service) ResetMFA(ctx context.Context, name string) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(err, "begin reset mfa")
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM mfa_totp WHERE user_id = ?`, `DELETE FROM recovery_codes WHERE user_id = ?`,
		`DELETE FROM webauthn_credentials WHERE user_id = ?`, `DELETE FROM sessions WHERE user_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
			return storeErr(err, "reset mfa of %s", name)
		}
	}
	if err := tx.Commit(); err != nil {
		return storeErr(err, "commit reset mfa of %s", name)
	}
	return s.Audit(ctx, Event{Action: "mfa.reset", Object: "user/" + u.Name, Outcome: OutcomeOK})
}

// adminExists reports whether an enabled account holds users.admin. Custom
// roles count: the question is whether someone can administer.
func (s *Service) adminExists(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT roles FROM users WHERE disabled = 0`)
	if err != nil {
		return false, storeErr(err, "look for an administrator")
	}
	var all [][]string
	for rows.Next() {
		var rj string
		var rs []string
		rows.Scan(&rj)
		json.Unmarshal([]byte(rj), &rs)
		all = append(all, rs)
	}
	rows.Close()
	custom := map[string]bool{}
	if rows, err := q.QueryContext(ctx, `SELECT name, perms FROM roles`); err == nil {
		for rows.Next() {
			var n, pj string
			var ps []string
			rows.Scan(&n, &pj)
			json.Unmarshal([]byte(pj), &ps)
			custom[n] = slices.Contains(ps, PermUsersAdmin)
		}
		rows.Close()
	}
	for _, rs := range all {
		for _, r := range rs {
			if r == RoleAdmin || custom[r] {
				return true, nil
			}
		}
	}
	return false, nil
}

// AdminExists reports whether any enabled account can administer users.
func (s *Service) AdminExists(ctx context.Context) (bool, error) { return s.adminExists(ctx, s.db) }

// SetupToken returns a one-time token that allows creating the first
// administrator, valid for Options.SetupTTL. It replaces any earlier token
// and is refused once an administrator exists. The CLI prints it as a link.
func (s *Service) SetupToken(ctx context.Context) (string, error) {
	if ok, err := s.AdminExists(ctx); err != nil {
		return "", err
	} else if ok {
		return "", errcode.New(errcode.AuthSetupRefused, "an administrator exists; no setup token issued")
	}
	tok := "otlsetup_" + randomToken(32)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", storeErr(err, "begin setup token")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens`); err != nil {
		return "", storeErr(err, "replace setup token")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO setup_tokens(hash, expires) VALUES(?,?)`, sha(tok), s.now().Add(s.opts.SetupTTL).UnixNano()); err != nil {
		return "", storeErr(err, "store setup token")
	}
	if err := tx.Commit(); err != nil {
		return "", storeErr(err, "commit setup token")
	}
	return tok, nil
}

// CreateFirstAdmin spends a setup token to create an administrator with the
// whole plant in scope. It fails when the token is wrong, used or expired, or
// when an administrator exists.
func (s *Service) CreateFirstAdmin(ctx context.Context, token, name, password string) (*User, error) {
	u, err := s.createUser(ctx, name, password, []string{RoleAdmin}, nil, false, func(tx *sql.Tx) error {
		if ok, err := s.adminExists(ctx, tx); err != nil {
			return err
		} else if ok {
			return errcode.New(errcode.AuthSetupRefused, "an administrator exists")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens WHERE hash = ? AND expires > ?`, sha(token), s.now().UnixNano())
		if err != nil {
			return storeErr(err, "spend setup token")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errcode.New(errcode.AuthSetupRefused, "setup token unknown, used or expired")
		}
		return nil
	})
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeFailed
	}
	s.Audit(ctx, Event{Action: "user.bootstrap", Object: "user/" + name, Outcome: outcome, Detail: auditDetail(err, "first administrator")})
	return u, err
}

// DemoAdminFile is the name, in the data folder, of the demo password file.
const DemoAdminFile = "demo-admin.txt"

// DemoAdmin creates the account admin with a random password, writes the
// password to DATA/demo-admin.txt (mode 0600) and returns it, for the caller
// to print once. It fails with AuthUserExists if admin exists.
func (s *Service) DemoAdmin(ctx context.Context, dataDir string) (string, error) {
	// 20 random bytes in base64url: 27 characters, 160 bits.
	password := randomToken(20)
	for i := 0; i < 100 && CheckPassword("admin", password) != nil; i++ {
		password = randomToken(20) // only if it happened to contain "admin"
	}
	if _, err := s.CreateUser(WithActor(ctx, "demo"), "admin", password, []string{RoleAdmin}, nil); err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, DemoAdminFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", errcode.Wrap(errcode.AuthStore, err, "write %s", path)
	}
	// O_CREATE's mode does not apply to an existing file; make sure.
	f.Chmod(0o600)
	_, err = fmt.Fprintf(f, "user: admin\npassword: %s\n", password)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", errcode.Wrap(errcode.AuthStore, err, "write %s", path)
	}
	return password, nil
}

package auth

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/otlink/otlink/internal/errcode"
)

// waUser adapts a User to go-webauthn. The user handle is a random value
// made at account creation, not the row id (the spec asks that it carry no
// personal information).
type waUser struct {
	u     *User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return w.u.handle }
func (w *waUser) WebAuthnName() string                       { return w.u.Name }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.Name }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

var _ webauthn.User = (*waUser)(nil)

func (s *Service) waUserOf(ctx context.Context, userID int64) (*waUser, error) {
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM webauthn_credentials WHERE user_id = ? ORDER BY created`, userID)
	if err != nil {
		return nil, storeErr(err, "read security keys")
	}
	defer rows.Close()
	w := &waUser{u: u}
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return nil, storeErr(err, "read security keys")
		}
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(js), &c); err != nil {
			return nil, errcode.Wrap(errcode.AuthStore, err, "decode a security key of %s", u.Name)
		}
		w.creds = append(w.creds, c)
	}
	return w, rows.Err()
}

// ceremony is what is kept server-side between Begin and Finish.
type ceremony struct {
	Kind string               `json:"kind"` // "register" or "login"
	Data webauthn.SessionData `json:"data"`
}

func (s *Service) saveCeremony(ctx context.Context, sess *Session, kind string, data *webauthn.SessionData) error {
	js, _ := json.Marshal(ceremony{Kind: kind, Data: *data})
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET ceremony = ? WHERE id_hash = ?`, string(js), mustHex(sess.Ref)); err != nil {
		return storeErr(err, "store webauthn challenge")
	}
	return nil
}

// takeCeremony returns and clears the session's ceremony: a challenge is
// answered once.
func (s *Service) takeCeremony(ctx context.Context, sess *Session, kind string) (*webauthn.SessionData, error) {
	s.db.ExecContext(ctx, `UPDATE sessions SET ceremony = '' WHERE id_hash = ?`, mustHex(sess.Ref))
	var c ceremony
	if sess.ceremony == "" || json.Unmarshal([]byte(sess.ceremony), &c) != nil || c.Kind != kind {
		return nil, errcode.New(errcode.AuthWebAuthn, "no security key %s was started in this session", kind)
	}
	return &c.Data, nil
}

// BeginWebAuthnRegistration starts adding a security key for the session's
// user (a logged-in session, or one at StageEnrol). It returns the options
// JSON for navigator.credentials.create.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, secret string) ([]byte, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StageFull && sess.Stage != StageEnrol {
		return nil, errcode.New(errcode.AuthUnauthenticated, "log in before adding a security key")
	}
	wu, err := s.waUserOf(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	excl := make([]protocol.CredentialDescriptor, 0, len(wu.creds))
	for _, c := range wu.creds {
		excl = append(excl, c.Descriptor())
	}
	opts, data, err := s.wa.BeginRegistration(wu, webauthn.WithExclusions(excl))
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthWebAuthn, err, "begin security key registration")
	}
	if err := s.saveCeremony(ctx, sess, "register", data); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

// FinishWebAuthnRegistration verifies the browser's answer and stores the
// new security key under keyName.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, secret, keyName string, response []byte) error {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return err
	}
	data, err := s.takeCeremony(ctx, sess, "register")
	if err != nil {
		return err
	}
	wu, err := s.waUserOf(ctx, sess.UserID)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return s.waFail(ctx, wu, "mfa.webauthn.enrol", errcode.Wrap(errcode.AuthWebAuthn, err, "parse security key registration"))
	}
	cred, err := s.wa.CreateCredential(wu, *data, parsed)
	if err != nil {
		return s.waFail(ctx, wu, "mfa.webauthn.enrol", errcode.Wrap(errcode.AuthWebAuthn, err, "verify security key registration"))
	}
	js, _ := json.Marshal(cred)
	if keyName == "" {
		keyName = "key " + strconv.Itoa(len(wu.creds)+1)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO webauthn_credentials(id, user_id, name, data, created) VALUES(?,?,?,?,?)`,
		cred.ID, sess.UserID, keyName, string(js), s.now().UnixNano()); err != nil {
		return storeErr(err, "store security key")
	}
	return s.Audit(ctx, Event{Actor: wu.u.Name, Action: "mfa.webauthn.enrol", Object: "user/" + wu.u.Name, Outcome: OutcomeOK, Detail: keyName})
}

func (s *Service) waFail(ctx context.Context, wu *waUser, action string, err error) error {
	s.Audit(ctx, Event{Actor: wu.u.Name, Action: action, Object: "user/" + wu.u.Name, Outcome: OutcomeFailed, Detail: err.Error()})
	return err
}

// BeginWebAuthnLogin starts a security-key assertion for the session's user:
// the second factor at StageMFA, or a step-up on a logged-in session. It
// returns the options JSON for navigator.credentials.get.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, secret string) ([]byte, error) {
	sess, err := s.Session(ctx, secret)
	if err != nil {
		return nil, err
	}
	if sess.Stage != StageMFA && sess.Stage != StageFull {
		return nil, errcode.New(errcode.AuthUnauthenticated, "enter the password first")
	}
	wu, err := s.waUserOf(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if len(wu.creds) == 0 {
		return nil, errcode.New(errcode.AuthMFANotEnrolled, "no security key registered")
	}
	opts, data, err := s.wa.BeginLogin(wu)
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthWebAuthn, err, "begin security key login")
	}
	if err := s.saveCeremony(ctx, sess, "login", data); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

// finishWebAuthnLogin verifies an assertion and records the new signature
// counter (a counter that goes backwards means a cloned key: refused by the
// library's clone warning check below).
func (s *Service) finishWebAuthnLogin(ctx context.Context, sess *Session, response []byte) error {
	data, err := s.takeCeremony(ctx, sess, "login")
	if err != nil {
		return err
	}
	wu, err := s.waUserOf(ctx, sess.UserID)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return errcode.Wrap(errcode.AuthMFAInvalid, err, "parse security key answer")
	}
	cred, err := s.wa.ValidateLogin(wu, *data, parsed)
	if err != nil {
		return errcode.Wrap(errcode.AuthMFAInvalid, err, "verify security key answer")
	}
	if cred.Authenticator.CloneWarning {
		return errcode.New(errcode.AuthMFAInvalid, "security key signature counter went backwards (cloned key?)")
	}
	js, _ := json.Marshal(cred)
	if _, err := s.db.ExecContext(ctx, `UPDATE webauthn_credentials SET data = ?, last_used = ? WHERE id = ? AND user_id = ?`,
		string(js), s.now().UnixNano(), cred.ID, sess.UserID); err != nil {
		return storeErr(err, "update security key counter")
	}
	return nil
}

// SecurityKey describes a registered WebAuthn credential.
type SecurityKey struct {
	ID      []byte `json:"id"`
	Name    string `json:"name"`
	Created int64  `json:"created"`
}

// SecurityKeys lists the user's security keys.
func (s *Service) SecurityKeys(ctx context.Context, userID int64) ([]SecurityKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created FROM webauthn_credentials WHERE user_id = ? ORDER BY created`, userID)
	if err != nil {
		return nil, storeErr(err, "list security keys")
	}
	defer rows.Close()
	var out []SecurityKey
	for rows.Next() {
		var k SecurityKey
		if err := rows.Scan(&k.ID, &k.Name, &k.Created); err != nil {
			return nil, storeErr(err, "list security keys")
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

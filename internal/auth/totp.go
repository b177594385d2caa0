package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/otlink/otlink/internal/errcode"
)

// TOTP parameters: RFC 6238 defaults, which every authenticator app reads.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1 // steps accepted either side of now
)

// Enrolment is what the page shows to add an authenticator app.
type Enrolment struct {
	Secret string `json:"secret"` // base32, for typing in by hand
	URL    string `json:"url"`    // otpauth://totp/...
	QRPNG  []byte `json:"-"`      // the URL as a QR code, PNG
}

// EnrollTOTP creates a new, unconfirmed TOTP secret for the user (replacing
// an unconfirmed one) and returns it with its QR code. It becomes a second
// factor only after ConfirmTOTP proves the app has it. A confirmed secret is
// replaced only after ResetMFA.
func (s *Service) EnrollTOTP(ctx context.Context, userID int64) (*Enrolment, error) {
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.TOTP {
		return nil, errcode.New(errcode.AuthBadInput, "%s already has an authenticator app; reset MFA first", u.Name)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.opts.TOTPIssuer, AccountName: u.Name, Period: totpPeriod,
		SecretSize: 20, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthBadInput, err, "generate totp secret")
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthBadInput, err, "render totp qr code")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, errcode.Wrap(errcode.AuthBadInput, err, "encode totp qr code")
	}
	enc := s.seal([]byte(key.Secret()), totpAAD(userID))
	if _, err := s.db.ExecContext(ctx, `INSERT INTO mfa_totp(user_id, secret_enc, confirmed, last_step, created) VALUES(?,?,0,0,?)
		ON CONFLICT(user_id) DO UPDATE SET secret_enc = excluded.secret_enc, last_step = 0, created = excluded.created`,
		userID, enc, s.now().UnixNano()); err != nil {
		return nil, storeErr(err, "store totp secret of %s", u.Name)
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

func totpAAD(userID int64) []byte { return []byte("totp/" + strconv.FormatInt(userID, 10)) }

// ConfirmTOTP checks a code from the newly enrolled app, makes the secret a
// second factor and returns 10 fresh recovery codes, shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, userID int64, code string) ([]string, error) {
	if err := s.checkTOTP(ctx, userID, code, false); err != nil {
		s.Audit(ctx, Event{Action: "mfa.totp.enrol", Object: userObj(ctx, s, userID), Outcome: OutcomeFailed, Detail: err.Error()})
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE mfa_totp SET confirmed = 1 WHERE user_id = ?`, userID); err != nil {
		return nil, storeErr(err, "confirm totp")
	}
	codes, err := s.NewRecoveryCodes(ctx, userID)
	if err != nil {
		return nil, err
	}
	return codes, s.Audit(ctx, Event{Action: "mfa.totp.enrol", Object: userObj(ctx, s, userID), Outcome: OutcomeOK})
}

func userObj(ctx context.Context, s *Service, userID int64) string {
	var n string
	s.db.QueryRowContext(ctx, `SELECT name FROM users WHERE id = ?`, userID).Scan(&n)
	return "user/" + n
}

// checkTOTP verifies code against the user's secret at now ± 1 step. A code
// is accepted once: the step it matched is stored, and codes of that step or
// earlier are refused (replay protection). confirmed says whether the secret
// must already be confirmed.
func (s *Service) checkTOTP(ctx context.Context, userID int64, code string, confirmed bool) error {
	var enc []byte
	var conf int
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT secret_enc, confirmed, last_step FROM mfa_totp WHERE user_id = ?`, userID).Scan(&enc, &conf, &last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && confirmed && conf != 1) || (err == nil && !confirmed && conf == 1) {
		return errcode.New(errcode.AuthMFANotEnrolled, "no authenticator app enrolled")
	}
	if err != nil {
		return storeErr(err, "read totp secret")
	}
	secret, err := s.open(enc, totpAAD(userID))
	if err != nil {
		return err
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits.Length() {
		return errcode.New(errcode.AuthMFAInvalid, "authenticator code must have %d digits", totpDigits.Length())
	}
	now := s.now().Unix() / totpPeriod
	matched := int64(-1)
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(step*totpPeriod, 0),
			totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return errcode.Wrap(errcode.AuthMFAInvalid, err, "compute totp code")
		}
		// Compare every candidate, not stopping at the first match, so the
		// time taken does not say which step matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step
		}
	}
	if matched < 0 {
		return errcode.New(errcode.AuthMFAInvalid, "authenticator code is wrong or expired")
	}
	// The conditional update is the replay check and the claim in one
	// statement, so two requests racing with one code cannot both win.
	res, err := s.db.ExecContext(ctx, `UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND last_step < ?`, matched, userID, matched)
	if err != nil {
		return storeErr(err, "record totp step")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errcode.New(errcode.AuthMFAInvalid, "authenticator code already used; wait for the next one")
	}
	return nil
}

// Recovery codes: 10 per user, 80 random bits each, shown once, stored as
// HMAC-SHA256 under a key derived from auth.key, spent on use.
const (
	recoveryCount = 10
	recoveryBytes = 10
)

var recoveryEnc = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// NewRecoveryCodes replaces the user's recovery codes with 10 new ones and
// returns them (xxxx-xxxx-xxxx-xxxx).
func (s *Service) NewRecoveryCodes(ctx context.Context, userID int64) ([]string, error) {
	codes := make([]string, recoveryCount)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, storeErr(err, "begin recovery codes")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return nil, storeErr(err, "replace recovery codes")
	}
	for i := range codes {
		b := make([]byte, recoveryBytes)
		rand.Read(b)
		c := recoveryEnc.EncodeToString(b) // 16 characters
		codes[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes(user_id, code_hash) VALUES(?,?)`, userID, s.recoveryHash(codes[i])); err != nil {
			return nil, storeErr(err, "store recovery code")
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, storeErr(err, "commit recovery codes")
	}
	return codes, nil
}

func (s *Service) recoveryHash(code string) []byte {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	m := hmac.New(sha256New, s.subKey("recovery-code-v1"))
	m.Write([]byte(c))
	return m.Sum(nil)
}

// useRecovery spends one recovery code.
func (s *Service) useRecovery(ctx context.Context, userID int64, code string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE recovery_codes SET used = 1 WHERE user_id = ? AND code_hash = ? AND used = 0`, userID, s.recoveryHash(code))
	if err != nil {
		return storeErr(err, "spend recovery code")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errcode.New(errcode.AuthMFAInvalid, "recovery code is wrong or already used")
	}
	return nil
}

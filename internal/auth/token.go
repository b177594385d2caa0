package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// TokenPrefix starts every API token, so secret scanners recognise them.
const TokenPrefix = "otl_"

// Token describes an API token; the secret is shown once by CreateToken and
// never stored.
type Token struct {
	ID       int64     `json:"id"`
	Prefix   string    `json:"prefix"` // the first characters, to recognise it
	User     string    `json:"user"`
	Name     string    `json:"name"`
	Perms    []string  `json:"perms"`
	Scopes   []string  `json:"scopes"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Revoked  bool      `json:"revoked"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// MaxTokenLife bounds a token's life: every token expires.
const MaxTokenLife = 2 * 366 * 24 * time.Hour

// CreateToken creates an API token for user with the given permissions and
// scopes (each must be within the user's own: a token never has more than
// its owner) that expires after expiry. It returns the secret, once.
func (s *Service) CreateToken(ctx context.Context, user, name string, perms, scopes []string, expiry time.Duration) (string, *Token, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return "", nil, err
	}
	if expiry <= 0 || expiry > MaxTokenLife {
		return "", nil, errcode.New(errcode.AuthBadInput, "token expiry %s must be positive and at most %s", expiry, MaxTokenLife)
	}
	if strings.TrimSpace(name) == "" || len(name) > 128 {
		return "", nil, errcode.New(errcode.AuthBadInput, "token name must be 1 to 128 characters")
	}
	if len(perms) == 0 {
		return "", nil, errcode.New(errcode.AuthBadInput, "token needs at least one permission")
	}
	p, err := s.principal(ctx, u)
	if err != nil {
		return "", nil, err
	}
	for _, pm := range perms {
		if !knownPerm(pm) {
			return "", nil, errcode.New(errcode.AuthBadRole, "unknown permission %q", pm)
		}
		if !slices.Contains(p.Perms, pm) {
			return "", nil, errcode.New(errcode.AuthForbidden, "%s does not hold %s, so its token cannot", u.Name, pm)
		}
	}
	sc, err := normScopes(scopes)
	if err != nil {
		return "", nil, err
	}
	for _, x := range sc {
		probe := x
		if x == ScopeAll {
			probe = ""
		}
		if !covers(u.Scopes, probe) {
			return "", nil, errcode.New(errcode.AuthForbidden, "scope %q is outside %s's scopes", x, u.Name)
		}
	}
	ps := slices.Clone(perms)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	secret := TokenPrefix + randomToken(32)
	now := s.now()
	pj, _ := json.Marshal(ps)
	sj, _ := json.Marshal(sc)
	t := &Token{Prefix: secret[:len(TokenPrefix)+6], User: u.Name, Name: name, Perms: ps, Scopes: sc, Created: now, Expires: now.Add(expiry)}
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens(hash, prefix, user_id, name, perms, scopes, created, expires) VALUES(?,?,?,?,?,?,?,?)`,
		sha(secret), t.Prefix, u.ID, name, string(pj), string(sj), now.UnixNano(), t.Expires.UnixNano())
	if err != nil {
		return "", nil, storeErr(err, "store token")
	}
	t.ID, _ = res.LastInsertId()
	if err := s.Audit(ctx, Event{Action: "token.create", Object: "token/" + strconv.FormatInt(t.ID, 10), Outcome: OutcomeOK,
		Detail: "user=" + u.Name + " name=" + name + " perms=" + strings.Join(ps, ",") + " scopes=" + strings.Join(sc, ",") + " expires=" + t.Expires.UTC().Format(time.RFC3339)}); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// AuthenticateToken checks a bearer token and returns its principal: the
// owner's current roles and scopes, narrowed by the token's.
func (s *Service) AuthenticateToken(ctx context.Context, bearer string) (*Principal, error) {
	bad := errcode.New(errcode.AuthTokenInvalid, "api token unknown, expired or revoked")
	if !strings.HasPrefix(bearer, TokenPrefix) || len(bearer) > 200 {
		return nil, bad
	}
	h := sha(bearer)
	var (
		id, uid, expires, revoked, lastUsed int64
		stored                              []byte
		pj, sj                              string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, hash, user_id, perms, scopes, expires, revoked, last_used FROM api_tokens WHERE hash = ?`, h).
		Scan(&id, &stored, &uid, &pj, &sj, &expires, &revoked, &lastUsed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bad
	}
	if err != nil {
		return nil, storeErr(err, "read token")
	}
	now := s.now()
	// The index lookup found the row by hash; compare again in constant time
	// so no code path depends on a byte-wise comparison of secrets.
	if subtle.ConstantTimeCompare(stored, h) != 1 || revoked != 0 || now.UnixNano() >= expires {
		return nil, bad
	}
	u, err := s.userByID(ctx, uid)
	if err != nil || u.Disabled {
		return nil, bad
	}
	p, err := s.principal(ctx, u)
	if err != nil {
		return nil, err
	}
	p.TokenID = id
	json.Unmarshal([]byte(pj), &p.TokenPerms)
	json.Unmarshal([]byte(sj), &p.TokenScopes)
	if now.Sub(time.Unix(0, lastUsed)) >= time.Minute {
		s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, now.UnixNano(), id)
	}
	return p, nil
}

// ListTokens lists tokens, of one user or (user "") of all.
func (s *Service) ListTokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT t.id, t.prefix, u.name, t.name, t.perms, t.scopes, t.created, t.expires, t.revoked, t.last_used
		FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if user != "" {
		q += ` WHERE u.name = ?`
		args = append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY t.id`, args...)
	if err != nil {
		return nil, storeErr(err, "list tokens")
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var pj, sj string
		var created, expires, last int64
		if err := rows.Scan(&t.ID, &t.Prefix, &t.User, &t.Name, &pj, &sj, &created, &expires, &t.Revoked, &last); err != nil {
			return nil, storeErr(err, "list tokens")
		}
		json.Unmarshal([]byte(pj), &t.Perms)
		json.Unmarshal([]byte(sj), &t.Scopes)
		t.Created, t.Expires = time.Unix(0, created), time.Unix(0, expires)
		if last != 0 {
			t.LastUsed = time.Unix(0, last)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token by id; it fails at once everywhere.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked = 1 WHERE id = ?`, id)
	if err != nil {
		return storeErr(err, "revoke token %d", id)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errcode.New(errcode.AuthBadInput, "no token with id %d", id)
	}
	return s.Audit(ctx, Event{Action: "token.revoke", Object: "token/" + strconv.FormatInt(id, 10), Outcome: OutcomeOK})
}

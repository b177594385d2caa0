package auth

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
)

// Permissions. A permission names an action on a kind of object; where the
// object lives in the plant hierarchy, the scope decides where it applies.
const (
	PermTagsRead      = "tags.read"
	PermTagsWrite     = "tags.write"
	PermHistoryRead   = "history.read"
	PermHistoryExport = "history.export"
	PermConfigWrite   = "config.write"
	PermUsersAdmin    = "users.admin"
	PermSecurityRead  = "security.read"
	PermAlertsAck     = "alerts.ack"
	PermAuditRead     = "audit.read"
	PermIntegrityRead = "integrity.read"
	// PermIntegrityWrite adds to the integrity log from outside: witnessing
	// another node's checkpoint. Reading proves; writing anchors, so it is
	// kept apart from config.write.
	PermIntegrityWrite = "integrity.write"
)

// AllPerms lists every permission in display order.
var AllPerms = []string{PermTagsRead, PermTagsWrite, PermHistoryRead, PermHistoryExport, PermConfigWrite,
	PermUsersAdmin, PermSecurityRead, PermAlertsAck, PermAuditRead, PermIntegrityRead, PermIntegrityWrite}

func knownPerm(p string) bool { return slices.Contains(AllPerms, p) }

// Built-in roles.
const (
	RoleViewer          = "viewer"
	RoleOperator        = "operator"
	RoleEngineer        = "engineer"
	RoleSecurityAnalyst = "security_analyst"
	RoleAdmin           = "admin"
)

// BuiltinRoles maps each built-in role to its permissions. They cannot be
// redefined; custom roles add to them.
var BuiltinRoles = map[string][]string{
	RoleViewer:          {PermTagsRead, PermHistoryRead, PermIntegrityRead},
	RoleOperator:        {PermTagsRead, PermHistoryRead, PermIntegrityRead, PermTagsWrite, PermAlertsAck},
	RoleEngineer:        {PermTagsRead, PermHistoryRead, PermIntegrityRead, PermTagsWrite, PermAlertsAck, PermHistoryExport, PermConfigWrite},
	RoleSecurityAnalyst: {PermTagsRead, PermHistoryRead, PermIntegrityRead, PermHistoryExport, PermSecurityRead, PermAlertsAck, PermAuditRead, PermIntegrityWrite},
	RoleAdmin:           AllPerms,
}

// ScopeAll is the scope of the whole plant.
const ScopeAll = "*"

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	scopeRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
)

// Principal is who is acting: a user through a session or through an API
// token. A token narrows its user: both must allow an action.
type Principal struct {
	UserID int64    `json:"user_id"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Scopes []string `json:"scopes"`
	Perms  []string `json:"perms"` // union of the roles' permissions

	// Set when authenticated by an API token: its id, permissions and
	// scopes, which limit the user's.
	TokenID     int64    `json:"token_id,omitempty"`
	TokenPerms  []string `json:"token_perms,omitempty"`
	TokenScopes []string `json:"token_scopes,omitempty"`

	// Session is set when authenticated by a session cookie.
	Session *Session `json:"-"`
}

// Has reports whether p holds perm anywhere in the plant.
func (p *Principal) Has(perm string) bool {
	if p == nil || !slices.Contains(p.Perms, perm) {
		return false
	}
	return p.TokenID == 0 || slices.Contains(p.TokenPerms, perm)
}

// Allowed reports whether p may do perm on the object at path (a plant
// hierarchy path such as acme/taichung/machining/line1/cnc01/spindle, or ""
// for an object that belongs to the whole plant, such as users). A nil
// principal or one without scopes is allowed nothing.
func Allowed(p *Principal, perm, path string) bool {
	if !p.Has(perm) {
		return false
	}
	if !covers(p.Scopes, path) {
		return false
	}
	return p.TokenID == 0 || covers(p.TokenScopes, path)
}

// WriteScoped reports whether a token principal's own scopes name path or
// an ancestor of it explicitly: a plant-wide ("*") token may read anywhere
// but writes nowhere, so that a leaked reporting token cannot move a
// machine. Session principals are not tokens: it reports true for them
// (their writes need a fresh step-up instead).
func WriteScoped(p *Principal, path string) bool {
	if p == nil {
		return false
	}
	if p.TokenID == 0 {
		return true
	}
	explicit := make([]string, 0, len(p.TokenScopes))
	for _, s := range p.TokenScopes {
		if s != ScopeAll {
			explicit = append(explicit, s)
		}
	}
	return path != "" && covers(explicit, path)
}

// covers reports whether any scope is path or an ancestor of it, segment by
// segment (line1 does not cover line10). Only ScopeAll covers "".
func covers(scopes []string, path string) bool {
	path = strings.Trim(path, "/")
	for _, s := range scopes {
		if s == ScopeAll {
			return true
		}
		if path != "" && (path == s || strings.HasPrefix(path, s+"/")) {
			return true
		}
	}
	return false
}

func normScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return []string{ScopeAll}, nil
	}
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		s = strings.Trim(strings.TrimSpace(s), "/")
		if s != ScopeAll && !scopeRE.MatchString(s) {
			return nil, errcode.New(errcode.AuthBadInput, "scope %q is not a plant path like acme/site/area/line", s)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// rolePerms returns the permissions of the named roles, built-in or custom,
// sorted.
func (s *Service) rolePerms(ctx context.Context, roles []string) ([]string, error) {
	set := map[string]bool{}
	for _, r := range roles {
		ps, ok := BuiltinRoles[r]
		if !ok {
			var js string
			err := s.db.QueryRowContext(ctx, `SELECT perms FROM roles WHERE name = ?`, r).Scan(&js)
			if err != nil {
				// A custom role deleted under a user grants nothing.
				continue
			}
			if json.Unmarshal([]byte(js), &ps) != nil {
				continue
			}
		}
		for _, p := range ps {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (s *Service) checkRoles(ctx context.Context, roles []string) error {
	if len(roles) == 0 {
		return errcode.New(errcode.AuthBadRole, "a user needs at least one role")
	}
	for _, r := range roles {
		if _, ok := BuiltinRoles[r]; ok {
			continue
		}
		var n int
		s.db.QueryRowContext(ctx, `SELECT count(*) FROM roles WHERE name = ?`, r).Scan(&n)
		if n == 0 {
			return errcode.New(errcode.AuthBadRole, "unknown role %q", r)
		}
	}
	return nil
}

// Role is a named set of permissions.
type Role struct {
	Name    string   `json:"name"`
	Perms   []string `json:"perms"`
	Builtin bool     `json:"builtin"`
}

// DefineRole creates or replaces a custom role. Built-in roles cannot be
// redefined. Sessions of users holding the role are ended, because their
// privileges changed.
func (s *Service) DefineRole(ctx context.Context, name string, perms []string) error {
	if _, ok := BuiltinRoles[name]; ok {
		return errcode.New(errcode.AuthBadRole, "role %q is built in and cannot be redefined", name)
	}
	if !nameRE.MatchString(name) {
		return errcode.New(errcode.AuthBadRole, "role name %q: use lower-case letters, digits, _ . -", name)
	}
	if len(perms) == 0 {
		return errcode.New(errcode.AuthBadRole, "role %q has no permissions", name)
	}
	for _, p := range perms {
		if !knownPerm(p) {
			return errcode.New(errcode.AuthBadRole, "unknown permission %q", p)
		}
	}
	ps := slices.Clone(perms)
	sort.Strings(ps)
	ps = slices.Compact(ps)
	js, _ := json.Marshal(ps)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO roles(name, perms, created) VALUES(?,?,?)
		ON CONFLICT(name) DO UPDATE SET perms = excluded.perms`, name, string(js), s.now().UnixNano()); err != nil {
		return storeErr(err, "define role %s", name)
	}
	if err := s.endSessionsWithRole(ctx, name); err != nil {
		return err
	}
	return s.Audit(ctx, Event{Action: "role.define", Object: "role/" + name, Outcome: OutcomeOK, Detail: strings.Join(ps, ",")})
}

// DeleteRole removes a custom role that no user holds.
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	if _, ok := BuiltinRoles[name]; ok {
		return errcode.New(errcode.AuthBadRole, "role %q is built in and cannot be deleted", name)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if slices.Contains(u.Roles, name) {
			return errcode.New(errcode.AuthBadRole, "role %q is held by %s", name, u.Name)
		}
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM roles WHERE name = ?`, name)
	if err != nil {
		return storeErr(err, "delete role %s", name)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errcode.New(errcode.AuthBadRole, "unknown role %q", name)
	}
	return s.Audit(ctx, Event{Action: "role.delete", Object: "role/" + name, Outcome: OutcomeOK})
}

// Roles lists built-in and custom roles.
func (s *Service) Roles(ctx context.Context) ([]Role, error) {
	var out []Role
	for _, n := range []string{RoleViewer, RoleOperator, RoleEngineer, RoleSecurityAnalyst, RoleAdmin} {
		out = append(out, Role{Name: n, Perms: slices.Clone(BuiltinRoles[n]), Builtin: true})
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, perms FROM roles ORDER BY name`)
	if err != nil {
		return nil, storeErr(err, "list roles")
	}
	defer rows.Close()
	for rows.Next() {
		var r Role
		var js string
		if err := rows.Scan(&r.Name, &js); err != nil {
			return nil, storeErr(err, "list roles")
		}
		json.Unmarshal([]byte(js), &r.Perms)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Service) endSessionsWithRole(ctx context.Context, role string) error {
	users, err := s.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if slices.Contains(u.Roles, role) {
			if err := s.EndUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// mfaRequired applies the policy to a set of permissions.
func (s *Service) mfaRequired(perms []string) bool {
	if s.opts.MFAForAll {
		return true
	}
	for _, p := range perms {
		if slices.Contains(s.opts.MFARequiredPerms, p) {
			return true
		}
	}
	return false
}

// Package auth owns who may use otlink and what they may do: accounts with
// argon2id passwords, second factors (TOTP with recovery codes, WebAuthn
// security keys), the login state machine with lockout and per-address rate
// limiting, server-side sessions with idle and absolute timeouts, CSRF tokens
// and step-up freshness, roles and permissions scoped to the plant
// hierarchy, API tokens, and the audit trail, all kept in one SQLite file of
// the data folder (auth.db) next to the key that encrypts TOTP secrets
// (auth.key, mode 0600).
//
// It must not render pages or know routes: the web package calls it, and the
// HTTP glue that needs no pages (cookies, middleware, Require) lives in
// auth/httpauth. It must not import the historian or the integrity log: audit
// events leave through a sink function the application provides. It never
// stores a secret that could be replayed: passwords, recovery codes, session
// ids, setup and API tokens are stored only as hashes.
//
// The model is written for an OT security team in docs/security.md.
package auth

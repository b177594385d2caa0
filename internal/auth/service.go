package auth

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/otlink/otlink/internal/errcode"
)

// Options configure a Service. The zero value of every field means the
// documented default.
type Options struct {
	// KeyFile holds the 32-byte key that encrypts TOTP secrets and peppers
	// recovery codes; default auth.key next to the database. Created with
	// mode 0600 when missing.
	KeyFile string

	// Argon2 parameters for new hashes; default 64 MiB, 3 passes, 2 lanes.
	// Raising them rehashes each password at its owner's next login.
	Argon2 Argon2Params

	// Lockout: LockAfter failures of one account name within LockWindow lock
	// it for LockFor. Defaults 5, 15 min, 15 min.
	LockAfter  int
	LockWindow time.Duration
	LockFor    time.Duration

	// Per-address rate limit of login attempts: a token bucket of LoginBurst
	// tokens refilled at one every LoginEvery. Defaults 10 and 6 s.
	LoginBurst int
	LoginEvery time.Duration

	// Sessions: idle timeout (default 30 min), absolute timeout (default 12
	// h), and how long a half-finished login (password done, second factor
	// pending) lives (default 5 min).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	PendingTimeout  time.Duration

	// MFARequiredPerms: a user holding any of these permissions must have a
	// second factor; default tags.write, config.write, users.admin.
	// MFAForAll requires one of every user.
	MFARequiredPerms []string
	MFAForAll        bool

	// TOTPIssuer names the account in authenticator apps; default "otlink".
	TOTPIssuer string

	// WebAuthn relying party: RPID is the host name users type (default
	// "localhost"), RPOrigins the origins pages are served from (default
	// https://RPID:8443).
	RPID          string
	RPDisplayName string
	RPOrigins     []string

	// SetupTTL bounds the first-administrator setup token; default 24 h.
	SetupTTL time.Duration

	// AuditSink receives each audit event after it is stored; an error leaves
	// the event marked unsent and it is sent again by Open or ResendAudit.
	AuditSink func(context.Context, Event) error

	// Now is the clock; tests set it. Default time.Now.
	Now func() time.Time

	Logger *slog.Logger
}

func (o *Options) defaults(dbPath string) {
	if o.KeyFile == "" {
		o.KeyFile = filepath.Join(filepath.Dir(dbPath), "auth.key")
	}
	if o.Argon2 == (Argon2Params{}) {
		o.Argon2 = DefaultArgon2
	}
	if o.LockAfter <= 0 {
		o.LockAfter = 5
	}
	if o.LockWindow <= 0 {
		o.LockWindow = 15 * time.Minute
	}
	if o.LockFor <= 0 {
		o.LockFor = 15 * time.Minute
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = 10
	}
	if o.LoginEvery <= 0 {
		o.LoginEvery = 6 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = 5 * time.Minute
	}
	if o.MFARequiredPerms == nil {
		o.MFARequiredPerms = []string{PermTagsWrite, PermConfigWrite, PermUsersAdmin}
	}
	if o.TOTPIssuer == "" {
		o.TOTPIssuer = "otlink"
	}
	if o.RPID == "" {
		o.RPID = "localhost"
	}
	if o.RPDisplayName == "" {
		o.RPDisplayName = "otlink"
	}
	if len(o.RPOrigins) == 0 {
		o.RPOrigins = []string{"https://" + o.RPID + ":8443"}
	}
	if o.SetupTTL <= 0 {
		o.SetupTTL = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service is the account, session, authorisation and audit store. It is safe
// for concurrent use.
type Service struct {
	db   *sql.DB
	opts Options
	key  []byte // 32 bytes from KeyFile
	wa   *webauthn.WebAuthn
	lim  *ipLimiter

	sinkMu sync.Mutex // serialises delivery to the audit sink, in id order

	// dummyHash is verified when the user does not exist, so that a missing
	// user costs the same argon2 work as a wrong password.
	dummyHash func() string
}

// Open opens (creating if needed) the SQLite database at path, migrates its
// schema, loads or creates the key file, and re-sends audit events the sink
// did not take before.
func Open(ctx context.Context, path string, opts Options) (*Service, error) {
	opts.defaults(path)
	for _, p := range opts.MFARequiredPerms {
		if !knownPerm(p) {
			return nil, errcode.New(errcode.AuthBadRole, "mfa policy names unknown permission %q", p)
		}
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: opts.RPID, RPDisplayName: opts.RPDisplayName, RPOrigins: opts.RPOrigins})
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthWebAuthn, err, "configure webauthn relying party %q", opts.RPID)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, errcode.Wrap(errcode.AuthStore, err, "create folder of %s", path)
	}
	key, err := loadKey(opts.KeyFile)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthStore, err, "open %s", path)
	}
	// One connection: SQLite has one writer anyway, and a single connection
	// makes every transaction serial without SQLITE_BUSY retries. The load is
	// a few queries per HTTP request.
	db.SetMaxOpenConns(1)
	s := &Service{db: db, opts: opts, key: key, wa: wa, lim: newIPLimiter(opts.LoginBurst, opts.LoginEvery)}
	s.dummyHash = sync.OnceValue(func() string { return HashPassword("otlink-no-such-user", opts.Argon2) })
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, errcode.Wrap(errcode.AuthStore, err, "restrict mode of %s", path)
	}
	if err := s.ResendAudit(ctx); err != nil {
		s.opts.Logger.Warn("audit events not yet in the integrity log", "code", errcode.Of(err).String(), "err", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Service) Close() error { return s.db.Close() }

func (s *Service) now() time.Time { return s.opts.Now() }

// migrations are applied in order; user_version records how many ran. Never
// edit one that shipped: append a new one.
var migrations = []string{
	`CREATE TABLE users (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE COLLATE NOCASE,
		pw_hash TEXT NOT NULL,
		roles TEXT NOT NULL,
		scopes TEXT NOT NULL,
		disabled INTEGER NOT NULL DEFAULT 0,
		handle BLOB NOT NULL,
		created INTEGER NOT NULL,
		pw_changed INTEGER NOT NULL
	);
	CREATE TABLE mfa_totp (
		user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
		secret_enc BLOB NOT NULL,
		confirmed INTEGER NOT NULL DEFAULT 0,
		last_step INTEGER NOT NULL DEFAULT 0,
		created INTEGER NOT NULL
	);
	CREATE TABLE recovery_codes (
		user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		code_hash BLOB NOT NULL,
		used INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (user_id, code_hash)
	);
	CREATE TABLE webauthn_credentials (
		id BLOB PRIMARY KEY,
		user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		data TEXT NOT NULL,
		created INTEGER NOT NULL,
		last_used INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE sessions (
		id_hash BLOB PRIMARY KEY,
		user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
		stage INTEGER NOT NULL,
		created INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		auth_time INTEGER NOT NULL DEFAULT 0,
		auth_method TEXT NOT NULL DEFAULT '',
		csrf TEXT NOT NULL,
		ip TEXT NOT NULL DEFAULT '',
		ceremony TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE TABLE api_tokens (
		id INTEGER PRIMARY KEY,
		hash BLOB NOT NULL UNIQUE,
		prefix TEXT NOT NULL,
		user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		perms TEXT NOT NULL,
		scopes TEXT NOT NULL,
		created INTEGER NOT NULL,
		expires INTEGER NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0,
		last_used INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE login_attempts (
		name TEXT PRIMARY KEY COLLATE NOCASE,
		failures INTEGER NOT NULL,
		window_start INTEGER NOT NULL,
		locked_until INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE audit (
		id INTEGER PRIMARY KEY,
		time INTEGER NOT NULL,
		actor TEXT NOT NULL,
		action TEXT NOT NULL,
		object TEXT NOT NULL,
		outcome TEXT NOT NULL,
		ip TEXT NOT NULL,
		detail TEXT NOT NULL,
		sunk INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX audit_time ON audit(time);
	CREATE INDEX audit_actor ON audit(actor, time);
	CREATE INDEX audit_unsunk ON audit(sunk) WHERE sunk = 0;
	CREATE TABLE roles (
		name TEXT PRIMARY KEY,
		perms TEXT NOT NULL,
		created INTEGER NOT NULL
	);
	CREATE TABLE setup_tokens (
		hash BLOB PRIMARY KEY,
		expires INTEGER NOT NULL
	);`,
	// A password another person chose (an administrator's one-time
	// password) is replaced by its user at the next sign-in.
	`ALTER TABLE users ADD COLUMN pw_temporary INTEGER NOT NULL DEFAULT 0;`,
}

func (s *Service) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return errcode.Wrap(errcode.AuthStore, err, "read schema version")
	}
	if v > len(migrations) {
		return errcode.New(errcode.AuthStore, "schema version %d is newer than this otlink knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return errcode.Wrap(errcode.AuthStore, err, "begin migration %d", i+1)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return errcode.Wrap(errcode.AuthStore, err, "apply migration %d", i+1)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return errcode.Wrap(errcode.AuthStore, err, "record migration %d", i+1)
		}
		if err := tx.Commit(); err != nil {
			return errcode.Wrap(errcode.AuthStore, err, "commit migration %d", i+1)
		}
	}
	return nil
}

func storeErr(err error, format string, args ...any) error {
	return errcode.Wrap(errcode.AuthStore, err, format, args...)
}

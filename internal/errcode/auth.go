package errcode

// Codes of accounts, MFA, sessions, authorisation, tokens and audit
// (internal/auth, 6100–6199).
const (
	AuthStore           Code = 6100
	AuthKeyFile         Code = 6101
	AuthBadCredentials  Code = 6102
	AuthLocked          Code = 6103
	AuthRateLimited     Code = 6104
	AuthWeakPassword    Code = 6105
	AuthUserExists      Code = 6106
	AuthUserNotFound    Code = 6107
	AuthMFARequired     Code = 6108
	AuthMFAInvalid      Code = 6109
	AuthMFANotEnrolled  Code = 6110
	AuthSessionInvalid  Code = 6111
	AuthCSRF            Code = 6112
	AuthStepUpRequired  Code = 6113
	AuthForbidden       Code = 6114
	AuthUnauthenticated Code = 6115
	AuthTokenInvalid    Code = 6116
	AuthSetupRefused    Code = 6117
	AuthBadRole         Code = 6118
	AuthWebAuthn        Code = 6119
	AuthBadInput        Code = 6120
	AuthAuditSink       Code = 6121
	AuthPasswordReused  Code = 6122
)

func init() {
	register(
		Entry{Code: AuthStore, Name: "auth.store_failed", Title: "the account database could not be opened, migrated or written",
			Causes: []string{"the data folder is missing, read-only or full", "auth.db was damaged or written by a newer otlink"},
			Checks: []string{"permissions and free space of the data folder", "`sqlite3 DATA/auth.db 'pragma integrity_check'`"},
			Fix:    "give otlink write access or free space; restore auth.db from a backup if it is damaged"},
		Entry{Code: AuthKeyFile, Name: "auth.key_file", Title: "the key that encrypts MFA secrets could not be read or created",
			Causes: []string{"DATA/auth.key is missing after MFA was enrolled, truncated, or readable by others", "the data folder is read-only"},
			Checks: []string{"`ls -l DATA/auth.key`: 32 bytes, mode 0600, owned by the otlink user"},
			Fix:    "restore auth.key from the backup taken with auth.db; if it is lost, reset MFA of every user (`otlink user reset-mfa`)"},
		Entry{Code: AuthBadCredentials, Name: "auth.bad_credentials", Title: "login failed: unknown user, wrong password or disabled account",
			Causes: []string{"a typing error", "the account was disabled", "someone guessing passwords"},
			Checks: []string{"the audit log (action login) for the real reason, visible to administrators"},
			Fix:    "check the user name and password; an administrator can reset the password or enable the account"},
		Entry{Code: AuthLocked, Name: "auth.locked", Title: "too many failed logins for this account; it is locked for a while",
			Causes: []string{"repeated wrong passwords or second-factor codes", "someone guessing passwords"},
			Checks: []string{"the audit log for failed logins of that name and their IP addresses"},
			Fix:    "wait until the lock expires (15 minutes by default) and try again; investigate if the attempts were not yours"},
		Entry{Code: AuthRateLimited, Name: "auth.rate_limited", Title: "too many login attempts from this address; slow down",
			Causes: []string{"a script or a person retrying quickly", "many users behind one NAT address"},
			Checks: []string{"the audit log for failed logins from the address"},
			Fix:    "wait a minute and try again; raise the per-address rate if many users share one address"},
		Entry{Code: AuthWeakPassword, Name: "auth.weak_password", Title: "the password does not meet the policy",
			Causes: []string{"shorter than 12 characters", "equal to or containing the user name", "a commonly used password"},
			Checks: []string{"docs/security.md, section accounts"},
			Fix:    "choose a longer passphrase that is not the user name and not a common password"},
		Entry{Code: AuthUserExists, Name: "auth.user_exists", Title: "a user with that name already exists",
			Causes: []string{"the name is taken", "`otlink demo` ran before and created admin"},
			Checks: []string{"`otlink user list`"},
			Fix:    "choose another name, or use the existing account (the demo password is in DATA/demo-admin.txt)"},
		Entry{Code: AuthUserNotFound, Name: "auth.user_not_found", Title: "no user with that name",
			Causes: []string{"a typing error in an administrative command"},
			Checks: []string{"`otlink user list`"},
			Fix:    "use an existing user name"},
		Entry{Code: AuthMFARequired, Name: "auth.mfa_required", Title: "a second factor is needed to complete the login",
			Causes: []string{"the password was right and the account has a second factor or its role requires one"},
			Checks: []string{"the login page's second step"},
			Fix:    "enter the authenticator code, a recovery code or use the security key"},
		Entry{Code: AuthMFAInvalid, Name: "auth.mfa_invalid", Title: "the second-factor code was wrong, expired or already used",
			Causes: []string{"a typing error", "the device clock is off by more than 30 seconds", "the same code used twice"},
			Checks: []string{"the authenticator's clock against the server's"},
			Fix:    "wait for the next code and enter it; use a recovery code if the authenticator is lost"},
		Entry{Code: AuthMFANotEnrolled, Name: "auth.mfa_not_enrolled", Title: "the account has no second factor but its role requires one",
			Causes: []string{"a new account, or MFA was reset by an administrator"},
			Checks: []string{"the MFA policy in docs/security.md"},
			Fix:    "enrol an authenticator app or security key on the page shown after the password step"},
		Entry{Code: AuthSessionInvalid, Name: "auth.session_invalid", Title: "the session is unknown, expired or was replaced",
			Causes: []string{"idle or absolute timeout", "logout or a password, role or MFA change", "the session id changed at login or step-up"},
			Checks: []string{"the session timeouts in the configuration"},
			Fix:    "log in again"},
		Entry{Code: AuthCSRF, Name: "auth.csrf", Title: "the request's CSRF token is missing or wrong",
			Causes: []string{"a page open from before a new login", "a request forged by another site"},
			Checks: []string{"that the client sends X-CSRF-Token (or the csrf_token form field) from the current page"},
			Fix:    "reload the page and repeat the action"},
		Entry{Code: AuthStepUpRequired, Name: "auth.step_up_required", Title: "this action needs a fresh re-authentication",
			Causes: []string{"a sensitive action (write, user or token change) and the last strong authentication is too old"},
			Checks: []string{"the step-up window in the configuration"},
			Fix:    "confirm with your second factor (or password) and repeat the action"},
		Entry{Code: AuthForbidden, Name: "auth.forbidden", Title: "you are not allowed to do this here",
			Causes: []string{"the role lacks the permission", "the object is outside the user's or token's scope"},
			Checks: []string{"`otlink user list` for roles and scopes; the roles table in docs/security.md"},
			Fix:    "ask an administrator for a role or scope that covers the action"},
		Entry{Code: AuthUnauthenticated, Name: "auth.unauthenticated", Title: "authentication is required",
			Causes: []string{"no session cookie and no bearer token", "an anonymous or half-finished login session"},
			Checks: []string{"that the client logs in or sends Authorization: Bearer otl_..."},
			Fix:    "log in, or create an API token with `otlink token create`"},
		Entry{Code: AuthTokenInvalid, Name: "auth.token_invalid", Title: "the API token is unknown, expired, revoked or its user disabled",
			Causes: []string{"a typing or copy error", "the token expired or was revoked", "the owner was disabled"},
			Checks: []string{"`otlink token list` for expiry and revocation"},
			Fix:    "create a new token and give it to the client"},
		Entry{Code: AuthSetupRefused, Name: "auth.setup_refused", Title: "the first-administrator setup is refused",
			Causes: []string{"the setup link was used, expired or replaced by a newer one", "an administrator already exists"},
			Checks: []string{"`otlink user list`"},
			Fix:    "log in as the existing administrator, or restart otlink to print a new setup link while no administrator exists"},
		Entry{Code: AuthBadRole, Name: "auth.bad_role", Title: "a role or permission is unknown or cannot be changed",
			Causes: []string{"a typing error", "an attempt to redefine or delete a built-in role", "a custom role still assigned to users"},
			Checks: []string{"the roles and permissions table in docs/security.md"},
			Fix:    "use a known role and permission names; remove the role from users first"},
		Entry{Code: AuthWebAuthn, Name: "auth.webauthn", Title: "the security key ceremony failed",
			Causes: []string{"the ceremony timed out or was started in another session", "the key is not registered for this user", "the origin or RP ID does not match the configuration"},
			Checks: []string{"the web.origin setting against the address in the browser"},
			Fix:    "retry; if it keeps failing, log in with the authenticator app or a recovery code"},
		Entry{Code: AuthBadInput, Name: "auth.bad_input", Title: "an account, token or audit request has invalid arguments",
			Causes: []string{"an empty or malformed name, scope, expiry or filter"},
			Checks: []string{"the message for the field"},
			Fix:    "correct the field and retry"},
		Entry{Code: AuthAuditSink, Name: "auth.audit_sink", Title: "audit events could not be handed to the integrity log",
			Causes: []string{"the integrity log is closed or its disk failing"},
			Checks: []string{"log lines with code OTL-505x"},
			Fix:    "fix the integrity log; the events are kept in auth.db and re-sent on the next start"},
		Entry{Code: AuthPasswordReused, Name: "auth.password_reused", Title: "the new password is the one in use",
			Causes: []string{"the temporary password typed again at the first sign-in", "the current password given as the new one"},
			Checks: []string{"that the new password differs from the current one"},
			Fix:    "choose a new password that meets the policy and is not the current one"},
	)
}

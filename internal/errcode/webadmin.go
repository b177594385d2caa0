package errcode

// Codes of the web administration pages and governed writes (6225–6274).
const (
	WebWriteOff         Code = 6225
	WebWriteNotWritable Code = 6226
	WebWriteBadValue    Code = 6227
	WebWriteLimits      Code = 6228
	WebWriteTokenScope  Code = 6229
	WebSessionOnly      Code = 6230
	WebAuditFilter      Code = 6231
	WebWriteRefused     Code = 6232
)

func init() {
	register(
		Entry{Code: WebWriteOff, Name: "web.write_off", Title: "governed writes are off on this server",
			Causes: []string{"no tag of the configuration is writable", "the server was started without the acquisition engine"},
			Checks: []string{"writable: true and limits on the tag in the config"},
			Fix:    "mark the tag writable with limits and reload, or write from the node that runs the engine"},
		Entry{Code: WebWriteNotWritable, Name: "web.write_not_writable", Title: "the tag does not exist or is not writable",
			Causes: []string{"a typo in the tag path", "the tag is read-only in the config"},
			Checks: []string{"the tag's path on the machine page", "writable: true on the tag"},
			Fix:    "write to a writable tag, or make this one writable with limits"},
		Entry{Code: WebWriteBadValue, Name: "web.write_bad_value", Title: "the value cannot be written to this tag's type",
			Causes: []string{"text where a number is expected", "a fraction for an integer tag", "a missing value"},
			Checks: []string{"the tag's type on the write page"},
			Fix:    "enter a value of the tag's type"},
		Entry{Code: WebWriteLimits, Name: "web.write_limits", Title: "the value is outside the tag's write limits",
			Causes: []string{"a value below min or above max", "a change larger than max_step from the current value"},
			Checks: []string{"the limits shown on the write page", "the current value"},
			Fix:    "enter a value within the limits; change limits only through a reviewed config change"},
		Entry{Code: WebWriteTokenScope, Name: "web.write_token_scope", Title: "this API token may not write here",
			Causes: []string{"the token is scoped to the whole plant (*)", "the token's scopes do not cover the tag"},
			Checks: []string{"`otlink token list`: the token's permissions and scopes"},
			Fix:    "create a token with tags.write and an explicit scope (a site, line or machine) that covers the tag"},
		Entry{Code: WebSessionOnly, Name: "web.session_only", Title: "this action needs a browser session, not an API token",
			Causes: []string{"step-up or security keys asked with a bearer token"},
			Checks: []string{"the Authorization header of the request"},
			Fix:    "sign in with a browser; tokens cannot re-authenticate"},
		Entry{Code: WebAuditFilter, Name: "web.audit_filter", Title: "an audit search parameter cannot be read",
			Causes: []string{"a time that is not RFC 3339 or datetime-local", "a limit or page cursor that is not a number"},
			Checks: []string{"the parameter named in the message"},
			Fix:    "correct the parameter, e.g. from=2026-01-02T08:00"},
		Entry{Code: WebWriteRefused, Name: "web.write_refused", Title: "the write was refused or failed at the device",
			Causes: []string{"the engine refused it (rate, step, type)", "the device is not connected or answered with an exception"},
			Checks: []string{"the code in the message (OTL-2xxx) and its entry", "device health"},
			Fix:    "follow the entry of the inner code; wait min_interval between writes"},
	)
}

package errcode

// Web UI plant pages (plant tree, device health, troubleshooting, trends),
// 6200-6224.
const (
	WebUnknownCode     Code = 6200
	WebIntegrityStatus Code = 6201
)

func init() {
	register(
		Entry{Code: WebUnknownCode, Name: "web.unknown_error_code",
			Title:  "the troubleshooting page has no entry for this error code",
			Causes: []string{"a typo in the code of the address /errors/OTL-nnnn", "a code of a newer otlink than this one"},
			Checks: []string{"the code as the page or log shows it, in the form OTL-nnnn", "`otlink errors` lists every code this version knows"},
			Fix:    "open /errors/ with a code this version lists, or read docs/errors.md of the version that produced the code"},
		Entry{Code: WebIntegrityStatus, Name: "web.integrity_status",
			Title:  "the integrity status of the shown data could not be verified",
			Causes: []string{"the integrity log could not be read", "verification took longer than the page allows", "the log or the data was changed after it was recorded"},
			Checks: []string{"`otlink verify` on the data folder", "GET /api/v1/integrity for the full report", "the historian log around the time of the page"},
			Fix:    "run `otlink verify` and follow its report; until it passes, do not rely on the shown history as evidence"},
	)
}

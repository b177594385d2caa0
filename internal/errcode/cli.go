package errcode

// Codes of the command line and of otlink's own start-up (9000–9099).
const (
	CLIUsage        Code = 9001
	CLIUnknownCode  Code = 9002
	CLIFileNotFound Code = 9003
	CLIDataDir      Code = 9004
	HTTPListen      Code = 9010
	CLIDataLocked   Code = 9020
	CLINoHistory    Code = 9021
	CLIRemote       Code = 9022
	CLIVerifyFailed Code = 9023
	HTTPNotLoopback Code = 9011
	TLSCert         Code = 9024
	CLIPassword     Code = 9025
	HTTPSetup       Code = 9026
	Internal        Code = 9099
)

func init() {
	register(
		Entry{Code: CLIUsage, Name: "cli.usage", Title: "the command line is not valid",
			Causes: []string{"an unknown flag or subcommand", "a flag value of the wrong form (a duration needs a unit: 30s, 5m)"},
			Checks: []string{"`otlink help COMMAND` lists the flags of a command"},
			Fix:    "correct the command line; commands exit with status 2 on usage errors"},
		Entry{Code: CLIUnknownCode, Name: "cli.unknown_code", Title: "no error code of that number exists",
			Causes: []string{"a typo in the code", "a code from a newer otlink than this binary"},
			Checks: []string{"`otlink errors` lists every code this binary knows", "`otlink version`"},
			Fix:    "give the code as OTL-nnnn or nnnn, as printed in the message you met"},
		Entry{Code: CLIFileNotFound, Name: "cli.file_not_found", Title: "a file named on the command line cannot be read",
			Causes: []string{"a wrong path", "missing read permission"},
			Checks: []string{"`ls -l FILE`", "the path is relative to the folder otlink was started in"},
			Fix:    "name a readable file"},
		Entry{Code: CLIDataDir, Name: "cli.data_dir", Title: "the data folder cannot be created or written",
			Causes: []string{"the parent folder does not exist or is not writable", "the disk is full"},
			Checks: []string{"`ls -ld DIR` and `df -h DIR`"},
			Fix:    "pass --data with a writable folder, or fix its permissions"},
		Entry{Code: CLIDataLocked, Name: "cli.data_locked", Title: "the data folder is in use by a running otlink",
			Causes: []string{"otlink run or otlink demo is running on this data folder: its store admits one process at a time"},
			Checks: []string{"`ps aux | grep otlink`", "the http address the running otlink printed at start"},
			Fix:    "query the running otlink with --url http://127.0.0.1:8080, or stop it and run the command again"},
		Entry{Code: CLINoHistory, Name: "cli.no_history", Title: "the data folder holds no history",
			Causes: []string{"a wrong --data folder", "the historian is off (historian.backend: off) or postgres"},
			Checks: []string{"`ls DIR` should show history/ and integrity/"},
			Fix:    "pass the data folder otlink runs with (--data), or --url of the running otlink"},
		Entry{Code: CLIRemote, Name: "cli.remote", Title: "the running otlink named by --url did not answer the request",
			Causes: []string{"otlink is not running at that address", "a different otlink version without that route", "the historian is off there"},
			Checks: []string{"`curl URL/healthz`"},
			Fix:    "give the http address the running otlink printed at start, e.g. --url http://127.0.0.1:8080"},
		Entry{Code: CLIVerifyFailed, Name: "cli.verify_failed", Title: "integrity verification found data that does not verify",
			Causes: []string{"chunks or log entries were altered, deleted or reordered", "a checkpoint kept elsewhere no longer matches the log", "a disk error"},
			Checks: []string{"the report: its first tampered or gap range names the entry, expected and found hash"},
			Fix:    "preserve the data folder as evidence and restore from a verified backup (docs/integrity.md)"},
		Entry{Code: HTTPListen, Name: "http.listen", Title: "the HTTP server cannot listen on its address",
			Causes: []string{"another program already uses the port", "the address is not one of this machine's"},
			Checks: []string{"`ss -ltnp | grep PORT` shows who holds the port"},
			Fix:    "stop the other program or pass another --listen address"},
		Entry{Code: HTTPNotLoopback, Name: "http.not_loopback", Title: "plain HTTP may only listen on a loopback address",
			Causes: []string{"plain HTTP (http.plain_http or --plain-http) was asked for on a non-loopback address: passwords and tokens would cross the network in clear"},
			Checks: []string{"with plain HTTP the address must be 127.0.0.1, ::1 or localhost"},
			Fix:    "drop plain_http to serve HTTPS (the default) on any address, or keep plain HTTP on loopback behind a TLS reverse proxy"},
		Entry{Code: TLSCert, Name: "tls.cert", Title: "the HTTPS certificate or its local CA cannot be created or loaded",
			Causes: []string{"DATA/tls is not writable", "http.tls.cert or http.tls.key names a missing or unreadable file", "cert and key do not belong together, or are not PEM"},
			Checks: []string{"`ls -l DATA/tls`", "`openssl x509 -in CERT -noout -text`"},
			Fix:    "fix the files or their permissions; delete DATA/tls to have otlink create a new CA and certificate (browsers must then trust the new ca.pem)"},
		Entry{Code: CLIPassword, Name: "cli.password", Title: "no password could be read for the new user",
			Causes: []string{"--password-file names an unreadable or empty file", "stdin is not a terminal and is empty"},
			Checks: []string{"`wc -c FILE`"},
			Fix:    "pass --password-file FILE (first line is the password), pipe it on stdin, or run on a terminal to be asked"},
		Entry{Code: HTTPSetup, Name: "http.setup", Title: "the authentication store could not be prepared at start",
			Causes: []string{"DATA/auth.db or DATA/auth.key is unreadable or has the wrong mode", "a setup token could not be issued"},
			Checks: []string{"`ls -l DATA/auth.db DATA/auth.key` (mode 0600, owned by the user otlink runs as)"},
			Fix:    "fix the permissions; see docs/security.md"},
		Entry{Code: Internal, Name: "internal", Title: "an internal error: otlink met a state it does not expect",
			Causes: []string{"a bug in otlink"},
			Checks: []string{"the log lines before the error"},
			Fix:    "report it with the log and `otlink version`; restarting otlink is safe, stored data is kept"},
	)
}

// Codes of the HTTP API (6000–6099).
const (
	APINotFound     Code = 6001
	APIHistoryOff   Code = 6010
	APIIntegrityErr Code = 6011
	APIBadRequest   Code = 6012
	APIStreamsFull  Code = 6013
)

func init() {
	register(Entry{Code: APIStreamsFull, Name: "api.streams_full", Title: "too many live event streams are open",
		Causes: []string{"many browser tabs or dashboards follow live values", "clients that reconnect without closing their old streams"},
		Checks: []string{"how many pages and dashboards are open on this server"},
		Fix:    "close unused pages; the client retries after the Retry-After delay"})
	register(Entry{Code: APINotFound, Name: "api.not_found", Title: "the API has no such route",
		Causes: []string{"a typo in the path", "a route of a newer otlink"},
		Checks: []string{"/api/v1/tags and /api/v1/devices are the routes of this version"},
		Fix:    "call an existing route"},
		Entry{Code: APIHistoryOff, Name: "api.history_off", Title: "this otlink keeps no history, or no integrity log",
			Causes: []string{"historian.backend is off", "the postgres backend, which has no integrity log yet"},
			Checks: []string{"the historian section of the config"},
			Fix:    "set historian.backend to embedded (the default) and restart"},
		Entry{Code: APIIntegrityErr, Name: "api.integrity", Title: "the integrity log could not be read or a checkpoint signed",
			Causes: []string{"the integrity folder cannot be read", "a disk error", "the request was cancelled"},
			Checks: []string{"the message; `otlink verify --data DIR` on a stopped copy of the data folder"},
			Fix:    "fix the folder's permissions or disk; tampering is reported in the report, not as this error"},
		Entry{Code: APIBadRequest, Name: "api.bad_request", Title: "an API request has an invalid parameter or body",
			Causes: []string{"a malformed JSON body", "a time or pattern that cannot be read"},
			Checks: []string{"the parameter named in the message"},
			Fix:    "correct the request"})
}

package errcode

// Codes of the command line and of otlink's own start-up (9000–9099).
const (
	CLIUsage        Code = 9001
	CLIUnknownCode  Code = 9002
	CLIFileNotFound Code = 9003
	CLIDataDir      Code = 9004
	HTTPListen      Code = 9010
	HTTPNotLoopback Code = 9011
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
		Entry{Code: HTTPListen, Name: "http.listen", Title: "the HTTP server cannot listen on its address",
			Causes: []string{"another program already uses the port", "the address is not one of this machine's"},
			Checks: []string{"`ss -ltnp | grep PORT` shows who holds the port"},
			Fix:    "stop the other program or pass another --listen address"},
		Entry{Code: HTTPNotLoopback, Name: "http.not_loopback", Title: "the HTTP server may only listen on a loopback address",
			Causes: []string{"--listen or http.listen names a non-loopback address, but the API has no authentication yet"},
			Checks: []string{"the address must be 127.0.0.1, ::1 or localhost"},
			Fix:    "listen on loopback and publish through a reverse proxy with authentication until otlink's own authentication is enabled"},
		Entry{Code: Internal, Name: "internal", Title: "an internal error: otlink met a state it does not expect",
			Causes: []string{"a bug in otlink"},
			Checks: []string{"the log lines before the error"},
			Fix:    "report it with the log and `otlink version`; restarting otlink is safe, stored data is kept"},
	)
}

// Codes of the HTTP API (6000–6099).
const (
	APINotFound Code = 6001
)

func init() {
	register(Entry{Code: APINotFound, Name: "api.not_found", Title: "the API has no such route",
		Causes: []string{"a typo in the path", "a route of a newer otlink"},
		Checks: []string{"/api/v1/tags and /api/v1/devices are the routes of this version"},
		Fix:    "call an existing route"})
}

package errcode

// Asset inventory and detection codes, 7400-7499.
const (
	DetectRulesRead      Code = 7400
	DetectRuleInvalid    Code = 7401
	DetectBaselineRead   Code = 7402
	DetectBaselineFormat Code = 7403
	DetectBaselineWrite  Code = 7404
	DetectSlice          Code = 7405
	AlertTransition      Code = 7406
	AlertUnknown         Code = 7407
	AssetExport          Code = 7408
)

func init() {
	register(
		Entry{Code: DetectRulesRead, Name: "detect.rules_read",
			Title:  "detection rules file cannot be read",
			Causes: []string{"the path given to --rules is wrong", "the file is not readable", "the file is not YAML"},
			Checks: []string{"ls -l on the path", "the YAML syntax near the line shown"},
			Fix:    "give the path of a readable YAML rules file (docs/detections.md, Custom rules)"},
		Entry{Code: DetectRuleInvalid, Name: "detect.rule_invalid",
			Title:  "a detection rule is invalid",
			Causes: []string{"a required key (id, title, severity, match) is missing", "an unknown key, protocol, action or severity", "a technique id not of the form T0nnn", "a bad CIDR, address range, comparison or window", "a duplicate rule id"},
			Checks: []string{"the file:line:column in the message", "docs/detections.md, Custom rules"},
			Fix:    "correct the rule at the line shown; every problem of the file is listed at once"},
		Entry{Code: DetectBaselineRead, Name: "detect.baseline_read",
			Title:  "baseline file cannot be read",
			Causes: []string{"the path given to --baseline is wrong", "the file is not readable"},
			Checks: []string{"ls -l on the path"},
			Fix:    "give the path of a baseline written by `otlink analyze --learn FILE... --save-baseline B.json`"},
		Entry{Code: DetectBaselineFormat, Name: "detect.baseline_format",
			Title:  "baseline file is not a valid baseline",
			Causes: []string{"a hand edit broke the JSON", "an address, action or range is malformed", "an unsupported version"},
			Checks: []string{"the offset or entry in the message", "docs/detections.md, Baseline format"},
			Fix:    "correct the entry, or learn the baseline again"},
		Entry{Code: DetectBaselineWrite, Name: "detect.baseline_write",
			Title:  "baseline file cannot be written",
			Causes: []string{"the folder does not exist or is not writable", "the disk is full"},
			Checks: []string{"ls -ld on the folder", "df -h"},
			Fix:    "give --save-baseline a path in a writable folder"},
		Entry{Code: DetectSlice, Name: "detect.slice",
			Title:  "pcap slice of an alert's evidence cannot be written",
			Causes: []string{"the folder given for slices is not writable", "the capture file changed or vanished between the two passes"},
			Checks: []string{"ls -ld on the folder", "the capture file"},
			Fix:    "give a writable folder; the alerts themselves are unaffected"},
		Entry{Code: AlertTransition, Name: "alert.transition",
			Title:  "alert state change not allowed",
			Causes: []string{"acknowledging an alert already resolved", "resolving an alert already resolved"},
			Checks: []string{"the alert's current state"},
			Fix:    "reopen a resolved alert before acknowledging it again; states: new → acknowledged → resolved, resolved → new"},
		Entry{Code: AlertUnknown, Name: "alert.unknown",
			Title:  "no alert with this id",
			Causes: []string{"a mistyped id", "the alert was raised on another node"},
			Checks: []string{"the list of alerts"},
			Fix:    "use the id of an existing alert"},
		Entry{Code: AssetExport, Name: "asset.export",
			Title:  "asset inventory cannot be exported",
			Causes: []string{"the output is not writable", "the disk is full"},
			Checks: []string{"the output path", "df -h"},
			Fix:    "write the export to a writable path"},
	)
}

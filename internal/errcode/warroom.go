package errcode

// War room and alert handling codes, 7600-7649.
const (
	AlertStore       Code = 7600
	SecurityOff      Code = 7601
	SecurityBadInput Code = 7602
)

func init() {
	register(
		Entry{Code: AlertStore, Name: "alert.store",
			Title:  "alert states cannot be read or saved",
			Causes: []string{"DATA/monitor/alerts.json is not writable or the disk is full", "the file was edited by hand and is no longer valid JSON"},
			Checks: []string{"ls -l DATA/monitor/alerts.json and df -h", "the monitor's log lines with code OTL-7600"},
			Fix:    "make the data folder writable; move an unreadable alerts.json aside (the monitor then starts with no stored alerts)"},
		Entry{Code: SecurityOff, Name: "security.off",
			Title:  "network monitoring is not running on this server",
			Causes: []string{"monitor.interfaces is empty in the configuration"},
			Checks: []string{"the monitor: section of the configuration (docs/monitor.md)"},
			Fix:    "list the capture interfaces under monitor.interfaces and restart otlink"},
		Entry{Code: SecurityBadInput, Name: "security.bad_input",
			Title:  "war-room request is not valid",
			Causes: []string{"an alert state other than acknowledged, resolved or new", "a note longer than 2000 characters", "a flow id or address that does not parse"},
			Checks: []string{"the request against docs/warroom.md"},
			Fix:    "send state acknowledged, resolved or new with an optional short note"},
	)
}

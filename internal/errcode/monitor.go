package errcode

// Live network monitoring codes, 7500-7549.
const (
	MonitorConfig   Code = 7500
	MonitorStart    Code = 7501
	MonitorBaseline Code = 7502
	MonitorPublish  Code = 7503
)

func init() {
	register(
		Entry{Code: MonitorConfig, Name: "monitor.config",
			Title:  "monitor section of the configuration is invalid",
			Causes: []string{"an interface without a name or listed twice", "a negative learn period, flow limit or idle time"},
			Checks: []string{"the monitor: section against docs/monitor.md", "`otlink check CONFIG`"},
			Fix:    "give each interface once by name, and zero or positive durations and limits"},
		Entry{Code: MonitorStart, Name: "monitor.start",
			Title:  "live monitoring cannot start on an interface",
			Causes: []string{"the interface does not exist on this host", "otlink lacks CAP_NET_RAW", "the BPF filter does not parse"},
			Checks: []string{"`ip link` for the interface name", "`getpcaps $(pidof otlink)` for cap_net_raw"},
			Fix:    "name an existing interface, and run as root or grant `setcap cap_net_raw+ep otlink`"},
		Entry{Code: MonitorBaseline, Name: "monitor.baseline",
			Title:  "monitor baseline or rules file cannot be used",
			Causes: []string{"the file named in monitor.baseline or monitor.rules is missing or invalid", "the data folder is not writable for the learned baseline"},
			Checks: []string{"`otlink analyze --learn` output and the file path", "permissions of DATA/monitor"},
			Fix:    "fix or remove the file; without a baseline file the monitor learns for monitor.learn"},
		Entry{Code: MonitorPublish, Name: "monitor.publish",
			Title:  "alert could not be published or audited",
			Causes: []string{"the bus is closed or unreachable", "the integrity log refused the entry"},
			Checks: []string{"the bus and historian logs around the time of the alert"},
			Fix:    "restore the bus or the integrity log; the alert stays in the monitor's memory and logs"},
	)
}

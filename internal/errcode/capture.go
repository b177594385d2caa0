package errcode

// Capture, flow and analysis codes, 7000-7049.
const (
	CaptureOpen       Code = 7000
	CaptureFormat     Code = 7001
	CaptureRead       Code = 7002
	CaptureTruncated  Code = 7003
	CaptureLive       Code = 7004
	CapturePermission Code = 7005
	CaptureFilter     Code = 7006
	CaptureLinkType   Code = 7007
	CaptureTshark     Code = 7008
)

func init() {
	register(
		Entry{Code: CaptureOpen, Name: "capture.open",
			Title:  "capture file cannot be opened",
			Causes: []string{"the path is wrong", "the file is not readable by the user running otlink"},
			Checks: []string{"ls -l on the path", "the user otlink runs as"},
			Fix:    "give the path of a readable pcap or pcapng file"},
		Entry{Code: CaptureFormat, Name: "capture.format",
			Title:  "file is not a pcap or pcapng capture",
			Causes: []string{"a different file format (e.g. a compressed .pcap.gz, an ERF or snoop file)", "a damaged file header"},
			Checks: []string{"`file FILE` or `capinfos FILE`: the first four bytes must be a pcap magic (a1b2c3d4, a1b23c4d, either byte order) or the pcapng block type 0a0d0d0a"},
			Fix:    "decompress the file, or convert it with `editcap -F pcapng IN OUT`"},
		Entry{Code: CaptureRead, Name: "capture.read",
			Title:  "capture file is damaged",
			Causes: []string{"a record length larger than the snapshot length", "a corrupt pcapng block"},
			Checks: []string{"`capinfos FILE` and `tshark -r FILE` on the same file"},
			Fix:    "repair it with `pcapfix`, or cut the damaged tail with `editcap -r`; packets read before the damage are still analysed"},
		Entry{Code: CaptureTruncated, Name: "capture.truncated",
			Title:  "capture file ends in the middle of a packet",
			Causes: []string{"the capture was copied while still being written", "the capturing program was killed"},
			Checks: []string{"the file size against the capturing program's output"},
			Fix:    "nothing is needed: every complete packet was analysed; copy the file again after the capture ends to see the rest"},
		Entry{Code: CaptureLive, Name: "capture.live",
			Title:  "live capture on the interface failed",
			Causes: []string{"the interface does not exist or is down", "the kernel has no AF_PACKET support"},
			Checks: []string{"`ip link` for the interface name and state"},
			Fix:    "name an existing interface that is up (the SPAN or TAP port)"},
		Entry{Code: CapturePermission, Name: "capture.permission",
			Title:  "no permission to capture packets",
			Causes: []string{"otlink runs without root and without the CAP_NET_RAW capability"},
			Checks: []string{"`getcap $(which otlink)`", "the service's AmbientCapabilities"},
			Fix:    "run `setcap cap_net_raw,cap_net_admin=eip $(which otlink)` or give the service AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN"},
		Entry{Code: CaptureFilter, Name: "capture.filter",
			Title:  "capture filter cannot be compiled",
			Causes: []string{"a syntax error", "a tcpdump primitive otlink does not compile (it knows host, net, port, portrange, src/dst, tcp, udp, icmp, ip, ip6, vlan, and/or/not, parentheses)"},
			Checks: []string{"the filter against docs/analyze.md (capture filters)"},
			Fix:    "rewrite the filter with the supported primitives"},
		Entry{Code: CaptureLinkType, Name: "capture.link_type",
			Title:  "capture has a link type otlink does not decode",
			Causes: []string{"a capture of 802.11, USB, CAN or another non-IP medium"},
			Checks: []string{"`capinfos FILE` for the encapsulation"},
			Fix:    "capture on an Ethernet interface (or Linux cooked, raw IP, loopback); packets of other link types are counted and skipped"},
		Entry{Code: CaptureTshark, Name: "capture.tshark",
			Title:  "tshark failed on the capture",
			Causes: []string{"tshark is not installed", "tshark cannot read the file"},
			Checks: []string{"`which tshark`", "`tshark -r FILE -c 1`"},
			Fix:    "install tshark (apt-get install tshark) and check the file with it"},
	)
}

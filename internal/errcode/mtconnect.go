package errcode

// MTConnect codes: the client driver, the document parser, otlink's agent
// and its config (2300–2349).
const (
	MTConnectBadEndpoint   Code = 2300
	MTConnectBadAddress    Code = 2301
	MTConnectConnection    Code = 2302
	MTConnectHTTPStatus    Code = 2303
	MTConnectMalformed     Code = 2304
	MTConnectTooLarge      Code = 2305
	MTConnectAgentError    Code = 2306
	MTConnectUnknownItem   Code = 2307
	MTConnectTypeMismatch  Code = 2308
	MTConnectUnavailable   Code = 2309
	MTConnectBadValue      Code = 2310
	MTConnectGap           Code = 2311
	MTConnectRestarted     Code = 2312
	MTConnectStalled       Code = 2313
	MTConnectNotWritable   Code = 2314
	MTConnectBadOption     Code = 2315
	MTConnectConfig        Code = 2316
	MTConnectListen        Code = 2317
	MTConnectNoDevice      Code = 2318
	MTConnectBadMultipart  Code = 2319
	MTConnectAgentOverflow Code = 2320
	MTConnectNotPolled     Code = 2321
)

func init() {
	register(
		Entry{Code: MTConnectBadEndpoint, Name: "mtconnect.bad_endpoint",
			Title:  "mtconnect endpoint cannot be parsed",
			Causes: []string{"a scheme other than http or https", "no host", "a query string or fragment in the endpoint"},
			Checks: []string{"the endpoint against docs/mtconnect.md: http://host:port[/device]"},
			Fix:    "write the agent's base URL, optionally followed by one device name"},
		Entry{Code: MTConnectBadAddress, Name: "mtconnect.bad_address",
			Title:  "mtconnect tag address is not a data item id",
			Causes: []string{"an empty address", "spaces or slashes in the address"},
			Checks: []string{"the agent's /probe document: every DataItem has an id and often a name"},
			Fix:    "write the data item's id (or its name) as the tag's address"},
		Entry{Code: MTConnectConnection, Name: "mtconnect.connection",
			Title:  "mtconnect agent cannot be reached",
			Causes: []string{"the agent is down or listens elsewhere", "a firewall or proxy", "the stream was closed by the agent or the network"},
			Checks: []string{"curl http://host:port/probe from the otlink machine"},
			Fix:    "make the agent reachable; otlink reconnects with back-off and resumes from the next sequence"},
		Entry{Code: MTConnectHTTPStatus, Name: "mtconnect.http_status",
			Title:  "mtconnect agent answered with an HTTP error and no MTConnectError document",
			Causes: []string{"the endpoint is not an MTConnect agent", "a proxy in between refused the request", "a wrong device name in the endpoint path"},
			Checks: []string{"the status in the message; curl the same URL"},
			Fix:    "point the endpoint at the agent's base URL"},
		Entry{Code: MTConnectMalformed, Name: "mtconnect.malformed",
			Title:  "mtconnect document cannot be parsed",
			Causes: []string{"the reply is not XML or is cut off", "the root element is not an MTConnect document", "a sequence or timestamp attribute that is not a number or a time"},
			Checks: []string{"the element and offset in the message; curl the URL and check the document against the MTConnect schema"},
			Fix:    "fix the agent or adapter that produced the document; otlink skips it and reconnects"},
		Entry{Code: MTConnectTooLarge, Name: "mtconnect.too_large",
			Title:  "mtconnect document or stream part exceeds the size limit",
			Causes: []string{"a sample request returned more observations than expected", "a hostile or broken agent"},
			Checks: []string{"the device option max_document (default 16 MiB) and count (default 1000)"},
			Fix:    "lower the device option count, or raise max_document if the agent's documents are legitimately large"},
		Entry{Code: MTConnectAgentError, Name: "mtconnect.agent_error",
			Title:  "mtconnect agent answered with an MTConnectError document",
			Causes: []string{"OUT_OF_RANGE: the requested sequence left the agent's buffer", "NO_DEVICE: the endpoint names a device the agent does not have", "INVALID_REQUEST or UNSUPPORTED: the agent does not serve this request"},
			Checks: []string{"the errorCode and text in the message"},
			Fix:    "correct the endpoint's device name; otlink resumes by itself after OUT_OF_RANGE and counts the gap"},
		Entry{Code: MTConnectUnknownItem, Name: "mtconnect.unknown_data_item",
			Title:  "mtconnect tag address names no data item of the device",
			Causes: []string{"a typo in the id", "the item belongs to another device than the endpoint's", "the agent's device model changed"},
			Checks: []string{"the DataItem ids and names in the agent's /probe"},
			Fix:    "use an id from /probe; the tag stays bad (BadNodeIdUnknown) until then"},
		Entry{Code: MTConnectTypeMismatch, Name: "mtconnect.type_mismatch",
			Title:  "mtconnect data item does not fit the tag's type",
			Causes: []string{"a numeric tag on a text event such as EXECUTION or PROGRAM", "a numeric tag on a DATA_SET or TABLE item"},
			Checks: []string{"the DataItem's category, type and representation in /probe"},
			Fix:    "give text events type string; read conditions as string (level), a number (0 normal, 1 warning, 2 fault) or bool (active)"},
		Entry{Code: MTConnectUnavailable, Name: "mtconnect.unavailable",
			Title:  "mtconnect agent reports the value as UNAVAILABLE",
			Causes: []string{"the adapter between the machine and the agent is disconnected", "the machine is off", "the data item is not supported by the machine"},
			Checks: []string{"the device's AVAILABILITY item and the agent's adapter connection"},
			Fix:    "restore the machine's adapter; the tag is bad until a value arrives"},
		Entry{Code: MTConnectBadValue, Name: "mtconnect.bad_value",
			Title:  "mtconnect value cannot be converted to the tag's type",
			Causes: []string{"text in a numeric item", "a number outside the tag type's range", "a vector value (three numbers) on a scalar tag"},
			Checks: []string{"the observation in the message against the tag's type"},
			Fix:    "change the tag's type (string always works) or fix the adapter"},
		Entry{Code: MTConnectGap, Name: "mtconnect.gap",
			Title:  "mtconnect observations were missed: the agent's buffer moved past the next sequence",
			Causes: []string{"otlink was disconnected longer than the agent's buffer lasts", "the agent's buffer is small for its data rate"},
			Checks: []string{"the missed count in the message; the agent's bufferSize in /current's header"},
			Fix:    "raise the agent's buffer size or shorten outages; the tags carry on from the agent's current values"},
		Entry{Code: MTConnectRestarted, Name: "mtconnect.restarted",
			Title:  "mtconnect agent restarted (new instanceId): observations since the last one may be lost",
			Causes: []string{"the agent process or the machine's controller restarted"},
			Checks: []string{"the agent's log and uptime"},
			Fix:    "nothing: otlink probes again and continues from the agent's current values"},
		Entry{Code: MTConnectStalled, Name: "mtconnect.stalled",
			Title:  "mtconnect stream sent nothing, not even a heartbeat, in time",
			Causes: []string{"the agent hangs", "a proxy buffers the multipart stream", "the network dropped the connection silently"},
			Checks: []string{"curl -N the sample URL with interval and heartbeat and watch the parts arrive"},
			Fix:    "remove the buffering proxy or set the device option mode: poll; otlink reconnects meanwhile"},
		Entry{Code: MTConnectNotWritable, Name: "mtconnect.not_writable",
			Title:  "mtconnect tags cannot be written",
			Causes: []string{"MTConnect is a read-only protocol"},
			Checks: []string{"the tag's writable flag"},
			Fix:    "remove writable from MTConnect tags"},
		Entry{Code: MTConnectBadOption, Name: "mtconnect.bad_option",
			Title:  "mtconnect device option is not valid",
			Causes: []string{"an unknown option name", "a number out of range"},
			Checks: []string{"docs/mtconnect.md lists mode, count, heartbeat and max_document"},
			Fix:    "correct the option"},
		Entry{Code: MTConnectConfig, Name: "mtconnect.config",
			Title:  "the mtconnect agent section of the config is not valid",
			Causes: []string{"a listen address that is not host:port", "a buffer size out of range", "a device that is not a machine of the plant"},
			Checks: []string{"the file and line in the message; docs/mtconnect.md"},
			Fix:    "correct the mtconnect section"},
		Entry{Code: MTConnectListen, Name: "mtconnect.listen",
			Title:  "the mtconnect agent cannot listen on its address",
			Causes: []string{"the port is used by another program (5000 is a common default)", "the address is not one of this machine's"},
			Checks: []string{"`ss -ltnp | grep PORT`"},
			Fix:    "choose another mtconnect.listen address or stop the other program"},
		Entry{Code: MTConnectNoDevice, Name: "mtconnect.no_device",
			Title:  "the mtconnect agent has no device of the endpoint's name",
			Causes: []string{"a typo in the endpoint's device path", "the agent serves the device under another name"},
			Checks: []string{"the Device names in the agent's /probe"},
			Fix:    "write http://host:port/<device name> with a name from /probe, or leave the device out"},
		Entry{Code: MTConnectBadMultipart, Name: "mtconnect.bad_multipart",
			Title:  "mtconnect sample stream is not valid multipart/x-mixed-replace",
			Causes: []string{"no boundary in the Content-Type", "a part header or length that cannot be parsed", "the stream was cut inside a part"},
			Checks: []string{"curl -N the sample URL with interval and look at the framing"},
			Fix:    "fix the agent, or set the device option mode: poll to use long polling instead"},
		Entry{Code: MTConnectAgentOverflow, Name: "mtconnect.agent_overflow",
			Title:  "otlink's mtconnect agent dropped updates for unknown or removed items",
			Causes: []string{"samples for a tag that is not served by the agent reached it"},
			Checks: []string{"the mtconnect.devices list and the tags of those machines"},
			Fix:    "nothing to do unless it repeats; restart otlink after changing the machines served"},
		Entry{Code: MTConnectNotPolled, Name: "mtconnect.not_polled",
			Title:  "mtconnect devices are read by subscription, not by polling",
			Causes: []string{"an acquisition engine that polls a connection which only streams"},
			Checks: []string{"that the engine supports driver.Subscriber"},
			Fix:    "upgrade otlink; this is a programming error"},
	)
}

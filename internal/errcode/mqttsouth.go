package errcode

// MQTT southbound codes (3112–3149): the "mqtt" driver, which ingests
// values from any MQTT broker (JSON payloads through a mapping, or as a
// Sparkplug B host application). 3100–3111 are northbound (north.go).
const (
	MQTTBadAddress      Code = 3112
	MQTTBadOptions      Code = 3113
	MQTTConnectFailed   Code = 3114
	MQTTConnectionLost  Code = 3115
	MQTTBadJSON         Code = 3116
	MQTTNoValue         Code = 3117
	MQTTBadValue        Code = 3118
	MQTTBadTimestamp    Code = 3119
	MQTTSparkplugDecode Code = 3120
	MQTTSeqGap          Code = 3121
	MQTTNodeDead        Code = 3122
	MQTTUnknownAlias    Code = 3123
	MQTTNoPolling       Code = 3124
	MQTTNotBorn         Code = 3125
)

func init() {
	register(
		Entry{
			Code:   MQTTBadAddress,
			Name:   "mqtt.bad_address",
			Title:  "an MQTT tag address is malformed",
			Causes: []string{"a topic with the wildcards + or # (each tag names one exact topic)", "a JSON path that does not start with $ or has an unclosed [", "a Sparkplug address without group and edge node: group/edge[/device]/metric"},
			Checks: []string{"the tag's address against docs/mqtt-south.md"},
			Fix:    "write topic, topic#$.path or topic#$.path#$.time_path; in sparkplug mode group/edge/metric or group/edge/device/metric",
		},
		Entry{
			Code:   MQTTBadOptions,
			Name:   "mqtt.bad_options",
			Title:  "the options of an MQTT device are invalid",
			Causes: []string{"an unknown mode (json or sparkplug)", "a host_id with / + or #", "TLS files that cannot be read", "a password_file that cannot be read"},
			Checks: []string{"the device's options in the config", "docs/mqtt-south.md"},
			Fix:    "correct the device options; every option is listed in docs/mqtt-south.md",
		},
		Entry{
			Code:   MQTTConnectFailed,
			Name:   "mqtt.connect_failed",
			Title:  "the MQTT broker could not be reached, refused the connection or the subscription",
			Causes: []string{"the broker is down or the endpoint is wrong", "wrong credentials or client certificate", "an ACL that forbids the topics"},
			Checks: []string{"`mosquitto_sub -h HOST -p PORT -t TOPIC -v` from this machine", "the broker log"},
			Fix:    "fix the endpoint, credentials or ACL; otlink retries with back-off and the tags are bad until then",
		},
		Entry{
			Code:   MQTTConnectionLost,
			Name:   "mqtt.connection_lost",
			Title:  "the connection to the MQTT broker was lost",
			Causes: []string{"the broker restarted or was stopped", "a network interruption", "another client connected with the same client id"},
			Checks: []string{"the broker log", "that no other client uses the device's client_id"},
			Fix:    "otlink reconnects by itself and subscribes again; give each otlink a distinct client_id",
		},
		Entry{
			Code:   MQTTBadJSON,
			Name:   "mqtt.bad_json",
			Title:  "an MQTT payload is not valid JSON",
			Causes: []string{"the publisher sends plain text or binary on a topic mapped with a JSON path", "a truncated message"},
			Checks: []string{"`mosquitto_sub -t TOPIC -v` to see the payload"},
			Fix:    "map the tag without a JSON path for plain payloads, or fix the publisher; the tag is bad until a valid payload arrives",
		},
		Entry{
			Code:   MQTTNoValue,
			Name:   "mqtt.no_value",
			Title:  "the JSON path of an MQTT tag finds nothing in the payload",
			Causes: []string{"a misspelt key in the path", "the publisher changed its payload format", "an array index past the end"},
			Checks: []string{"`mosquitto_sub -t TOPIC -v` and the tag's path"},
			Fix:    "correct the JSON path in the tag's address",
		},
		Entry{
			Code:   MQTTBadValue,
			Name:   "mqtt.bad_value",
			Title:  "an MQTT value does not fit the tag's data type",
			Causes: []string{"text where a number is expected", "a number out of the range of an integer type", "an object or array where a scalar is expected"},
			Checks: []string{"the tag's type and the payload"},
			Fix:    "give the tag a type that holds the value (float64, string), or point the path at a scalar",
		},
		Entry{
			Code:   MQTTBadTimestamp,
			Name:   "mqtt.bad_timestamp",
			Title:  "the timestamp of an MQTT payload cannot be read",
			Causes: []string{"the timestamp path finds nothing", "a timestamp that is neither a Unix number nor RFC 3339 text"},
			Checks: []string{"the timestamp option or the tag's time path", "the payload"},
			Fix:    "point the time path at Unix seconds, ms, µs or ns, or at RFC 3339 text; the value is kept with the arrival time",
		},
		Entry{
			Code:   MQTTSparkplugDecode,
			Name:   "mqtt.sparkplug_decode",
			Title:  "a Sparkplug B payload from an edge node is malformed",
			Causes: []string{"a truncated message", "a publisher on a spBv1.0 topic that does not speak Sparkplug B", "an unsupported metric datatype"},
			Checks: []string{"the edge node's Sparkplug version (otlink speaks 3.0)"},
			Fix:    "otlink marks the node's tags bad and asks for a rebirth; fix the edge node if it repeats",
		},
		Entry{
			Code:   MQTTSeqGap,
			Name:   "mqtt.seq_gap",
			Title:  "a Sparkplug B sequence number was skipped: messages were lost",
			Causes: []string{"the broker dropped messages (queue limits)", "the edge node reconnected without a new birth"},
			Checks: []string{"the broker's max_queued_messages and max_inflight_messages"},
			Fix:    "otlink asks the edge node for a rebirth (Node Control/Rebirth) and resumes from its new birth",
		},
		Entry{
			Code:   MQTTNodeDead,
			Name:   "mqtt.node_dead",
			Title:  "the Sparkplug B edge node or device is offline (NDEATH or DDEATH)",
			Causes: []string{"the edge node lost its connection to the broker", "the device behind the edge node stopped"},
			Checks: []string{"the edge node and its device"},
			Fix:    "the tags return to good with the node's next birth",
		},
		Entry{
			Code:   MQTTUnknownAlias,
			Name:   "mqtt.unknown_alias",
			Title:  "a Sparkplug B data message uses a metric alias its birth did not declare",
			Causes: []string{"the host missed the birth (it started after the edge node)", "an edge node that changes aliases without a rebirth"},
			Checks: []string{"the edge node's DBIRTH/NBIRTH"},
			Fix:    "otlink asks for a rebirth; if it repeats, the edge node breaks the specification",
		},
		Entry{
			Code:   MQTTNoPolling,
			Name:   "mqtt.no_polling",
			Title:  "an MQTT device cannot be polled: its values are pushed",
			Causes: []string{"an engine that reads instead of subscribing"},
			Checks: []string{"the otlink version"},
			Fix:    "report this as a bug: the engine must subscribe to mqtt devices",
		},
		Entry{
			Code:   MQTTNotBorn,
			Name:   "mqtt.not_born",
			Title:  "a Sparkplug B tag's metric is not in its edge node's birth certificate",
			Causes: []string{"a misspelt group, edge node, device or metric name in the address", "the edge node does not publish that metric"},
			Checks: []string{"the NBIRTH/DBIRTH of the edge node (`mosquitto_sub -t 'spBv1.0/#'`)"},
			Fix:    "correct the tag's address to group/edge[/device]/metric as the birth names it",
		},
	)
}

package errcode

// Northbound codes (3100–3149): publishing plant data to MQTT brokers as
// UNS JSON or as a Sparkplug B edge node, and the store-and-forward queue.
const (
	NorthBadOptions      Code = 3100
	NorthTLS             Code = 3101
	NorthConnectFailed   Code = 3102
	NorthPublishFailed   Code = 3103
	NorthQueueFull       Code = 3104
	NorthQueueIO         Code = 3105
	NorthQueueCorrupt    Code = 3106
	NorthClosed          Code = 3107
	NorthSparkplugDecode Code = 3110
	NorthSparkplugTopic  Code = 3111
)

func init() {
	register(
		Entry{
			Code:   NorthBadOptions,
			Name:   "north.bad_options",
			Title:  "the MQTT northbound settings are incomplete or malformed",
			Causes: []string{"no broker URL or queue folder", "Sparkplug mode without group or edge node id", "a group, edge node or device id with '/', '+' or '#'"},
			Checks: []string{"the `north` section of the config"},
			Fix:    "give a broker URL (tcp://, ssl://), a queue folder, and for Sparkplug a group and edge node id without MQTT wildcard characters",
		},
		Entry{
			Code:   NorthTLS,
			Name:   "north.tls",
			Title:  "the TLS files for the MQTT broker could not be loaded",
			Causes: []string{"a CA, certificate or key file that does not exist or is not PEM", "a certificate and key that do not belong together"},
			Checks: []string{"the paths of ca, cert and key in the config", "`openssl x509 -in FILE -noout -text`"},
			Fix:    "point ca, cert and key at readable PEM files; the key must match the certificate",
		},
		Entry{
			Code:   NorthConnectFailed,
			Name:   "north.connect_failed",
			Title:  "the MQTT broker could not be reached or refused the connection",
			Causes: []string{"the broker is down or the address is wrong", "a firewall", "wrong credentials or a client certificate the broker does not accept", "a server certificate not signed by the configured CA"},
			Checks: []string{"`mosquitto_sub -h HOST -p PORT -t '#'` from this machine", "the broker log"},
			Fix:    "nothing is lost meanwhile: samples are queued on disk and sent when the broker is back; fix the address, credentials or certificates",
		},
		Entry{
			Code:   NorthPublishFailed,
			Name:   "north.publish_failed",
			Title:  "the MQTT broker did not acknowledge a QoS 1 publish",
			Causes: []string{"the connection broke while messages were in flight", "the broker refused the topic (ACL)"},
			Checks: []string{"the broker log for ACL denials", "network stability"},
			Fix:    "the unacknowledged messages are sent again after reconnect; if it repeats, check the broker's ACL for the topics",
		},
		Entry{
			Code:   NorthQueueFull,
			Name:   "north.queue_full",
			Title:  "the store-and-forward queue reached its size limit; the batch was not queued",
			Causes: []string{"the broker has been away longer than the queue can cover", "the broker accepts less than the plant produces"},
			Checks: []string{"how long the broker has been unreachable", "the queue folder size and `max_queue_bytes`"},
			Fix:    "bring the broker back, or raise the queue limit and give the folder more disk",
		},
		Entry{
			Code:   NorthQueueIO,
			Name:   "north.queue_io",
			Title:  "the store-and-forward queue could not read or write its files",
			Causes: []string{"the disk is full or read-only", "wrong permissions on the queue folder"},
			Checks: []string{"`df` and the permissions of the queue folder"},
			Fix:    "free space or fix permissions on the queue folder",
		},
		Entry{
			Code:   NorthQueueCorrupt,
			Name:   "north.queue_corrupt",
			Title:  "a store-and-forward record failed its checksum",
			Causes: []string{"a crash or power loss during a write", "disk corruption"},
			Checks: []string{"the queue folder's files and the system log for disk errors"},
			Fix:    "the rest of the segment is skipped and later segments are sent; the lost records cannot be recovered",
		},
		Entry{
			Code:   NorthClosed,
			Name:   "north.closed",
			Title:  "the MQTT publisher is closed",
			Causes: []string{"a publish after shutdown"},
			Checks: []string{"the order of shutdown"},
			Fix:    "stop producers before closing the publisher",
		},
		Entry{
			Code:   NorthSparkplugDecode,
			Name:   "north.sparkplug_decode",
			Title:  "a Sparkplug B payload is malformed",
			Causes: []string{"a truncated message", "a payload that is not Sparkplug B protobuf", "an unsupported metric datatype"},
			Checks: []string{"the sender's Sparkplug version (otlink speaks 3.0)"},
			Fix:    "make the sender publish Sparkplug B payloads as in the 3.0 specification",
		},
		Entry{
			Code:   NorthSparkplugTopic,
			Name:   "north.sparkplug_topic",
			Title:  "a Sparkplug B topic is malformed or not for this edge node",
			Causes: []string{"a topic not of the form spBv1.0/group/type/node[/device]"},
			Checks: []string{"the host application's command topics"},
			Fix:    "send commands to spBv1.0/<group>/NCMD/<edge node>",
		},
	)
}

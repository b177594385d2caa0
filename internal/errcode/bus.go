package errcode

// Bus codes (3000–3099): the embedded or external NATS server, JetStream,
// the MQTT listener and the samples schema.
const (
	BusBadOptions          Code = 3000
	BusRemoteListen        Code = 3001
	BusPortInUse           Code = 3002
	BusStartFailed         Code = 3003
	BusConnectFailed       Code = 3004
	BusJetStreamDown       Code = 3005
	BusStreamSetup         Code = 3006
	BusClosed              Code = 3007
	BusPublishFailed       Code = 3008
	BusPublishTimeout      Code = 3009
	BusBatchTooLarge       Code = 3010
	BusConsumeFailed       Code = 3011
	BusDecodeVersion       Code = 3020
	BusDecodeTruncated     Code = 3021
	BusDecodeTooLong       Code = 3022
	BusDecodeCorrupt       Code = 3023
	BusHandlerFailed       Code = 3024
	BusDecodeUnknownSchema Code = 3025
)

func init() {
	register(
		Entry{
			Code:   BusBadOptions,
			Name:   "bus.bad_options",
			Title:  "the bus settings are incomplete or malformed",
			Causes: []string{"no data folder for the embedded JetStream store", "a listen address that is not host:port"},
			Checks: []string{"`bus.listen` and `bus.mqtt` in the config", "the `data` folder setting"},
			Fix:    "give listen addresses as host:port (port 0 picks a free one) and set a data folder",
		},
		Entry{
			Code:   BusRemoteListen,
			Name:   "bus.remote_listen_refused",
			Title:  "the embedded bus was asked to listen on a non-loopback address",
			Causes: []string{"`bus.listen` or `bus.mqtt` set to 0.0.0.0, an empty host or a LAN address", "the embedded server has no authentication yet, so anyone on the network could read and write plant data"},
			Checks: []string{"the host part of `bus.listen` and `bus.mqtt`"},
			Fix:    "listen on 127.0.0.1 (the default), or allow remote listening explicitly once the network is protected",
		},
		Entry{
			Code:   BusPortInUse,
			Name:   "bus.port_in_use",
			Title:  "the embedded NATS or MQTT port is already taken",
			Causes: []string{"another otlink, nats-server or MQTT broker (mosquitto) runs on this machine", "a previous otlink has not finished shutting down"},
			Checks: []string{"`ss -ltnp` shows which process holds the port"},
			Fix:    "stop the other process, or set `bus.listen` / `bus.mqtt` to a free port (or `bus.mqtt: off`)",
		},
		Entry{
			Code:   BusStartFailed,
			Name:   "bus.start_failed",
			Title:  "the embedded NATS server did not start",
			Causes: []string{"the data folder is not writable", "the JetStream store is damaged", "the machine is very slow or out of memory"},
			Checks: []string{"the log lines just before this error", "permissions and free space of the data folder"},
			Fix:    "fix the cause shown in the message; a damaged store can be moved aside (its unconsumed samples are then lost)",
		},
		Entry{
			Code:   BusConnectFailed,
			Name:   "bus.connect_failed",
			Title:  "cannot connect to the external NATS server",
			Causes: []string{"wrong `bus.url`", "the NATS server is down or unreachable", "credentials or TLS rejected"},
			Checks: []string{"`nats server check connection -s URL` from this machine", "firewall between this machine and the server"},
			Fix:    "correct `bus.url` or start the server; leave `bus.url` empty to use the embedded server",
		},
		Entry{
			Code:   BusJetStreamDown,
			Name:   "bus.jetstream_unavailable",
			Title:  "JetStream is not available on the bus",
			Causes: []string{"the external NATS server runs without JetStream (`-js`)", "the account has no JetStream limits", "the embedded JetStream could not open its store"},
			Checks: []string{"`nats account info` shows JetStream", "the server log"},
			Fix:    "enable JetStream on the server and for the account otlink uses",
		},
		Entry{
			Code:   BusStreamSetup,
			Name:   "bus.stream_setup_failed",
			Title:  "cannot create or update the samples stream",
			Causes: []string{"an existing OTL_SAMPLES stream has settings that cannot be changed in place (storage type, replicas)", "JetStream storage limits reached"},
			Checks: []string{"`nats stream info OTL_SAMPLES`"},
			Fix:    "align the stream settings, or delete the stream (its unconsumed samples are lost) and restart",
		},
		Entry{
			Code:   BusClosed,
			Name:   "bus.closed",
			Title:  "the bus is closed",
			Causes: []string{"a part kept publishing or consuming during shutdown"},
			Checks: []string{"the shutdown order: producers stop before the bus closes"},
			Fix:    "stop producers and consumers before closing the bus",
		},
		Entry{
			Code:   BusPublishFailed,
			Name:   "bus.publish_failed",
			Title:  "a batch was not stored by JetStream",
			Causes: []string{"the stream is full and refuses new messages", "the connection to NATS was lost", "no stream listens on the samples subject"},
			Checks: []string{"`nats stream info OTL_SAMPLES` (bytes, limits)", "the bus failure counters on /metrics"},
			Fix:    "free space or raise the stream limits; check the NATS connection",
		},
		Entry{
			Code:   BusPublishTimeout,
			Name:   "bus.publish_timeout",
			Title:  "JetStream did not acknowledge published batches in time",
			Causes: []string{"the disk under the JetStream store is too slow", "sync_interval: always on a slow disk", "the NATS server is overloaded or unreachable"},
			Checks: []string{"disk latency (`iostat -x 1`)", "pending acks in the bus statistics"},
			Fix:    "use a faster disk, a longer sync interval, or fewer and larger batches",
		},
		Entry{
			Code:   BusBatchTooLarge,
			Name:   "bus.batch_too_large",
			Title:  "an encoded batch is larger than the bus's maximum message size",
			Causes: []string{"one poll class of one device holds very many tags or very long strings"},
			Checks: []string{"the number of tags in the device's poll class"},
			Fix:    "split the tags over several poll classes, or raise max_payload on the external NATS server",
		},
		Entry{
			Code:   BusConsumeFailed,
			Name:   "bus.consume_failed",
			Title:  "cannot read samples from the bus",
			Causes: []string{"the durable consumer cannot be created (name invalid, limits)", "the connection to NATS was lost"},
			Checks: []string{"`nats consumer info OTL_SAMPLES NAME`"},
			Fix:    "check the NATS connection; the consumer resumes from its last acknowledged batch",
		},
		Entry{
			Code:   BusDecodeVersion,
			Name:   "bus.decode_bad_version",
			Title:  "a samples batch has a schema version this otlink does not know",
			Causes: []string{"a newer otlink published to the same bus", "a foreign program published on otl.v1.samples.*"},
			Checks: []string{"the otlink versions of all nodes on the bus"},
			Fix:    "upgrade this node, or stop the foreign publisher",
		},
		Entry{
			Code:   BusDecodeTruncated,
			Name:   "bus.decode_truncated",
			Title:  "a samples batch ends before its last field",
			Causes: []string{"a foreign or broken publisher", "a damaged store"},
			Checks: []string{"the subject and Nats-Msg-Id of the message in the log"},
			Fix:    "the batch is skipped; find and fix the publisher",
		},
		Entry{
			Code:   BusDecodeTooLong,
			Name:   "bus.decode_too_long",
			Title:  "a samples batch declares a length beyond the schema's limits",
			Causes: []string{"a foreign or broken publisher", "a damaged store"},
			Checks: []string{"the subject and Nats-Msg-Id of the message in the log"},
			Fix:    "the batch is skipped; find and fix the publisher",
		},
		Entry{
			Code:   BusDecodeCorrupt,
			Name:   "bus.decode_corrupt",
			Title:  "a samples batch holds an impossible value",
			Causes: []string{"an unknown value type, a tag prefix longer than the previous tag, trailing bytes"},
			Checks: []string{"the subject and Nats-Msg-Id of the message in the log"},
			Fix:    "the batch is skipped; find and fix the publisher",
		},
		Entry{
			Code:   BusHandlerFailed,
			Name:   "bus.handler_failed",
			Title:  "a consumer of samples failed to handle a batch; it is retried",
			Causes: []string{"the historian could not write (disk full, store closed)"},
			Checks: []string{"the error after this code"},
			Fix:    "fix the consumer's cause; the batch stays on the bus and is retried in order",
		},
		Entry{
			Code:   BusDecodeUnknownSchema,
			Name:   "bus.unknown_schema",
			Title:  "a message on the samples subject has a foreign Otl-Schema header",
			Causes: []string{"a newer otlink, or another program, published on otl.v1.samples.*"},
			Checks: []string{"the Otl-Schema header of the message"},
			Fix:    "the message is skipped; upgrade this node or stop the foreign publisher",
		},
	)
}

// Package mqtt is otlink's passive MQTT dissector (TCP 1883, any port
// whose first client bytes are an MQTT CONNECT, and TCP 8883 recognised as
// TLS without decoding): fixed header, remaining length, several packets
// per segment and packets split across segments (bounded), MQTT 3.1,
// 3.1.1 and 5 (properties skipped within bounds), CONNECT identity (client
// id, will, clean session, keep alive; the presence of a username or a
// password, never the password), CONNACK and reason codes, PUBLISH topics,
// QoS and payload size, Sparkplug B topics, SUBSCRIBE and UNSUBSCRIBE
// topic filters.
//
// It registers itself with internal/dissect in init(). It only reads bytes
// handed to it by the capture pipeline: it never sends a packet, never
// blocks, and keeps a bounded number of bytes per flow whatever the input.
// It does not decide what is an attack; it labels PDUs with an Action and
// leaves detection to internal/analyze.
package mqtt

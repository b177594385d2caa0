// Package mosquitto runs Debian's mosquitto broker as a child process on a
// loopback port, for interoperability tests and `otlink bench mqtt`.
//
// It owns only the broker process and its config file; it must not be
// used by a running otlink to serve anything.
package mosquitto

// Package mqtt is the "mqtt" southbound driver: it ingests values that
// other systems publish to an MQTT 3.1.1 broker.
//
// Two modes, chosen by the device option mode:
//
//   - json (default): each tag names one exact topic, optionally a JSON
//     path to its value and one to its timestamp (address.go, jsonpath.go);
//     plain payloads ("21.5", "true", text) work without a path.
//   - sparkplug: otlink is a Sparkplug B 3.0 host application (host.go):
//     it publishes its STATE, tracks the births, aliases and sequence
//     numbers of the edge nodes its tags name, asks for a rebirth on a gap,
//     and turns NDEATH/DDEATH into bad quality.
//
// The connection is a driver.Subscriber: the engine never polls it. A
// malformed payload is reported as a bad value with a code and counted,
// never a crash. The package owns the MQTT session and the decoding of
// payloads; it must not scale, filter or store values (the engine does),
// and it never publishes data, only the host's STATE and rebirth commands.
package mqtt

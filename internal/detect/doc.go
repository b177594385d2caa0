// Package detect owns otlink's network detections for ICS: indicator
// detections that need no learning (PLC stop/start/mode change, program
// upload/download, firmware, restart, time set, identity and diagnostic
// scans, address sweeps, port scans, malformed PDUs, exception storms),
// the baseline (an allow-list of client, server, protocol, function and
// address ranges with per-connection rates, learned from traffic and saved
// as editable JSON) and its detections (new asset, new connection, new
// function, new writer, address outside the learned ranges, unusual rate),
// custom YAML rules, the MITRE ATT&CK for ICS mapping, evidence with
// packet references and pcap slices, and the alert state machine (new,
// acknowledged, resolved, with notes).
//
// An Engine and a Learner are analyze observers. This package must not
// send packets, publish on the bus or write the audit log: it produces
// Alert values and leaves their transport to the caller.
package detect

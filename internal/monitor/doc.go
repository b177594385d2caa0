// Package monitor owns live, passive ICS network monitoring inside
// `otlink run`: one capture goroutine per configured interface feeding a
// flow table with the dissectors, the asset inventory and the detection
// engine; the learning period and the switch to baseline detections; the
// periodic evaluation of windowed detections; and the transport of each
// new alert to the bus (subject otl.v1.alerts) and to the integrity log;
// the alert states (new, acknowledged, resolved, with notes) persisted in
// the data folder; and the bounded read model the war room shows (rates
// per protocol, retained flows with their recent PDUs, the connection map
// by zone, talkers), whose types are in the leaf package view.
//
// It must never send a packet on a captured interface, and it does not
// implement detections or dissectors itself (internal/detect and
// internal/dissect do).
package monitor

// Package sim is otlink's virtual plant: simulated machines (CNC mills,
// lathes, presses) whose signals follow a state machine, each served as a
// Modbus TCP device on its own loopback port, with misbehaviour on demand
// and per-device request accounting.
//
// It owns the machine model (Machine), the fixed register map (Map), the
// Modbus TCP server (Device), the plant (Plant, Start, DemoConfig), the
// simulator's config file (LoadConfig) and the `otlink sim` entry point
// (Run). The wire format is internal/proto/modbus; this package must not
// grow a second Modbus codec.
//
// It must not import the acquisition engine, drivers or the bus: the
// simulator is the independent peer those are tested against. It listens
// only where it is told (127.0.0.1 by default) and never dials out.
//
// Determinism: a machine's values depend only on its seed and on the
// sequence of steps and writes applied to it. Devices advance their
// machine lazily, when a request arrives, to the step the device's Clock
// says it is; tests use a ManualClock, normal runs real time.
package sim

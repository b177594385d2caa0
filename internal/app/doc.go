// Package app wires otlink's parts from a config: the bus, the acquisition
// engine and the HTTP server. It starts them in order, stops them in the
// reverse order without losing a batch, and reloads a new config without
// a gap for devices whose config did not change.
//
// It owns no behaviour of its own beyond that order.
package app

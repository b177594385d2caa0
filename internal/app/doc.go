// Package app wires otlink's parts from a config: the bus, the acquisition
// engine, the historian (store, integrity log, checkpoint signer, ingest
// from the bus) and the HTTP server. It starts them in order, stops them in
// the reverse order without losing a batch (the historian drains the bus
// before its store and log close), and reloads a new config without a gap
// for devices whose config did not change. OpenHistory opens a data
// folder's historian for the CLI as well.
//
// It owns no behaviour of its own beyond that order and the glue between
// the store and the integrity log (re-reading a chunk to verify it).
package app

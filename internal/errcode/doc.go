// Package errcode is otlink's catalog of stable error codes.
//
// Every error a user can meet carries a code "OTL-nnnn". Codes are declared
// in the catalog files of this package (one file per area: config.go,
// modbus.go, ...), never renumbered and never reused; a golden file guards
// that. docs/errors.md is generated from the catalog, and `otlink errors
// CODE` prints an entry.
//
// Ranges: 1xxx configuration, 2xxx drivers (21xx Modbus), 3xxx bus,
// 4xxx acquisition, 5xxx historian and integrity, 6xxx web, API and auth,
// 7xxx network monitoring, 8xxx simulator and benchmarks, 9xxx CLI and
// internal.
package errcode

//go:generate go run ./gen ../../docs/errors.md

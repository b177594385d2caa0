// Package historian is the contract of otlink's historian and the queries
// that every backend shares.
//
// A backend stores samples and reads them back raw (the embedded store in
// historian/store, PostgreSQL in historian/pg). Everything computed from
// raw samples — value at a time, Part 13 aggregates, plot decimation,
// export — is written once, on top of the Reader interface, so that both
// backends answer alike (a backend may later push a query down where it
// is faster, and must then answer the same).
package historian

// Package coalesce plans block reads: it groups the points of one address
// space into the fewest reads a device accepts.
//
// It owns the planning algorithm only: a pure function of addresses and
// limits. It must do no I/O, keep no state, and know nothing of drivers,
// devices or schedules.
package coalesce

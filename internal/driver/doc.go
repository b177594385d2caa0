// Package driver is the contract between the acquisition engine and the
// protocol drivers, and the registry of drivers by name.
//
// A driver resolves tag addresses to Points (pure, no I/O), says how large a
// read may be in each address space, and opens connections. The engine does
// the rest: coalescing Points into block reads, scheduling them within the
// device's request budget, and decoding values out of the returned blocks.
// Drivers register themselves in init(), as database/sql drivers do.
package driver

// Package asset owns the passive asset inventory: every host seen on the
// wire with its MAC address and vendor (from an embedded OUI table), IP
// addresses, role inferred from behaviour (controller, HMI, engineering
// workstation, historian), protocols as client and server, identity fields
// merged from PDUs (vendor, product, firmware, serial...), first and last
// seen, packets and bytes; merged with the devices of an otlink config and
// exported as CSV or JSON.
//
// An Inventory is an analyze.Observer fed by the capture pipeline. It must
// not send a packet, resolve a name or read files: its only input is flows
// and PDUs, so a capture analysed twice gives the same inventory.
package asset

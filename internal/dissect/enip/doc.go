// Package enip is the passive dissector of EtherNet/IP (TCP and UDP 44818,
// UDP 2222 implicit I/O) and the CIP messages it carries: encapsulation
// commands, common packet format items, CIP services with their class,
// instance and attribute paths, Multiple Service Packet and Unconnected
// Send unwrapped, and device identity from ListIdentity and the Identity
// object. It must never send, block, panic or grow without bound.
package enip

// Package flow owns the path from a captured frame to dissector input:
// a zero-allocation decoder (Ethernet, 802.1Q/QinQ, Linux cooked v1/v2,
// raw IP, loopback, IPv4, IPv6, TCP, UDP, and 802.2 LLC for
// BACnet/Ethernet), IPv4 and IPv6 fragment reassembly with bounded
// memory (first fragment wins on overlap; inconsistent overlaps are
// counted as evasion), a flow table keyed by 5-tuple
// and VLAN with idle and close timeouts and a bounded size (LRU
// eviction), TCP reassembly per direction with bounded out-of-order
// buffering, client/server orientation and the choice of dissector per
// flow (by port, else by a strict probe of the first payload). One
// capture can be split over several tables, one per goroutine, by address
// pair (Config.Shards): their counters and PDUs sum to one table's.
//
// It must not interpret industrial protocols (dissectors do), keep PDUs
// (handlers do) or read packets itself (capture does). Its clock is the
// capture time of the packets, never the wall clock, so a file analysed
// twice gives the same flows.
package flow

// Package capture owns packet sources: pcap and pcapng files (detected by
// their magic, microsecond and nanosecond pcap, pcapng with several
// interfaces and link types) and live AF_PACKET capture without cgo, and
// the capture filter (a subset of tcpdump's syntax compiled by otlink to
// classic BPF, run by the kernel on a live socket and by a BPF VM on
// files).
//
// It hands out raw frames with their capture info and nothing more: it
// must not decode protocols (internal/flow does) and never sends a packet.
package capture

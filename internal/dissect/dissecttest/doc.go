// Package dissecttest holds the helpers the dissector tests share: a naive
// pcap/pcapng replayer that feeds captured TCP and UDP payloads to a
// dissect.Dissector's parsers, a tshark runner that counts the same fields,
// and the comparison of the two counts.
//
// It is for tests only: production code must not import it (it imports
// package testing and runs tshark). It owns no protocol knowledge; the
// dissector packages say which fields and captures to compare.
package dissecttest

// Package s7comm is the passive dissector of Siemens S7 communication over
// ISO-on-TCP (TPKT, RFC 1006, and COTP, ISO 8073, on TCP port 102): S7comm
// (protocol id 0x32) jobs, acknowledgements and userdata, with items, block
// transfer, PI services, SZL reads and the identity they reveal; S7comm-plus
// (protocol id 0x72) is recognised and labelled, not decoded. It must never
// send, block, panic or grow without bound.
package s7comm

// Package uatrust is otlink's OPC UA certificate store: the application
// instance certificate otlink presents (as client and as server) and the
// list of peer certificates it trusts.
//
// It owns the folder DATA/pki:
//
//	pki/own/cert.der       otlink's application instance certificate (created on first use)
//	pki/own/key.pem        its RSA key (mode 0600)
//	pki/trusted/*.der      peer certificates (or CAs) trusted by a person
//	pki/rejected/*.der     certificates seen and refused, waiting for a decision
//	pki/issuers/*.der      intermediate CAs used to build chains, not trusted by themselves
//
// Certificate files are named after their thumbprint (SHA-1 of the DER, in
// lower-case hex, as OPC UA defines it), so a person can match a file with
// what a server shows. The OPC UA client driver and server call Check with
// the peer's certificate before they use a secure channel; gopcua checks no
// certificates itself, so this package is the whole trust decision.
//
// It must not talk to the network, and it never trusts a certificate by
// itself: only Trust (otlink certs trust) moves one to trusted.
package uatrust

// Package tlsca owns otlink's own transport certificates: a local
// certificate authority (ECDSA P-256, 10 years) and a server certificate it
// signs (1 year, renewed when fewer than 30 days are left or when a name is
// missing), kept in DATA/tls with private keys of mode 0600, and the TLS
// settings the server uses (TLS 1.2 or newer, 1.3 preferred by Go).
//
// It must not listen or serve: the web package does. It never sends a key
// anywhere; users import ca.pem into their browser or pass it to curl
// --cacert.
package tlsca

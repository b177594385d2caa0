// Package integrity owns the historian's tamper-evident log: an RFC 6962
// Merkle log of entries (sealed chunks, retention purges, amendments, audit
// events, witnessed checkpoints) stored append-only in a directory, ed25519
// signed checkpoints in the C2SP tlog-checkpoint format, verification of a
// store against its data and against checkpoints exported earlier, and
// self-contained evidence bundles that a third party checks offline.
//
// It takes leaf data and metadata from its callers; it must not know how
// chunks are compressed or stored, must not import the historian, and must
// never panic or hang on damaged files: damage is reported, not fatal.
// The byte formats are documented in docs/formats/integrity.md.
package integrity

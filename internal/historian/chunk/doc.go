// Package chunk is the compressed chunk format of the historian: the
// samples of one tag over a stretch of time, column by column, and the
// canonical encoding of samples that integrity proofs hash.
//
// It owns the byte layout (documented in docs/formats/chunk.md, checked by
// a test that decodes the example printed there), the Encoder that builds
// a chunk, the Reader and Iter that decode one without allocating per
// sample, and Canonical / LeafHash (RFC 6962 leaf hashes of a canonical,
// compression-independent encoding, so that re-compaction keeps proofs
// valid).
//
// Columns: source times as delta or delta-of-delta in a power-of-ten unit
// (1 bit per sample on a regular series), server times as the difference
// to source, qualities as runs (with the OTL code of bad samples), values
// by type: floats as XOR (Gorilla) or, when every value of the chunk is a
// short decimal, as scaled integers; integers as delta or delta-of-delta;
// bools as runs; strings as a dictionary and runs of indexes.
//
// One chunk has one value type. When a tag's type changes, Append fails
// with errcode.HistChunkType and the caller seals the chunk and starts a
// new one; samples without a value (bad quality) fit any chunk.
//
// It must not do I/O, know about Pebble keys, WALs or sealing policy: the
// store decides when a chunk is full and where it lives. Decoding treats
// its input as untrusted: a CRC32C over header and payload catches bit
// flips (integrity against tampering is the Merkle log's job), and damaged
// input gives a coded error, never a panic or an unbounded allocation.
package chunk

package chunk

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"

	"github.com/otlink/otlink/internal/model"
)

// CanonicalVersion is the first byte of a canonical encoding.
const CanonicalVersion = 1

// Canonical returns the canonical encoding of tag's samples: a fixed,
// byte-exact form independent of the chunk compression, so that a chunk
// re-compressed later still hashes to the same Merkle leaf. The layout is
// in docs/formats/chunk.md; all integers are big-endian:
//
//	u8 version (1) | u32 tag length | tag bytes | u32 sample count |
//	per sample: i64 source | i64 server | u32 quality | u16 code |
//	            u8 value type | value
//
// where value is nothing for no value (type 0), one byte 0/1 for bool,
// 8 bytes of int64/uint64 bits for integers, 8 bytes of the float64 bits
// for float32 and float64, and u32 length + bytes for a string.
func Canonical(tag string, samples []model.Sample) []byte {
	n := 1 + 4 + len(tag) + 4
	for i := range samples {
		n += 23 + canonicalValueLen(samples[i].Value)
	}
	b := make([]byte, 0, n)
	b = canonicalHead(b, tag, len(samples))
	for i := range samples {
		b = appendCanonicalSample(b, &samples[i])
	}
	return b
}

func canonicalValueLen(v model.Value) int {
	switch {
	case !v.IsValid():
		return 0
	case v.T == model.Bool:
		return 1
	case v.T == model.String:
		return 4 + len(v.Str())
	}
	return 8
}

func canonicalHead(b []byte, tag string, n int) []byte {
	b = append(b, CanonicalVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tag)))
	b = append(b, tag...)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendCanonicalSample(b []byte, s *model.Sample) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(s.Source))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Server))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Quality))
	b = binary.BigEndian.AppendUint16(b, s.Code)
	v := s.Value
	b = append(b, byte(v.T))
	switch {
	case !v.IsValid():
	case v.T == model.Bool:
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case v.T == model.String:
		str := v.Str()
		b = binary.BigEndian.AppendUint32(b, uint32(len(str)))
		b = append(b, str...)
	case v.T.IsFloat():
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float()))
	case v.T.IsSigned():
		b = binary.BigEndian.AppendUint64(b, uint64(v.Int()))
	default:
		b = binary.BigEndian.AppendUint64(b, v.Uint())
	}
	return b
}

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || Canonical(tag,
// samples)) without building the encoding in memory.
func LeafHash(tag string, samples []model.Sample) [32]byte {
	h := NewLeafHasher(tag, len(samples))
	for i := range samples {
		h.Add(samples[i])
	}
	return h.Sum()
}

// LeafHasher computes a leaf hash sample by sample, for a writer that
// knows the count up front (a sealed chunk) and streams the samples.
type LeafHasher struct {
	h    hash.Hash
	buf  []byte
	want int
	got  int
}

// NewLeafHasher starts the leaf hash of count samples of tag.
func NewLeafHasher(tag string, count int) *LeafHasher {
	l := &LeafHasher{h: sha256.New(), want: count, buf: make([]byte, 0, 256)}
	l.h.Write([]byte{0x00})
	l.h.Write(canonicalHead(l.buf[:0], tag, count))
	return l
}

// Add hashes the next sample.
func (l *LeafHasher) Add(s model.Sample) {
	l.got++
	l.buf = appendCanonicalSample(l.buf[:0], &s)
	l.h.Write(l.buf)
}

// Sum returns the leaf hash. It panics when the number of samples added
// differs from the count given to NewLeafHasher, since the hash would then
// describe samples that do not exist.
func (l *LeafHasher) Sum() [32]byte {
	if l.got != l.want {
		panic("chunk: LeafHasher got a different number of samples than announced")
	}
	var out [32]byte
	l.h.Sum(out[:0])
	return out
}

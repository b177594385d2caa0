package chunk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/otlink/otlink/internal/errcode"
)

// Version is the chunk format version this package writes. It reads
// this one and version 1, which lacks the Rice and grid int column orders
// and the ordered float modes.
const Version = 2

// HeaderSize is the size of the fixed chunk header in bytes.
const HeaderSize = 36

// MaxSamples is the most samples one chunk may hold. The historian seals
// chunks far earlier (a few thousand samples); the limit bounds what a
// decoder will accept from untrusted bytes.
const MaxSamples = 1 << 16

// MaxTagLen bounds the tag path stored in a chunk.
const MaxTagLen = 1024

var magic = [4]byte{'O', 'T', 'L', 'C'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Float column modes (first byte of a float value column).
const (
	floatXOR64      = 0
	floatXOR32      = 1
	floatDecimal    = 2 // value = n / 10^d
	floatDecimalMul = 3 // value = n × 10^-d
	floatOrd32      = 4 // v2: int column of the float32 patterns, ordered
	floatOrd64      = 5 // v2: int column of the float64 patterns, ordered
)

// ord32 maps a float32 bit pattern to an int whose order is the float's
// (negative values flip their magnitude bits): the deltas of a slowly
// moving signal are then small. It is its own inverse.
func ord32(b uint32) int64 {
	x := int32(b)
	if x < 0 {
		x ^= math.MaxInt32
	}
	return int64(x)
}

// ord64 is ord32 for float64 patterns; also its own inverse.
func ord64(b uint64) int64 {
	x := int64(b)
	if x < 0 {
		x ^= math.MaxInt64
	}
	return x
}

// maxDecimalDigits is the most decimal places the decimal float mode tries.
const maxDecimalDigits = 9

type header struct {
	typ        uint8
	count      uint32
	minT, maxT int64
	payloadLen uint32
	crc        uint32
}

func putHeader(b []byte, h header) {
	copy(b[0:4], magic[:])
	b[4] = Version
	b[5] = h.typ
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint32(b[8:], h.count)
	binary.LittleEndian.PutUint64(b[12:], uint64(h.minT))
	binary.LittleEndian.PutUint64(b[20:], uint64(h.maxT))
	binary.LittleEndian.PutUint32(b[28:], h.payloadLen)
}

// checksum is the CRC32C over the header bytes before the CRC field and the payload.
func checksum(chunk []byte) uint32 {
	c := crc32.Update(0, castagnoli, chunk[:32])
	return crc32.Update(c, castagnoli, chunk[HeaderSize:])
}

func errCorrupt(format string, args ...any) error {
	return errcode.New(errcode.HistChunkCorrupt, "corrupt chunk: "+format, args...)
}

func errTrunc(what string) error {
	return errcode.New(errcode.HistChunkTruncated, "truncated chunk: %s", what)
}

// uvarint reads a uvarint from b at *i, reporting truncation or overflow.
func uvarint(b []byte, i *int, what string) (uint64, error) {
	if *i > len(b) {
		return 0, errTrunc(what)
	}
	v, n := binary.Uvarint(b[*i:])
	if n == 0 {
		return 0, errTrunc(what)
	}
	if n < 0 {
		return 0, errCorrupt("%s: varint overflows", what)
	}
	*i += n
	return v, nil
}

// column reads a uvarint-length-prefixed column.
func column(b []byte, i *int, what string) ([]byte, error) {
	n, err := uvarint(b, i, what+" length")
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)-*i) {
		return nil, errTrunc(fmt.Sprintf("%s: %d bytes declared, %d left", what, n, len(b)-*i))
	}
	c := b[*i : *i+int(n)]
	*i += int(n)
	return c, nil
}

package dnp3

import (
	"math/rand/v2"
	"testing"
)

// crcBytewise is the plain table-driven CRC that crc's slicing by four
// must reproduce.
func crcBytewise(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c>>8 ^ crcTable[byte(c)^x]
	}
	return ^c
}

func TestCRCSlicing(t *testing.T) {
	// CRC-16/DNP check value over "123456789".
	if c := crc([]byte("123456789")); c != 0xEA82 {
		t.Fatalf("check value %#04x, want 0xea82", c)
	}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 64)
	for i := range 5000 {
		n := i % len(b)
		for j := range n {
			b[j] = byte(r.Uint32())
		}
		if got, want := crc(b[:n]), crcBytewise(b[:n]); got != want {
			t.Fatalf("len %d: %#04x, bytewise %#04x", n, got, want)
		}
	}
}

package iec104

import (
	"encoding/hex"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// seeds are APDUs as they appear in the public captures: STARTDT act,
// an interrogation, single and double commands, a float measurement.
var seeds = [][]byte{
	mustHex("680407000000"),
	mustHex("680e0000000064010600010000000014"),
	mustHex("680e020002002d0106000700030201016804010004006804830000006804010004"),
	mustHex("681702000200" + "0d8203000700640000000000c03f00000000c000"),
	mustHex("0808080808080808680618181818181818181818"),
}

func checkBounded(t *testing.T, p interface{}) {
	q := p.(*parser)
	for d := range q.buf {
		if len(q.buf[d]) >= maxAPDU {
			t.Fatalf("buffer of %d bytes", len(q.buf[d]))
		}
	}
}

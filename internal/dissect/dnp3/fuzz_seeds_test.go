package dnp3

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

// seeds are real frames from the public captures (cisa example and
// zeek_dnp3_*): a response spanning two link frames, an operate, a read.
var seeds = [][]byte{
	mustHex("056418c405006400feddcdc8040c011701024201f40100000000680c000000ffff"),
	mustHex("05641a4464000500c0aec0c88100000c011701024201f4010000513c0000000000ffff"),
	mustHex("05640bc4050064006f36d6c9013c0106a835"),
	mustHex("05640bc4050064006f36d6c9013c0106a83505641a4464000500c0aec0c88100000c011701024201f4010000513c0000000000ffff"),
}

func checkBounded(t *testing.T, p interface{}) {
	q := p.(*parser)
	for d := range q.buf {
		if len(q.buf[d]) >= maxFrame {
			t.Fatalf("buffer of %d bytes", len(q.buf[d]))
		}
		if q.frags[d] == nil {
			continue
		}
		for _, f := range q.frags[d] {
			if len(f.data) > maxFragment {
				t.Fatalf("fragment of %d bytes", len(f.data))
			}
		}
	}
}

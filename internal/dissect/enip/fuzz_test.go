package enip

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// FuzzParser feeds arbitrary bytes in arbitrary chunks to both directions
// (and, for bit 1 of the control byte, as UDP datagrams): the parser must
// not panic, must label its PDUs, and must keep its buffers bounded.
// The seeds (testdata/fuzz/FuzzParser) are real payloads from captures,
// prefixed with the control byte.
func FuzzParser(f *testing.F) {
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		dissecttest.FuzzControl(t, Dissector{}, data, func(pr dissect.Parser) { checkBounded(t, pr) })
	})
}

func checkBounded(t *testing.T, pr dissect.Parser) {
	p := pr.(*parser)
	for _, s := range p.dir {
		if len(s.buf) > encapHeader+maxEncap {
			t.Fatalf("buffered %d bytes", len(s.buf))
		}
	}
	if len(p.vals) > maxVals {
		t.Fatalf("%d values", len(p.vals))
	}
}

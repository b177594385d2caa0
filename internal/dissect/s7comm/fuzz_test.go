package s7comm

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
		if len(s.buf) > maxTPKT || len(s.cotp) > maxCOTP {
			t.Fatalf("buffered %d + %d bytes", len(s.buf), len(s.cotp))
		}
	}
	if len(p.vals) > maxVals || len(p.objs) > maxObjs+1 {
		t.Fatalf("%d values, %d objects", len(p.vals), len(p.objs))
	}
}

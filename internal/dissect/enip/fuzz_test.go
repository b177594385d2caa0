package enip

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// FuzzParser feeds arbitrary bytes in arbitrary chunks to both directions
// (and, for bit 1 of the control byte, as UDP datagrams): the parser must
// not panic, must label its PDUs, and must keep its buffers bounded.
// The seeds (testdata/fuzz/FuzzParser) are real payloads from captures,
// prefixed with the control byte.
func FuzzParser(f *testing.F) {
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ctl, b := data[0], data[1:]
		chunk := int(ctl>>3) + 1
		pr := Dissector{}.NewParser()
		tr := dissect.TCP
		if ctl&2 != 0 {
			tr = dissect.UDP
		}
		Dissector{}.Probe(tr, b)
		emit := func(p *dissect.PDU) {
			if p.Proto != Proto {
				t.Fatalf("PDU labelled %q", p.Proto)
			}
		}
		for i := 0; len(b) > 0 && i < 1<<16; i++ {
			n := min(chunk, len(b))
			if tr == dissect.UDP {
				n = len(b)
			}
			dir := dissect.ToServer
			if ctl&1 != 0 && i%2 == 1 {
				dir = dissect.ToClient
			}
			pr.Data(dissect.Meta{Dir: dir, T: tr, Frame: uint64(i + 1)}, b[:n], emit)
			b = b[n:]
			if ctl&4 != 0 && i == 2 {
				pr.Gap(dir)
			}
			checkBounded(t, pr)
		}
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

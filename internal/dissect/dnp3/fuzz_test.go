package dnp3

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// FuzzParser feeds arbitrary bytes, cut into segments at fuzzed places and
// interleaved with gaps, to one parser: it must not panic, must emit only
// well-labelled PDUs with bounded objects, and must keep bounded buffers.
func FuzzParser(f *testing.F) {
	for _, s := range seeds {
		f.Add(s, uint8(7), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8, udp bool) {
		p := Dissector{}.NewParser()
		tr := dissect.TCP
		if udp {
			tr = dissect.UDP
		}
		emit := func(q *dissect.PDU) {
			if q.Proto != Proto || len(q.Objects) > 256 {
				t.Fatalf("bad pdu %+v", q)
			}
		}
		step := int(cut%64) + 1
		for i := 0; len(b) > 0; i++ {
			k := min(step, len(b))
			dir := dissect.Dir(i & 1 & int(cut>>7))
			p.Data(dissect.Meta{T: tr, Dir: dir}, b[:k], emit)
			if cut&0x40 != 0 && i%5 == 4 {
				p.Gap(dir)
			}
			b = b[k:]
		}
		checkBounded(t, p)
	})
}

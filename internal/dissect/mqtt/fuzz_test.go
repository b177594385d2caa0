package mqtt

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// FuzzParser feeds arbitrary bytes to one flow, cut into segments by the
// first byte and sent in both directions with a gap in the middle: no
// panic, bounded buffers, and every PDU labelled with the protocol.
func FuzzParser(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dissecttest.FuzzSegments(t, Dissector{}, data, func(pr dissect.Parser, seg int) {
			p := pr.(*parser)
			for dir := range p.d {
				if n := len(p.d[dir].buf); n > maxBuffered+seg {
					t.Fatalf("buffer %d bytes", n)
				}
			}
		})
	})
}

// TestWriteSeeds writes the fuzz seed corpus from the client and server
// streams of the shared captures (OTLINK_WRITE_SEEDS=1); the corpus is
// committed, so this runs only when it is to be rebuilt.
func TestWriteSeeds(t *testing.T) { dissecttest.WriteSeeds(t, Proto, Dissector{}) }

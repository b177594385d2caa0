package bacnet

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// FuzzParser feeds arbitrary bytes, cut into segments at fuzzed places and
// interleaved with gaps, to one parser: it must not panic, must emit only
// well-labelled PDUs with bounded objects, and must keep bounded buffers.
func FuzzParser(f *testing.F) {
	for _, s := range seeds {
		f.Add(s, uint8(7), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8, udp bool) {
		dissecttest.FuzzCut(t, Dissector{}, b, cut, udp, func(p dissect.Parser) { checkBounded(t, p) })
	})
}

package store

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/model"
)

// TestDocumentedWALExample decodes the example of docs/formats/store.md.
func TestDocumentedWALExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/formats/store.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```hex\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no hex example in store.md")
	}
	data, err := hex.DecodeString(strings.Join(strings.Fields(block), ""))
	if err != nil {
		t.Fatal(err)
	}
	seg := append([]byte("OTLW\x01\x00\x00\x00"), data...)
	var recs []walRecord
	end, err := readSegment(seg, func(_ int64, p []byte) error {
		r, err := decodeRecord(p)
		recs = append(recs, r)
		return err
	})
	if err != nil || end != int64(len(seg)) || len(recs) != 2 {
		t.Fatalf("decoded %d records to %d of %d: %v", len(recs), end, len(seg), err)
	}
	if r := recs[0]; r.kind != recSeries || r.id != 1 || r.typ != model.Float64 || r.tag != "a/t" {
		t.Fatalf("series record %+v", r)
	}
	r := recs[1]
	want := model.Sample{Value: model.FloatValue(model.Float64, 1.5), Source: 1_700_000_000_000_000_000, Server: 1_700_000_000_002_000_000}
	if r.kind != recSamples || len(r.samples) != 1 || r.ids[0] != 1 || r.samples[0] != want {
		t.Fatalf("samples record %+v", r)
	}
	// A flipped bit anywhere ends the segment there, never panics.
	for i := 8; i < len(seg); i++ {
		bad := append([]byte(nil), seg...)
		bad[i] ^= 0x10
		if end, _ := readSegment(bad, func(int64, []byte) error { return nil }); end == int64(len(seg)) {
			t.Fatalf("bit flip at %d not detected", i)
		}
	}
}

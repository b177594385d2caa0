package store

import (
	"testing"

	"github.com/otlink/otlink/internal/historian/chunk"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// TestLedger checks that every sealed chunk and amending segment becomes a
// leaf of the integrity log whose hash is that of the samples Raw returns.
func TestLedger(t *testing.T) {
	l, err := integrity.Open(t.TempDir(), integrity.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := open(t, t.TempDir(), Options{MaxSamples: 10, Ledger: IntegrityLedger(l), Logger: quiet})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	for i := range 30 {
		if err := s.Write(ctx, []model.Sample{fsample("x", base+int64(i)*sec, float64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range l.Size() {
		e, err := l.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		wantKind := integrity.KindChunk
		ss := collect(t, s, "x", e.From.UnixNano(), e.To.UnixNano()+1)
		if e.Kind == integrity.KindChunk && int(e.Count) != len(ss) || e.Kind != wantKind || e.Seq != i+1 {
			t.Fatalf("entry %d %+v: %d samples in range", i, e, len(ss))
		}
		if e.Kind == integrity.KindChunk && integrity.Hash(chunk.LeafHash("x", ss)) != e.DataHash {
			t.Fatalf("entry %d hash differs from the samples' leaf hash", i)
		}
	}
	if l.Size() != 3 {
		t.Fatalf("ledger has %d leaves, want 3 chunks", l.Size())
	}
	// Late: older than everything sealed.
	if err := s.Write(ctx, []model.Sample{fsample("x", base-5*sec, 7), fsample("x", base+500*int64(1e6), 8)}); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 4 {
		t.Fatalf("ledger has %d leaves, want 3 chunks and 1 amend", l.Size())
	}
	e, err := l.Entry(3)
	if err != nil || e.Kind != integrity.KindAmend || e.Count != 2 || e.Seq != 4 {
		t.Fatalf("amend entry %+v %v", e, err)
	}
}

package store

import (
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// TestTamperedChunkIsReported flips bytes of a sealed chunk as stored in
// pebble, as someone with write access to the data folder could, and
// checks that verification names the chunk's tag and range as tampered,
// while the untouched chunks still verify. Each byte position of the
// chunk is tried (header, columns, CRC).
func TestTamperedChunkIsReported(t *testing.T) {
	l, err := integrity.Open(t.TempDir(), integrity.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := open(t, t.TempDir(), Options{MaxSamples: 10, Ledger: IntegrityLedger(l), Logger: quiet})
	defer s.Close()
	base := int64(1_700_000_000) * sec
	for i := range 30 {
		if err := s.Write(ctx, []model.Sample{fsample("x", base+int64(i)*sec, float64(i)*1.5)}); err != nil {
			t.Fatal(err)
		}
	}
	victim, err := l.Entry(1) // the second of three sealed chunks
	if err != nil || victim.Kind != integrity.KindChunk {
		t.Fatalf("entry 1: %+v %v", victim, err)
	}
	key, err := parseKeyString(victim.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, c, err := s.db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), v...)
	c.Close()
	verify := func() *integrity.Report {
		rep, err := integrity.Verify(ctx, l, integrity.VerifyOptions{Recompute: s.RecomputeLeaf})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(); !rep.OK {
		t.Fatalf("clean store does not verify: %+v", rep)
	}
	for i := range orig {
		bad := append([]byte(nil), orig...)
		bad[i] ^= 0x20
		if err := s.db.Set(key, bad, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		rep := verify()
		if rep.OK {
			t.Fatalf("byte %d of the chunk flipped: verify still OK", i)
		}
		found := false
		for _, r := range rep.Ranges {
			switch {
			case r.Status == integrity.StatusTampered && r.Tag == "x" && r.From.Equal(victim.From) && r.To.Equal(victim.To):
				found = true
			case r.Status == integrity.StatusTampered:
				t.Fatalf("byte %d: another range reported tampered: %+v", i, r)
			}
		}
		if !found {
			t.Fatalf("byte %d: the tampered chunk is not reported: %+v", i, rep.Ranges)
		}
	}
	if err := s.db.Set(key, orig, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if rep := verify(); !rep.OK {
		t.Fatalf("restored chunk does not verify: %+v", rep)
	}
}

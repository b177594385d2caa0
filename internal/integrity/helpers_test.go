package integrity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// store is a fake chunk store: canonical samples by chunk key, what the
// historian's Recompute and fetch callbacks would read.
type store struct {
	mu   sync.Mutex
	data map[string][]byte
}

func newStore() *store { return &store{data: map[string][]byte{}} }

func (s *store) put(key string, b []byte) Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = b
	return HashData(b)
}

func (s *store) recompute(_ context.Context, e Entry) (Hash, error) {
	b, err := s.fetch(nil, e)
	if err != nil {
		return Hash{}, err
	}
	return HashData(b), nil
}

func (s *store) fetch(_ context.Context, e Entry) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[e.Key]
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", e.Key, ErrNoData)
	}
	return append([]byte(nil), b...), nil
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0.Add(24 * time.Hour) }

// chunk builds a chunk entry of tag number seq covering one minute, with
// deterministic samples stored in s.
func chunk(s *store, tag string, seq uint64) Entry {
	from := t0.Add(time.Duration(seq) * time.Minute)
	key := fmt.Sprintf("%s#%d", tag, seq)
	samples := []byte(fmt.Sprintf("samples of %s seq %d: 1.0 2.0 3.0", tag, seq))
	return Entry{Kind: KindChunk, Tag: tag, Seq: seq, From: from, To: from.Add(time.Minute - time.Second),
		Count: 60, DataHash: s.put(key, samples), Key: key}
}

var testTags = []string{"plant/line1/press/temp", "plant/line1/press/speed", "plant/line2/oven/temp"}

// buildLog writes chunks of the test tags (seq 1..perTag, interleaved), an
// audit entry, and signs a checkpoint.
func buildLog(t testing.TB, dir string, s *store, perTag int) *Log {
	t.Helper()
	l, err := Open(dir, Options{Now: fixedNow, Sync: SyncOnCheckpoint})
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for seq := 1; seq <= perTag; seq++ {
		for _, tag := range testTags {
			es = append(es, chunk(s, tag, uint64(seq)))
		}
	}
	es = append(es, Entry{Kind: KindAudit, Actor: "alice", Action: "login", Object: "web"})
	if _, err := l.Append(context.Background(), es...); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SignCheckpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func mustVerifyDir(t testing.TB, dir string, opts VerifyOptions) *Report {
	t.Helper()
	r, err := VerifyDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func failText(t testing.TB, r *Report) string {
	t.Helper()
	var b stringsBuilder
	r.WriteText(&b)
	return b.String()
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }

// copyDir copies a flat log directory.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := e.Info()
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// hasProblemAt reports whether r has a failing range covering leaf i.
func hasProblemAt(r *Report, i uint64) bool {
	for _, g := range r.Ranges {
		if g.Status.failing() && g.FirstIndex <= i && i <= g.LastIndex {
			return true
		}
	}
	return false
}

package integrity

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenRecords writes fuzzed bytes as the leaf records and entry data of
// an otherwise valid log and opens and verifies it: never a panic or a hang.
func FuzzOpenRecords(f *testing.F) {
	tmpl := f.TempDir()
	buildLog(f, tmpl, newStore(), 2).Close()
	idx, _ := os.ReadFile(filepath.Join(tmpl, leavesFile))
	dat, _ := os.ReadFile(filepath.Join(tmpl, entriesFile))
	f.Add(idx[headerSize:], dat[headerSize:], false)
	f.Add(idx[headerSize:len(idx)-5], dat[headerSize:], true)
	f.Add(bytes.Repeat([]byte{0xff}, 3*recordSize), []byte{1, 1, 0}, false)
	f.Fuzz(func(t *testing.T, records, entries []byte, writable bool) {
		if len(records) > 1<<16 || len(entries) > 1<<16 {
			return
		}
		// os.MkdirTemp, not t.TempDir: the fuzzing engine stalls on the
		// per-exec cleanup of t.TempDir.
		dir, err := os.MkdirTemp("", "otlfuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		copyDir(t, tmpl, dir)
		os.WriteFile(filepath.Join(dir, leavesFile), append([]byte(magicLeaves), records...), 0o644)
		os.WriteFile(filepath.Join(dir, entriesFile), append([]byte(magicEntries), entries...), 0o644)
		if writable {
			if l, err := Open(dir, Options{Sync: SyncOnCheckpoint}); err == nil {
				l.Append(ctx, Entry{Kind: KindAudit, Actor: "fuzz", Action: "a", Object: "o"})
				l.Close()
			}
		}
		r, err := VerifyDir(ctx, dir, VerifyOptions{})
		if err == nil && r.OK && !bytes.Equal(records, idx[headerSize:]) && !writable && len(records) >= len(idx)-headerSize {
			// Whole records differing from the signed ones must not verify.
			t.Fatalf("altered records verified")
		}
	})
}

// FuzzParseCheckpoint feeds arbitrary notes to the checkpoint parser.
func FuzzParseCheckpoint(f *testing.F) {
	l := buildLog(f, f.TempDir(), newStore(), 1)
	c, _ := l.LatestCheckpoint()
	vkey := l.VerifierKey()
	l.Close()
	f.Add(c.Note)
	f.Add([]byte("o\n1\nAAAA\n\n\u2014 o abcd\n"))
	f.Add([]byte(c.Body()))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseCheckpoint(b, vkey)
		if err == nil && (got.Origin == "" || len(got.Note) != len(b)) {
			t.Fatalf("accepted a checkpoint without origin: %q", b)
		}
		parseBody(string(b))
		DecodeEntry(b)
	})
}

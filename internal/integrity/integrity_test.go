package integrity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

var ctx = context.Background()

func TestEntryEncodingRoundTrip(t *testing.T) {
	s := newStore()
	es := []Entry{
		chunk(s, "a/b", 7),
		{Kind: KindPurge, Time: t0, Tag: "plant/*/temp", From: t0, To: t0.Add(time.Hour), Policy: "raw-90d", Actor: "retention", Count: 2, Leaves: []uint64{1, 5}},
		{Kind: KindAmend, Time: t0, Tag: "a/b", Seq: 0, From: t0, To: t0, Count: 1, DataHash: HashData([]byte("x")), Key: "k", Leaves: []uint64{3}},
		{Kind: KindAudit, Time: t0, Actor: "bob", Action: "write", Object: "plc1/setpoint", Detail: HashData(nil)},
		{Kind: KindWitness, Time: t0, Origin: "other/log", Size: 9, Root: HashData([]byte("r")), NoteHash: HashData([]byte("n"))},
	}
	es[0].Time = t0
	for _, e := range es {
		b, err := e.Encode()
		if err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
		got, err := DecodeEntry(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
		b2, _ := got.Encode()
		if !bytes.Equal(b, b2) || got.Tag != e.Tag || !got.From.Equal(e.From) || got.Count != e.Count || len(got.Leaves) != len(e.Leaves) {
			t.Errorf("%s: round trip changed the entry: %+v", e.Kind, got)
		}
		if _, err := DecodeEntry(append(b, 0)); errcode.Of(err) != errcode.IntegrityBadEntry {
			t.Errorf("%s: trailing byte accepted: %v", e.Kind, err)
		}
		for n := range len(b) {
			if _, err := DecodeEntry(b[:n]); err == nil {
				t.Fatalf("%s: truncated to %d bytes accepted", e.Kind, n)
			}
		}
	}
	bad := []Entry{
		{Kind: 9, Time: t0},
		{Kind: KindChunk, Time: t0, From: t0, To: t0},                                   // no tag
		{Kind: KindChunk, Time: t0, Tag: "x", From: t0.Add(time.Second), To: t0},        // ends before start
		{Kind: KindPurge, Time: t0, Tag: "x", From: t0, To: t0, Leaves: []uint64{3, 3}}, // not increasing
		{Kind: KindAudit, Time: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)},            // out of range
		{Kind: KindAudit, Time: t0, Actor: strings.Repeat("x", 70000)},                  // too long
	}
	for i, e := range bad {
		if _, err := e.Encode(); errcode.Of(err) != errcode.IntegrityBadEntry {
			t.Errorf("bad entry %d encoded: %v", i, err)
		}
	}
}

// reference root of leaf hashes by the library's compact range alone.
func referenceRoot(leaves []Hash) Hash {
	r := rangeFactory.NewEmptyRange(0)
	for _, h := range leaves {
		r.Append(append([]byte(nil), h[:]...), nil)
	}
	root, _ := r.GetRootHash(nil)
	if root == nil {
		return Hash(hasher.EmptyRoot())
	}
	return Hash(root)
}

func TestProofsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l, err := Open(dir, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var leaves []Hash
	// Batches of varying size so node writes straddle batch edges.
	for batch := 1; len(leaves) < 70; batch++ {
		var es []Entry
		for range batch {
			es = append(es, chunk(s, "t", uint64(len(leaves)+len(es)+1)))
		}
		first, err := l.Append(ctx, es...)
		if err != nil || first != uint64(len(leaves)) {
			t.Fatalf("append: first %d, err %v", first, err)
		}
		for i := range es {
			h, _ := l.LeafHash(first + uint64(i))
			leaves = append(leaves, h)
		}
		if batch == 4 { // reopen in the middle
			l.Close()
			if l, err = Open(dir, Options{Now: fixedNow}); err != nil {
				t.Fatal(err)
			}
			if l.Size() != uint64(len(leaves)) {
				t.Fatalf("reopened size %d, want %d", l.Size(), len(leaves))
			}
		}
	}
	defer l.Close()
	if l.Root() != referenceRoot(leaves) {
		t.Fatal("root differs from the reference")
	}
	n := uint64(len(leaves))
	for size := uint64(1); size <= n; size++ {
		root, err := l.RootAt(size)
		if err != nil || root != referenceRoot(leaves[:size]) {
			t.Fatalf("RootAt(%d) wrong: %v", size, err)
		}
		for i := uint64(0); i < size; i += 3 {
			p, err := l.InclusionProof(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(hasher, i, size, leaves[i][:], p, root[:]); err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, size, err)
			}
		}
		for from := uint64(1); from <= size; from += 5 {
			p, err := l.ConsistencyProof(from, size)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := l.RootAt(from)
			if err := proof.VerifyConsistency(hasher, from, size, p, old[:], root[:]); err != nil {
				t.Fatalf("consistency %d..%d: %v", from, size, err)
			}
		}
	}
	if _, err := l.InclusionProof(n, n+1); errcode.Of(err) != errcode.IntegrityOutOfRange {
		t.Errorf("proof beyond the log: %v", err)
	}
	e, err := l.Entry(5)
	if err != nil || e.Seq != 6 || e.Tag != "t" {
		t.Errorf("Entry(5) = %+v, %v", e, err)
	}
	if _, err := l.Append(ctx, Entry{Kind: KindPurge, Tag: "t", From: t0, To: t0, Leaves: []uint64{n}}); errcode.Of(err) != errcode.IntegrityBadEntry {
		t.Errorf("purge of a future leaf accepted: %v", err)
	}
	if l.Size() != n {
		t.Error("a failed batch changed the size")
	}
	if l.Root() != referenceRoot(leaves) {
		t.Error("a failed batch changed the root")
	}
}

func TestCleanLogVerifies(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 10)
	var cp bytes.Buffer
	if err := l.ExportCheckpoint(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	// A purge of the first two chunks of one tag, whose data then goes.
	e0, _ := l.Entry(0)
	e3, _ := l.Entry(3)
	delete(s.data, e0.Key)
	delete(s.data, e3.Key)
	if _, err := l.Append(ctx, Entry{Kind: KindPurge, Tag: e0.Tag, From: e0.From, To: e3.To, Policy: "raw-90d", Actor: "retention", Count: 2, Leaves: []uint64{0, 3}}); err != nil {
		t.Fatal(err)
	}
	// An amendment superseding chunk 1 (another tag).
	e1, _ := l.Entry(1)
	am := chunk(s, e1.Tag, 0)
	am.Kind, am.Key, am.Leaves = KindAmend, "amend-1", []uint64{1}
	am.DataHash = s.put("amend-1", []byte("backfilled"))
	delete(s.data, e1.Key)
	if _, err := l.Append(ctx, am); err != nil {
		t.Fatal(err)
	}
	vkey := l.VerifierKey()
	l.Close()
	r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute, Verifiers: []string{vkey},
		Checkpoints: []CheckpointSource{{Name: "exported.cp", Note: cp.Bytes()}}})
	if !r.OK || r.ExitCode() != 0 {
		t.Fatalf("clean log failed:\n%s", failText(t, r))
	}
	if r.Summary.Purges != 1 || r.Summary.Amended != 1 || r.Summary.Verified != len(testTags) {
		t.Errorf("summary %+v:\n%s", r.Summary, failText(t, r))
	}
	for _, g := range r.Ranges {
		if g.Status == StatusPurge && (g.Policy != "raw-90d" || g.Actor != "retention") {
			t.Errorf("purge range %+v", g)
		}
	}
	js, err := json.Marshal(r)
	if err != nil || !bytes.Contains(js, []byte(`"status":"purge"`)) {
		t.Errorf("json: %s %v", js, err)
	}
	// Filtering by tag narrows the ranges.
	r = mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute, TagGlob: "plant/line2/*"})
	for _, g := range r.Ranges {
		if g.Tag != testTags[2] {
			t.Errorf("tag filter let %q through", g.Tag)
		}
	}
}

func TestTornTailRepaired(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 5)
	n, root := l.Size(), l.Root()
	l.Close()
	// A crash mid-batch: two whole records written whose entry data never
	// reached the disk, a partial third record, stray entry bytes, and a
	// stray node hash.
	idx, _ := os.OpenFile(filepath.Join(dir, leavesFile), os.O_WRONLY|os.O_APPEND, 0)
	rec := make([]byte, recordSize)
	putRecord(rec, n, HashData([]byte("x")), 1<<20, 10)
	idx.Write(rec)
	putRecord(rec, n+1, HashData([]byte("y")), 1<<20+10, 10)
	idx.Write(rec)
	idx.Write(rec[:17])
	idx.Close()
	dat, _ := os.OpenFile(filepath.Join(dir, entriesFile), os.O_WRONLY|os.O_APPEND, 0)
	dat.Write([]byte("half an entry"))
	dat.Close()
	nodes, _ := os.OpenFile(filepath.Join(dir, nodesFile(1)), os.O_WRONLY|os.O_APPEND, 0)
	nodes.Write(make([]byte, 40))
	nodes.Close()
	// Verification before repair ignores the torn tail and passes.
	if r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute}); !r.OK || r.Repair == nil || r.Repair.Records != 2 {
		t.Fatalf("read-only verify of a torn log:\n%s", failText(t, r))
	}
	l, err := Open(dir, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != n || l.Root() != root {
		t.Fatalf("after repair size %d root %s, want %d %s", l.Size(), l.Root(), n, root)
	}
	rp := l.Repaired()
	if rp.Records != 2 || rp.RecordBytes != 17 || rp.EntryBytes != 13 || rp.NodeRecords == 0 {
		t.Errorf("repair %+v", rp)
	}
	// Appends continue and everything verifies.
	if _, err := l.Append(ctx, chunk(s, testTags[0], 6)); err != nil {
		t.Fatal(err)
	}
	l.SignCheckpoint(ctx)
	l.Close()
	if r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute}); !r.OK || r.Repair != nil {
		t.Fatalf("after repair:\n%s", failText(t, r))
	}
	// A missing node file is rebuilt on open.
	os.Remove(filepath.Join(dir, nodesFile(2)))
	if r := mustVerifyDir(t, dir, VerifyOptions{}); r.OK {
		t.Error("missing node file not reported")
	}
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r := mustVerifyDir(t, dir, VerifyOptions{}); !r.OK {
		t.Fatalf("rebuilt nodes:\n%s", failText(t, r))
	}
}

func TestTruncationBelowCheckpointRefused(t *testing.T) {
	dir := t.TempDir()
	l := buildLog(t, dir, newStore(), 3)
	n := l.Size()
	l.Close()
	os.Truncate(filepath.Join(dir, entriesFile), 20)
	if _, err := Open(dir, Options{}); errcode.Of(err) != errcode.IntegrityCorrupt {
		t.Fatalf("open after losing signed entries: %v", err)
	}
	r := mustVerifyDir(t, dir, VerifyOptions{})
	if r.OK || !hasProblemAt(r, n-1) {
		t.Fatalf("verify after losing signed entries:\n%s", failText(t, r))
	}
}

// TestFlipAnyByte flips every byte of the leaf records, the entry data and
// the node files after their headers; each must fail verification at the
// right index.
func TestFlipAnyByte(t *testing.T) {
	src := t.TempDir()
	s := newStore()
	l := buildLog(t, src, s, 3) // 10 leaves
	n := l.Size()
	recOf := map[int64]uint64{} // entries.dat offset -> leaf
	for i := uint64(0); i < n; i++ {
		r, _, _ := l.readRecord(i)
		for o := int64(r.off); o < int64(r.off)+int64(r.n); o++ {
			recOf[o] = i
		}
	}
	l.Close()
	files := []string{leavesFile, entriesFile, nodesFile(1), nodesFile(2), nodesFile(3)}
	dir := filepath.Join(t.TempDir(), "x")
	copyDir(t, src, dir)
	for _, name := range files {
		p := filepath.Join(dir, name)
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := headerSize; off < len(orig); off++ {
			b := bytes.Clone(orig)
			b[off] ^= 0x20
			os.WriteFile(p, b, 0o644)
			r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute})
			var want uint64
			switch name {
			case leavesFile:
				want = uint64(off-headerSize) / recordSize
			case entriesFile:
				want = recOf[int64(off)]
			default:
				lv := uint(name[6]-'0')*10 + uint(name[7]-'0')
				want = uint64(off-headerSize) / nodeSize << lv
			}
			if r.OK || !hasProblemAt(r, want) {
				t.Fatalf("%s byte %d flipped: want a failure at leaf %d:\n%s", name, off, want, failText(t, r))
			}
		}
		os.WriteFile(p, orig, 0o644)
	}
}

func TestDeleteAndReorderEntries(t *testing.T) {
	src := t.TempDir()
	s := newStore()
	buildLog(t, src, s, 4).Close()
	idxPath := func(d string) string { return filepath.Join(d, leavesFile) }
	orig, _ := os.ReadFile(idxPath(src))
	rec := func(b []byte, i int) []byte { return b[headerSize+i*recordSize : headerSize+(i+1)*recordSize] }

	t.Run("delete", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, src, dir)
		b := append(bytes.Clone(orig[:headerSize+4*recordSize]), orig[headerSize+5*recordSize:]...)
		os.WriteFile(idxPath(dir), b, 0o644)
		r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute})
		if r.OK || !hasProblemAt(r, 4) {
			t.Fatalf("deleted entry 4 not found:\n%s", failText(t, r))
		}
	})
	t.Run("reorder", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, src, dir)
		b := bytes.Clone(orig)
		r2, r5 := bytes.Clone(rec(b, 2)), bytes.Clone(rec(b, 5))
		copy(rec(b, 2), r5)
		copy(rec(b, 5), r2)
		os.WriteFile(idxPath(dir), b, 0o644)
		r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute})
		if r.OK || !hasProblemAt(r, 2) || !hasProblemAt(r, 5) {
			t.Fatalf("swapped entries 2 and 5 not found:\n%s", failText(t, r))
		}
	})
}

func TestChunkDataTampered(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 4)
	target, _ := l.Entry(7) // a chunk of testTags[1]
	l.Close()
	s.data[target.Key][3] ^= 1
	r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute})
	if r.OK {
		t.Fatal("flipped chunk data verified")
	}
	var hit *Range
	for i, g := range r.Ranges {
		if g.Status == StatusTampered {
			if hit != nil {
				t.Errorf("more than one tampered range:\n%s", failText(t, r))
			}
			hit = &r.Ranges[i]
		}
	}
	if hit == nil || hit.Tag != target.Tag || !hit.From.Equal(target.From) || !hit.To.Equal(target.To) ||
		hit.FailIndex == nil || *hit.FailIndex != 7 || *hit.Expected != target.DataHash || hit.Found == nil || *hit.Found == target.DataHash {
		t.Fatalf("wrong tampered range %+v:\n%s", hit, failText(t, r))
	}
	// The verified ranges of that tag stop before and resume after it.
	var before, after bool
	for _, g := range r.Ranges {
		if g.Tag == target.Tag && g.Status == StatusVerified {
			before = before || g.LastIndex < 7
			after = after || g.FirstIndex > 7
		}
	}
	if !before || !after {
		t.Errorf("verified ranges around the tampered chunk missing:\n%s", failText(t, r))
	}
	var txt bytes.Buffer
	r.WriteText(&txt)
	if !strings.Contains(txt.String(), "TAMPERED") || !strings.Contains(txt.String(), target.Tag) {
		t.Errorf("text report:\n%s", txt.String())
	}
}

func TestMissingChunkAndSequenceGap(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 3)
	l.Append(ctx, chunk(s, testTags[0], 6)) // seq 4 and 5 never logged
	l.SignCheckpoint(ctx)
	gone, _ := l.Entry(4)
	l.Close()
	delete(s.data, gone.Key)
	r := mustVerifyDir(t, dir, VerifyOptions{Recompute: s.recompute})
	if r.OK || r.Summary.Gaps != 2 {
		t.Fatalf("want two gaps:\n%s", failText(t, r))
	}
	for _, g := range r.Ranges {
		if g.Status != StatusGap {
			continue
		}
		switch g.Tag {
		case gone.Tag:
			if !g.From.Equal(gone.From) || *g.FailIndex != 4 {
				t.Errorf("missing chunk gap %+v", g)
			}
		case testTags[0]:
			if !strings.Contains(g.Reason, "4..5") {
				t.Errorf("sequence gap %+v", g)
			}
		default:
			t.Errorf("gap on %s", g.Tag)
		}
	}
}

// TestRewriteWithNewTree: an intruder rewrites a chunk, rebuilds the whole
// log and signs it, with a new key or with the stolen one. Checkpoints
// exported earlier catch it and bracket the rewritten range.
func TestRewriteWithNewTree(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 4) // 13 leaves
	var early, late bytes.Buffer
	// An early checkpoint at 6 leaves: rebuild it from a log of the prefix.
	c6root, _ := l.RootAt(6)
	_ = c6root
	l.ExportCheckpoint(ctx, &late)
	vkey := l.VerifierKey()
	var orig []Entry
	for i := uint64(0); i < l.Size(); i++ {
		e, _ := l.Entry(i)
		orig = append(orig, e)
	}
	l.Close()
	// Export an early checkpoint from a copy truncated to 6 leaves signed
	// with the same key: what a witness would have received then.
	{
		early6 := t.TempDir()
		copyDir(t, dir, early6)
		os.Remove(filepath.Join(early6, checkpointsFile))
		os.Truncate(filepath.Join(early6, leavesFile), headerSize+6*recordSize)
		le, err := Open(early6, Options{})
		if err != nil || le.Size() != 6 {
			t.Fatalf("early copy: %v", err)
		}
		le.ExportCheckpoint(ctx, &early)
		le.Close()
	}
	exported := []CheckpointSource{{Name: "early.cp", Note: early.Bytes()}, {Name: "late.cp", Note: late.Bytes()}}

	rewrite := func(t *testing.T, keepKey bool) string {
		forged := t.TempDir()
		if keepKey {
			for _, f := range []string{keyFile, pubFile} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				os.WriteFile(filepath.Join(forged, f), b, 0o600)
			}
		}
		fs := newStore()
		for k, v := range s.data {
			fs.data[k] = v
		}
		es := append([]Entry(nil), orig...)
		fs.data[es[8].Key] = []byte("forged samples")
		es[8].DataHash = HashData(fs.data[es[8].Key])
		fl, err := Open(forged, Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		fl.Append(ctx, es...)
		fl.SignCheckpoint(ctx)
		fl.Close()
		// The forged store is self-consistent.
		if r := mustVerifyDir(t, forged, VerifyOptions{Recompute: fs.recompute}); !r.OK {
			t.Fatalf("forged store does not verify on its own:\n%s", failText(t, r))
		}
		s.data = fs.data
		return forged
	}
	t.Run("new key", func(t *testing.T) {
		forged := rewrite(t, false)
		r := mustVerifyDir(t, forged, VerifyOptions{Recompute: s.recompute, Checkpoints: exported})
		if r.OK || r.Summary.CheckpointsFailed < 2 {
			t.Fatalf("new key not caught by exported checkpoints:\n%s", failText(t, r))
		}
		r = mustVerifyDir(t, forged, VerifyOptions{Recompute: s.recompute, Verifiers: []string{vkey}})
		if r.OK {
			t.Fatalf("new key not caught by the trusted key:\n%s", failText(t, r))
		}
	})
	t.Run("stolen key", func(t *testing.T) {
		forged := rewrite(t, true)
		r := mustVerifyDir(t, forged, VerifyOptions{Recompute: s.recompute, Checkpoints: exported, Verifiers: []string{vkey}})
		if r.OK {
			t.Fatalf("rewrite not caught:\n%s", failText(t, r))
		}
		// Entries 6..12 are suspect; entry 8 (the rewritten one) among them,
		// entries before the early checkpoint are not.
		if !hasProblemAt(r, 8) || hasProblemAt(r, 5) {
			t.Fatalf("wrong range:\n%s", failText(t, r))
		}
		found := false
		for _, g := range r.Ranges {
			found = found || (g.Status == StatusTampered && g.Tag == orig[8].Tag && g.FirstIndex <= 8 && 8 <= g.LastIndex)
		}
		if !found {
			t.Errorf("no tampered range for tag %s:\n%s", orig[8].Tag, failText(t, r))
		}
	})
}

func TestCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 2)
	defer l.Close()
	st, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", st.Mode(), err)
	}
	c, ok := l.LatestCheckpoint()
	if !ok || c.Size != l.Size() || c.Root != l.Root() || !strings.HasPrefix(c.Origin, DefaultOrigin+"/") {
		t.Fatalf("latest checkpoint %+v", c)
	}
	if !strings.HasPrefix(string(c.Note), c.Origin+"\n7\n") {
		t.Errorf("note:\n%s", c.Note)
	}
	p, err := ParseCheckpoint(c.Note, l.VerifierKey())
	if err != nil || p.Root != c.Root || p.Size != c.Size {
		t.Fatalf("parse own checkpoint: %v", err)
	}
	// Unchanged tree: no new checkpoint.
	c2, _ := l.SignCheckpoint(ctx)
	if c2.Size != c.Size {
		t.Error("signed an unchanged tree")
	}
	// Another node's checkpoint, accepted and anchored as a witness entry.
	other, err := Open(t.TempDir(), Options{Origin: "plant2.example/historian"})
	if err != nil {
		t.Fatal(err)
	}
	other.Append(ctx, chunk(newStore(), "x", 1))
	var ob bytes.Buffer
	other.ExportCheckpoint(ctx, &ob)
	other.Close()
	if _, err := l.AcceptCheckpoint(ctx, ob.Bytes(), l.VerifierKey()); errcode.Of(err) != errcode.IntegrityBadCheckpoint {
		t.Errorf("foreign checkpoint accepted with the wrong key: %v", err)
	}
	oc, err := l.AcceptCheckpoint(ctx, ob.Bytes(), other.VerifierKey())
	if err != nil || oc.Origin != "plant2.example/historian" {
		t.Fatalf("accept: %v", err)
	}
	w, _ := l.Entry(l.Size() - 1)
	if w.Kind != KindWitness || w.Origin != oc.Origin || w.Root != oc.Root {
		t.Errorf("witness entry %+v", w)
	}
	// Our own checkpoint whose root no longer matches is refused.
	forged := bytes.Replace(c.Note, []byte("\n7\n"), []byte("\n6\n"), 1)
	if _, err := l.AcceptCheckpoint(ctx, forged, l.VerifierKey()); errcode.Of(err) != errcode.IntegrityBadCheckpoint {
		t.Errorf("altered checkpoint: %v", err)
	}
	// History and reopen.
	l.SignCheckpoint(ctx)
	var sizes []uint64
	for c, err := range l.Checkpoints() {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, c.Size)
	}
	if len(sizes) != 2 || sizes[0] != 7 || sizes[1] != 8 {
		t.Errorf("history %v", sizes)
	}
	if _, err := Open(t.TempDir()+"/y", Options{Origin: "has space"}); errcode.Of(err) != errcode.IntegrityKey {
		t.Errorf("invalid origin: %v", err)
	}
	if _, err := Open(dir, Options{Origin: "other"}); errcode.Of(err) != errcode.IntegrityKey {
		t.Errorf("origin differing from the key: %v", err)
	}
}

func TestSignerSignsOnStop(t *testing.T) {
	l := buildLog(t, t.TempDir(), newStore(), 1)
	defer l.Close()
	l.Append(ctx, Entry{Kind: KindAudit, Actor: "a", Action: "b", Object: "c"})
	c, cancel := context.WithCancel(ctx)
	sg := NewSigner(l, time.Hour)
	var got []Checkpoint
	sg.OnSign = func(c Checkpoint) { got = append(got, c) }
	done := make(chan error)
	go func() { done <- sg.Run(c) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Size != l.Size() {
		t.Fatalf("signed %v", got)
	}
}

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	s := newStore()
	l := buildLog(t, dir, s, 5)
	defer l.Close()
	var buf bytes.Buffer
	if err := WriteBundle(ctx, &buf, l, Selection{TagGlob: "plant/line1/press/*", Indexes: []uint64{15}}, s.fetch); err != nil {
		t.Fatal(err)
	}
	r, err := VerifyBundle(bytes.NewReader(buf.Bytes()), l.VerifierKey())
	if err != nil || !r.OK || r.Summary.Chunks != 10 || r.KeySource != "trusted" {
		t.Fatalf("bundle: %v\n%s", err, failText(t, r))
	}
	var b Bundle
	json.Unmarshal(buf.Bytes(), &b)
	tamper := func(f func(*Bundle)) *Report {
		var c Bundle
		json.Unmarshal(buf.Bytes(), &c)
		f(&c)
		out, _ := json.Marshal(c)
		r, err := VerifyBundle(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := tamper(func(c *Bundle) { c.Entries[2].Data[0] ^= 1 }); r.OK || !hasProblemAt(r, c2i(b, 2)) {
		t.Errorf("altered samples:\n%s", failText(t, r))
	}
	if r := tamper(func(c *Bundle) { c.Entries[1].Leaf[len(c.Entries[1].Leaf)-1] ^= 1 }); r.OK || !hasProblemAt(r, c2i(b, 1)) {
		t.Errorf("altered leaf:\n%s", failText(t, r))
	}
	if r := tamper(func(c *Bundle) { c.Entries[0].Index++ }); r.OK {
		t.Errorf("moved leaf:\n%s", failText(t, r))
	}
	if r := tamper(func(c *Bundle) { c.Checkpoint = strings.Replace(c.Checkpoint, "\n16\n", "\n15\n", 1) }); r.OK {
		t.Errorf("altered checkpoint:\n%s", failText(t, r))
	}
	if _, err := VerifyBundle(strings.NewReader(`{"format":"nope"}`)); errcode.Of(err) != errcode.IntegrityBadBundle {
		t.Errorf("bad format: %v", err)
	}
}

func c2i(b Bundle, k int) uint64 { return b.Entries[k].Index }

// TestCorruptDirectoryNeverPanics runs verification over directories damaged
// in ways a crash, a bad disk or an intruder leave them.
func TestCorruptDirectoryNeverPanics(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, newStore(), 3).Close()
	cases := map[string]func(dir string){
		"empty leaves":       func(d string) { os.WriteFile(filepath.Join(d, leavesFile), nil, 0o644) },
		"bad header":         func(d string) { os.WriteFile(filepath.Join(d, entriesFile), []byte("garbage!garbage"), 0o644) },
		"no entries file":    func(d string) { os.Remove(filepath.Join(d, entriesFile)) },
		"no public key":      func(d string) { os.Remove(filepath.Join(d, pubFile)) },
		"garbage public key": func(d string) { os.WriteFile(filepath.Join(d, pubFile), []byte("x+y+z"), 0o644) },
		"huge lengths":       func(d string) { fillRecords(d, 0xff) },
		"zero records":       func(d string) { fillRecords(d, 0) },
		"checkpoints garbage": func(d string) {
			os.WriteFile(filepath.Join(d, checkpointsFile), append([]byte("OTLCKPT1"), make([]byte, 300)...), 0o644)
		},
		"nodes truncated": func(d string) { os.Truncate(filepath.Join(d, nodesFile(1)), headerSize+3) },
		"nodes is a dir": func(d string) {
			os.Remove(filepath.Join(d, nodesFile(2)))
			os.Mkdir(filepath.Join(d, nodesFile(2)), 0o755)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			damage(dir)
			r, err := VerifyDir(ctx, dir, VerifyOptions{})
			if err == nil && r.OK {
				t.Fatalf("damage verified:\n%s", failText(t, r))
			}
			if l, err := Open(dir, Options{}); err == nil {
				l.Close()
			}
		})
	}
	if _, err := VerifyDir(ctx, filepath.Join(src, "nope"), VerifyOptions{}); errcode.Of(err) != errcode.IntegrityOpen {
		t.Errorf("missing directory: %v", err)
	}
}

func fillRecords(dir string, v byte) {
	p := filepath.Join(dir, leavesFile)
	b, _ := os.ReadFile(p)
	for i := headerSize; i < len(b); i++ {
		b[i] = v
	}
	os.WriteFile(p, b, 0o644)
}

var _ = compact.NodeID{}

// TestRandomDamage opens (writable and read-only) and verifies many randomly
// damaged copies of a log: none may panic, hang or verify when signed
// records changed.
func TestRandomDamage(t *testing.T) {
	tmpl := t.TempDir()
	buildLog(t, tmpl, newStore(), 2).Close()
	idx, _ := os.ReadFile(filepath.Join(tmpl, leavesFile))
	dat, _ := os.ReadFile(filepath.Join(tmpl, entriesFile))
	rnd := rand.New(rand.NewPCG(1, 2))
	for k := range 200 {
		rec := bytes.Clone(idx[headerSize:])
		ent := bytes.Clone(dat[headerSize:])
		for j := rnd.IntN(3); j >= 0; j-- {
			rec[rnd.IntN(len(rec))] ^= byte(1 + rnd.IntN(255))
			ent[rnd.IntN(len(ent))] ^= byte(1 + rnd.IntN(255))
		}
		rec = rec[:rnd.IntN(len(rec)+1)]
		dir := t.TempDir()
		copyDir(t, tmpl, dir)
		os.WriteFile(filepath.Join(dir, leavesFile), append(bytes.Clone(magicLeaves), rec...), 0o644)
		os.WriteFile(filepath.Join(dir, entriesFile), append(bytes.Clone(magicEntries), ent...), 0o644)
		if k%2 == 0 {
			if l, err := Open(dir, Options{Sync: SyncOnCheckpoint}); err == nil {
				l.Append(ctx, Entry{Kind: KindAudit, Actor: "x", Action: "y", Object: "z"})
				l.Close()
			}
		}
		if r, err := VerifyDir(ctx, dir, VerifyOptions{}); err == nil && r.OK {
			t.Fatalf("damage %d verified:\n%s", k, failText(t, r))
		}
	}
}

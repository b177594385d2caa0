package integrity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// ErrNoData is what a Recompute or fetch callback returns (wrapped or not)
// when a chunk's data is no longer in storage.
var ErrNoData = errors.New("no data for this entry")

// CheckpointSource is an exported checkpoint given to Verify.
type CheckpointSource struct {
	Name string // shown in the report, e.g. the file name
	Note []byte // the signed note
}

// VerifyOptions select what Verify checks. The whole tree is always checked;
// From, To and TagGlob select the entries reported and recomputed.
type VerifyOptions struct {
	From, To time.Time
	// TagGlob selects tags with path.Match ("*" stops at "/").
	TagGlob     string
	Checkpoints []CheckpointSource
	// Verifiers are trusted note verifier keys. Empty: the store's own
	// public key, which an intruder who rewrote the store may have replaced.
	Verifiers []string
	// Recompute re-reads a chunk or amend entry's data from storage and
	// returns HashData of its canonical samples, or ErrNoData. Nil: data is
	// not re-read.
	Recompute func(ctx context.Context, e Entry) (Hash, error)
	// MaxRanges caps the problems listed (default 1000); the rest are counted.
	MaxRanges int
	// History is how many of the newest stored checkpoints are checked
	// (default 64).
	History int
}

func (o *VerifyOptions) match(e *Entry) bool {
	switch e.Kind {
	case KindAudit, KindWitness:
		return o.TagGlob == "" && o.inTime(e.Time, e.Time)
	}
	if o.TagGlob != "" && e.Tag != o.TagGlob {
		if ok, _ := path.Match(o.TagGlob, e.Tag); !ok {
			return false
		}
	}
	return o.inTime(e.From, e.To)
}

func (o *VerifyOptions) inTime(from, to time.Time) bool {
	return (o.From.IsZero() || !to.Before(o.From)) && (o.To.IsZero() || !from.After(o.To))
}

// VerifyDir opens the log in dir read-only and verifies it. Damage that
// prevents opening is reported as a failed report, not an error; an error
// means dir could not be read at all.
func VerifyDir(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	l, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		if errcode.Of(err) == errcode.IntegrityOpen {
			return nil, err
		}
		r := &Report{Ranges: []Range{{Status: StatusTampered, Reason: err.Error()}}, KeySource: "store"}
		r.finish()
		return r, nil
	}
	defer l.Close()
	return Verify(ctx, l, opts)
}

type interval struct{ a, b uint64 } // [a, b)

func overlaps(list []interval, a, b uint64) bool {
	for _, x := range list {
		if a < x.b && x.a < b {
			return true
		}
	}
	return false
}

// Verify recomputes the tree from the stored entries, compares it with the
// stored node hashes, the stored and given checkpoints, and (through
// Recompute) each selected chunk's data. It returns an error only when
// verification could not run (closed log, cancelled ctx); everything found
// is in the report.
func Verify(ctx context.Context, l *Log, opts VerifyOptions) (*Report, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, errcode.New(errcode.IntegrityClosed, "integrity log %s is closed", l.dir)
	}
	n, idxF, datF, nodes, datEnd, nck, repair := l.size, l.idx, l.dat, l.nodes, l.datEnd, l.nck, l.repair
	l.mu.RUnlock()

	rep := &Report{Origin: l.origin, Size: n, VerifierKey: l.vkey, KeySource: "store", Recomputed: opts.Recompute != nil}
	if repair != (Repair{}) {
		rep.Repair = &repair
	}
	trusted := opts.Verifiers
	if len(trusted) > 0 {
		rep.KeySource = "trusted"
		rep.VerifierKey = trusted[0]
		found := false
		for _, k := range trusted {
			found = found || k == l.vkey
		}
		if !found {
			rep.Notes = append(rep.Notes, "the store's public key is not among the trusted keys: it was replaced, or the wrong key was given")
		}
	} else {
		trusted = []string{l.vkey}
		rep.Notes = append(rep.Notes, "signatures checked with the store's own key; give the key you trust (--key) to detect a replaced key")
	}
	b := newBuilder(opts.MaxRanges)

	// Checkpoints to compare with the tree, keyed by size.
	var checks []CheckpointCheck
	hist := opts.History
	if hist <= 0 {
		hist = 64
	}
	for i := max(0, nck-int64(hist)); i < nck; i++ {
		src := fmt.Sprintf("store #%d", i)
		c, err := l.readCheckpoint(i)
		if err == nil && rep.KeySource == "trusted" {
			c, err = ParseCheckpoint(c.Note, trusted...)
		}
		if err != nil {
			checks = append(checks, CheckpointCheck{Source: src, Status: "bad_signature", Reason: err.Error()})
			continue
		}
		checks = append(checks, CheckpointCheck{Source: src, Origin: c.Origin, Size: c.Size, Root: c.Root, KeyName: c.KeyName, KeyHash: c.KeyHash, Status: "ok"})
	}
	for _, src := range opts.Checkpoints {
		c, err := ParseCheckpoint(src.Note, trusted...)
		switch {
		case err != nil:
			checks = append(checks, CheckpointCheck{Source: src.Name, Status: "bad_signature", Reason: err.Error()})
		case c.Origin != l.origin:
			checks = append(checks, CheckpointCheck{Source: src.Name, Origin: c.Origin, Size: c.Size, Root: c.Root, Status: "other_origin",
				Reason: fmt.Sprintf("checkpoint of %q, not of %q", c.Origin, l.origin)})
		default:
			checks = append(checks, CheckpointCheck{Source: src.Name, Origin: c.Origin, Size: c.Size, Root: c.Root, KeyName: c.KeyName, KeyHash: c.KeyHash, Status: "ok"})
		}
	}
	want := map[uint64]Hash{}
	for _, c := range checks {
		if c.Status == "ok" && c.Size <= n {
			want[c.Size] = Hash{}
		}
	}

	// Pass 1: records, entry data, tree and stored nodes.
	var bad []interval
	badIdx := map[uint64]bool{}
	purged := map[uint64]uint64{}     // chunk leaf -> purge entry
	superseded := map[uint64]uint64{} // chunk leaf -> amend entry
	problem := func(g Range) {
		b.add(g)
		bad = append(bad, interval{g.FirstIndex, g.LastIndex + 1})
	}
	rng := rangeFactory.NewEmptyRange(0)
	var nodeR [maxLevel + 1]*bufio.Reader
	missingLevel := [maxLevel + 1]bool{}
	var nb [nodeSize]byte
	visit := func(id compact.NodeID, h []byte) {
		lv := id.Level
		if lv == 0 || lv > maxLevel || missingLevel[lv] {
			return
		}
		a, e := id.Coverage()
		if nodes[lv] == nil {
			missingLevel[lv] = true
			problem(Range{Status: StatusTampered, FirstIndex: a, LastIndex: n - 1, Reason: nodesFile(int(lv)) + " is missing"})
			return
		}
		if nodeR[lv] == nil {
			nodeR[lv] = bufio.NewReaderSize(io.NewSectionReader(nodes[lv], headerSize, 1<<62), 1<<14)
		}
		if _, err := io.ReadFull(nodeR[lv], nb[:]); err != nil {
			missingLevel[lv] = true
			problem(Range{Status: StatusTampered, FirstIndex: a, LastIndex: n - 1, Reason: nodesFile(int(lv)) + " is shorter than the tree"})
			return
		}
		if string(nb[:]) != string(h) && !overlaps(bad, a, e) {
			problem(Range{Status: StatusTampered, FirstIndex: a, LastIndex: e - 1, Expected: ptr(Hash(nb)), Found: ptr(Hash(h)),
				Reason: fmt.Sprintf("stored node hash (level %d, index %d) differs from the recomputed tree: entries were altered, removed or reordered", lv, id.Index)})
		}
	}
	sc := newScanner(idxF, datF, datEnd, 0)
	for i := uint64(0); i < n; i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		r, data, why, err := sc.next(i)
		if err != nil {
			problem(Range{Status: StatusTampered, FirstIndex: i, LastIndex: n - 1, Reason: err.Error()})
			badIdx[i] = true
			n = i // cannot go on: the tree below stays unchecked
			break
		}
		leaf := r.hash
		if data == nil {
			badIdx[i] = true
			problem(Range{Status: StatusTampered, FirstIndex: i, LastIndex: i, FailIndex: ptr(i), Reason: why})
		} else {
			rep.Summary.LeafBytes += uint64(len(data))
			leaf = HashData(data)
			e, derr := DecodeEntry(data)
			switch {
			case leaf != r.hash:
				badIdx[i] = true
				problem(Range{Status: StatusTampered, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i),
					Expected: ptr(r.hash), Found: ptr(leaf), Reason: "entry data differs from its recorded leaf hash"})
			case derr != nil:
				badIdx[i] = true
				problem(Range{Status: StatusTampered, FirstIndex: i, LastIndex: i, FailIndex: ptr(i), Reason: derr.Error()})
			case e.Kind == KindPurge:
				for _, x := range e.Leaves {
					purged[x] = i
				}
			case e.Kind == KindAmend:
				for _, x := range e.Leaves {
					superseded[x] = i
				}
			}
		}
		if err := rng.Append(append([]byte(nil), leaf[:]...), visit); err != nil {
			return nil, err
		}
		if _, ok := want[i+1]; ok {
			root, _ := rng.GetRootHash(nil)
			want[i+1] = Hash(root)
		}
	}
	root, _ := rng.GetRootHash(nil)
	if root == nil {
		root = hasher.EmptyRoot()
	}
	rep.Root = Hash(root)
	if _, ok := want[0]; ok {
		want[0] = Hash(hasher.EmptyRoot())
	}
	if n == rep.Size {
		if stored := l.Root(); stored != rep.Root && !l.opts.ReadOnly {
			rep.Notes = append(rep.Notes, "the open log's in-memory root differs from the recomputed one")
		}
	}

	// Checkpoints against the recomputed tree; the newest good and oldest
	// bad checkpoint bracket where a rewrite happened.
	var good uint64
	var hasGood bool
	for i := range checks {
		c := &checks[i]
		if c.Status != "ok" {
			continue
		}
		switch {
		case c.Size > n:
			c.Status = "ahead"
			c.Reason = fmt.Sprintf("the log has %d entries, the checkpoint %d: entries were deleted or truncated", n, c.Size)
			problem(Range{Status: StatusTampered, FirstIndex: n, LastIndex: c.Size - 1, Entries: c.Size - n,
				Reason: fmt.Sprintf("entries %d..%d are missing (signed in checkpoint %s)", n, c.Size-1, c.Source)})
		case want[c.Size] != c.Root:
			c.Status = "mismatch"
			c.Reason = fmt.Sprintf("tree of %d entries has root %s", c.Size, want[c.Size])
		default:
			if c.Size > good || !hasGood {
				good, hasGood = max(good, c.Size), true
			}
			if c.Size > 0 && c.Size < n {
				p, err := l.ConsistencyProof(c.Size, n)
				if err == nil {
					err = proof.VerifyConsistency(hasher, c.Size, n, p, c.Root[:], rep.Root[:])
				}
				if err != nil {
					c.Status = "inconsistent"
					c.Reason = "consistency proof from stored nodes fails: " + err.Error()
				}
			}
		}
	}
	var suspects []interval
	for _, c := range checks {
		if c.Status != "mismatch" {
			continue
		}
		lo := uint64(0)
		for _, g := range checks {
			if g.Status == "ok" && g.Size < c.Size && g.Size > lo {
				lo = g.Size
			}
		}
		if overlaps(bad, lo, c.Size) {
			continue // already pinned to an entry
		}
		suspects = append(suspects, interval{lo, c.Size})
		rep.Notes = append(rep.Notes, fmt.Sprintf("checkpoint %s (size %d) no longer matches: an entry in %d..%d was rewritten after it was signed", c.Source, c.Size, lo, c.Size-1))
	}
	rep.Checkpoints = checks

	// Pass 2: the selected entries, their data and their sequence.
	type tagState struct {
		seq   uint64
		to    time.Time
		index uint64
	}
	tags := map[string]*tagState{}
	sc = newScanner(idxF, datF, datEnd, 0)
	for i := uint64(0); i < n; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		_, data, _, err := sc.next(i)
		if err != nil {
			break
		}
		if data == nil || badIdx[i] {
			continue
		}
		e, err := DecodeEntry(data)
		if err != nil || !opts.match(&e) {
			continue
		}
		switch e.Kind {
		case KindPurge:
			b.add(Range{Status: StatusPurge, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, Policy: e.Policy, Actor: e.Actor, Leaves: e.Leaves})
			continue
		case KindAudit, KindWitness:
			continue
		}
		if e.Kind == KindChunk {
			rep.Summary.Chunks++
			st := tags[e.Tag]
			if st != nil && e.Seq != 0 && e.Seq > st.seq+1 {
				b.add(Range{Status: StatusGap, Tag: e.Tag, From: st.to, To: e.From, FirstIndex: st.index, LastIndex: i, Entries: 0,
					FailIndex: ptr(i), Reason: fmt.Sprintf("chunks %d..%d of the series were never logged", st.seq+1, e.Seq-1)})
			} else if st != nil && e.Seq != 0 && e.Seq <= st.seq {
				b.add(Range{Status: StatusTampered, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i),
					Reason: fmt.Sprintf("chunk sequence goes back from %d to %d: entries reordered", st.seq, e.Seq)})
			}
			if st == nil {
				st = &tagState{}
				tags[e.Tag] = st
			}
			st.seq, st.to, st.index = e.Seq, e.To, i
		}
		if overlaps(suspects, i, i+1) {
			b.run(i, &e, StatusTampered, "rewritten after a checkpoint was signed: the tree no longer matches it")
			continue
		}
		if _, ok := purged[i]; ok {
			continue // the purge range reports it
		}
		if opts.Recompute != nil {
			h, err := opts.Recompute(ctx, e)
			switch {
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case errors.Is(err, ErrNoData):
				if _, ok := superseded[i]; ok {
					continue // replaced by an amendment, reported there
				}
				if removedSince(l, n, i) {
					continue // purged or amended while this verification ran: the next one reports it
				}
				b.add(Range{Status: StatusGap, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i), Expected: ptr(e.DataHash),
					Reason: "chunk data is gone and no purge or amendment records its removal"})
				continue
			case err != nil:
				b.add(Range{Status: StatusTampered, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i), Expected: ptr(e.DataHash),
					Reason: "chunk data cannot be read: " + err.Error()})
				continue
			case h != e.DataHash:
				b.add(Range{Status: StatusTampered, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i),
					Expected: ptr(e.DataHash), Found: ptr(h), Reason: "chunk samples differ from the logged hash"})
				continue
			}
		}
		rep.Summary.Samples += e.Count
		if e.Kind == KindAmend {
			b.add(Range{Status: StatusAmended, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, Samples: e.Count, Leaves: e.Leaves})
			continue
		}
		b.run(i, &e, StatusVerified, "")
	}
	rep.Summary.Entries = rep.Size
	rep.Ranges = b.out
	rep.Summary.Omitted = b.omitted
	rep.finish()
	return rep, nil
}

// removedSince reports whether an entry appended after the first n (the
// ones this verification looks at) is a purge or amendment listing leaf
// i, with data matching its leaf hash: the store records the removal
// before deleting, so a chunk can vanish between the snapshot of the log
// and its re-reading without being a gap.
func removedSince(l *Log, n, i uint64) bool {
	for j := n; j < l.Size() && j < n+1024; j++ { // bounded: removals are recorded just before they happen
		data, err := l.LeafData(j)
		if err != nil {
			return false
		}
		h, err := l.LeafHash(j)
		if err != nil || HashData(data) != h {
			return false
		}
		e, err := DecodeEntry(data)
		if err != nil || (e.Kind != KindPurge && e.Kind != KindAmend) {
			continue
		}
		for _, x := range e.Leaves {
			if x == i {
				return true
			}
		}
	}
	return false
}

package integrity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/transparency-dev/merkle/proof"
)

// BundleFormat names version 1 of the evidence bundle.
const BundleFormat = "otlink-integrity-bundle/1"

// Bundle is the evidence bundle file: one JSON object (docs/formats/integrity.md).
// Byte strings are standard base64, hashes inside proofs too.
type Bundle struct {
	Format      string        `json:"format"`
	Created     time.Time     `json:"created"`
	Origin      string        `json:"origin"`
	VerifierKey string        `json:"verifier_key"`
	Checkpoint  string        `json:"checkpoint"` // signed note; proofs lead to its root
	Entries     []BundleEntry `json:"entries"`
}

// BundleEntry is one leaf with what proves it.
type BundleEntry struct {
	Index uint64   `json:"index"`
	Leaf  []byte   `json:"leaf"`           // canonical entry encoding
	Data  []byte   `json:"data,omitempty"` // chunk, amend: canonical samples
	Proof [][]byte `json:"proof"`          // RFC 6962 inclusion proof to the checkpoint
}

// Selection picks the entries of a bundle: those listed by index, plus
// those matching the tag glob and time range when any of them is set.
type Selection struct {
	From, To time.Time
	TagGlob  string
	Indexes  []uint64
}

func badBundle(err error, format string, args ...any) error {
	return errcode.Wrap(errcode.IntegrityBadBundle, err, format, args...)
}

// WriteBundle writes an evidence bundle of the selected entries: their leaf
// data, the canonical samples fetch returns for chunk and amend entries
// (ErrNoData leaves them out), inclusion proofs to a freshly signed
// checkpoint, that checkpoint and the public key.
func WriteBundle(ctx context.Context, w io.Writer, l *Log, sel Selection, fetch func(ctx context.Context, e Entry) ([]byte, error)) error {
	c, err := l.SignCheckpoint(ctx)
	if err != nil {
		return err
	}
	b := Bundle{Format: BundleFormat, Created: l.opts.Now().UTC(), Origin: l.origin, VerifierKey: l.vkey, Checkpoint: string(c.Note)}
	want := map[uint64]bool{}
	for _, i := range sel.Indexes {
		want[i] = true
	}
	filter := VerifyOptions{From: sel.From, To: sel.To, TagGlob: sel.TagGlob}
	scanAll := sel.TagGlob != "" || !sel.From.IsZero() || !sel.To.IsZero()
	for i := uint64(0); i < c.Size; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !want[i] && !scanAll {
			continue
		}
		leaf, err := l.LeafData(i)
		if err != nil {
			return err
		}
		e, err := DecodeEntry(leaf)
		if err != nil {
			return err
		}
		if !want[i] && !filter.match(&e) {
			continue
		}
		be := BundleEntry{Index: i, Leaf: leaf}
		if (e.Kind == KindChunk || e.Kind == KindAmend) && fetch != nil {
			data, err := fetch(ctx, e)
			if err != nil && !errors.Is(err, ErrNoData) {
				return fmt.Errorf("fetch samples of entry %d (%s): %w", i, e.Tag, err)
			}
			be.Data = data
		}
		if be.Proof, err = l.InclusionProof(i, c.Size); err != nil {
			return err
		}
		b.Entries = append(b.Entries, be)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(&b)
}

// maxBundle bounds what VerifyBundle reads.
const maxBundle = 4 << 30

// VerifyBundle checks a bundle offline: the checkpoint's signature (with
// the trusted keys, or else the bundle's own key), every entry's inclusion
// proof, and every chunk's samples against the logged hash.
func VerifyBundle(r io.Reader, trusted ...string) (*Report, error) {
	var b Bundle
	dec := json.NewDecoder(io.LimitReader(r, maxBundle))
	if err := dec.Decode(&b); err != nil {
		return nil, badBundle(err, "decode bundle")
	}
	if b.Format != BundleFormat {
		return nil, badBundle(nil, "bundle format %q, want %q", b.Format, BundleFormat)
	}
	rep := &Report{Origin: b.Origin, VerifierKey: b.VerifierKey, KeySource: "bundle", Recomputed: true}
	keys := []string{b.VerifierKey}
	if len(trusted) > 0 {
		keys, rep.KeySource, rep.VerifierKey = trusted, "trusted", trusted[0]
	} else {
		rep.Notes = append(rep.Notes, "signature checked with the bundle's own key; compare it with the key you trust")
	}
	c, err := ParseCheckpoint([]byte(b.Checkpoint), keys...)
	check := CheckpointCheck{Source: "bundle", Status: "ok"}
	if err != nil {
		check.Status, check.Reason = "bad_signature", err.Error()
	} else {
		check.Origin, check.Size, check.Root, check.KeyName, check.KeyHash = c.Origin, c.Size, c.Root, c.KeyName, c.KeyHash
		if c.Origin != b.Origin {
			check.Status, check.Reason = "other_origin", fmt.Sprintf("checkpoint of %q in a bundle of %q", c.Origin, b.Origin)
		}
	}
	rep.Checkpoints = []CheckpointCheck{check}
	rep.Size, rep.Root = c.Size, c.Root
	bl := newBuilder(0)
	for _, be := range b.Entries {
		rep.Summary.Entries++
		rep.Summary.LeafBytes += uint64(len(be.Leaf))
		i := be.Index
		leaf := HashData(be.Leaf)
		e, derr := DecodeEntry(be.Leaf)
		fail := func(reason string, exp, found *Hash) {
			bl.add(Range{Status: StatusTampered, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i),
				Expected: exp, Found: found, Reason: reason})
		}
		if derr != nil {
			fail(derr.Error(), nil, nil)
			continue
		}
		if check.Status == "ok" {
			if err := proof.VerifyInclusion(hasher, i, c.Size, leaf[:], be.Proof, c.Root[:]); err != nil {
				fail("not included in the signed checkpoint: "+err.Error(), nil, ptr(leaf))
				continue
			}
		}
		switch e.Kind {
		case KindPurge:
			bl.add(Range{Status: StatusPurge, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, Policy: e.Policy, Actor: e.Actor, Leaves: e.Leaves})
			continue
		case KindAudit, KindWitness:
			continue
		}
		rep.Summary.Chunks++
		if be.Data == nil {
			bl.add(Range{Status: StatusGap, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, FailIndex: ptr(i), Expected: ptr(e.DataHash),
				Reason: "the bundle carries no samples for this chunk"})
			continue
		}
		if h := HashData(be.Data); h != e.DataHash {
			fail("samples differ from the logged hash", ptr(e.DataHash), ptr(h))
			continue
		}
		rep.Summary.Samples += e.Count
		if e.Kind == KindAmend {
			bl.add(Range{Status: StatusAmended, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, Samples: e.Count, Leaves: e.Leaves})
			continue
		}
		bl.run(i, &e, StatusVerified, "")
	}
	rep.Ranges = bl.out
	rep.Summary.Omitted = bl.omitted
	rep.finish()
	return rep, nil
}

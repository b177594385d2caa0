package integrity

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/otlink/otlink/internal/errcode"
)

// EncodingVersion is the first byte of every leaf's data. A new version may
// add kinds or fields; a verifier refuses versions it does not know.
const EncodingVersion = 1

// Kind says what an entry records.
type Kind uint8

const (
	KindChunk   Kind = 1 // a sealed chunk of one series
	KindPurge   Kind = 2 // a retention purge that removed chunks
	KindAmend   Kind = 3 // late or backfilled data that supersedes chunks
	KindAudit   Kind = 4 // an audit event (who did what to which object)
	KindWitness Kind = 5 // a checkpoint of this or another log, anchored here
)

var kindNames = [...]string{"", "chunk", "purge", "amend", "audit", "witness"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText makes kinds readable in JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Hash is a SHA-256 digest.
type Hash [32]byte

// MarshalText renders a hash as lower-case hex in JSON.
func (h Hash) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%x", h[:]), nil }

func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// Entry is one leaf of the log. Which fields are encoded depends on Kind (see
// docs/formats/integrity.md); the others must be zero and are ignored.
type Entry struct {
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"` // when it was recorded; Append fills a zero Time with the clock

	// chunk, amend: the series; purge: the tag or tag glob purged.
	Tag string `json:"tag,omitempty"`
	// chunk, amend: per-series chunk sequence number, +1 per chunk, so a hole
	// is visible; 0 everywhere switches the check off.
	Seq uint64 `json:"seq,omitempty"`
	// chunk, amend, purge: the time range covered, both ends inclusive.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// chunk, amend: samples in the chunk; purge: chunks removed.
	Count uint64 `json:"count,omitempty"`
	// chunk, amend: HashData of the canonical samples.
	DataHash Hash `json:"data_hash,omitzero"`
	// chunk, amend: the historian's chunk key.
	Key string `json:"key,omitempty"`
	// purge: the retention policy.
	Policy string `json:"policy,omitempty"`
	// purge: who; audit: the actor.
	Actor string `json:"actor,omitempty"`
	// audit: what was done to which object.
	Action string `json:"action,omitempty"`
	Object string `json:"object,omitempty"`
	// audit: SHA-256 of the event's detail, kept elsewhere.
	Detail Hash `json:"detail,omitzero"`
	// purge: leaf indexes of the purged chunks; amend: superseded leaves.
	// Strictly increasing.
	Leaves []uint64 `json:"leaves,omitempty"`
	// witness: the checkpoint anchored.
	Origin   string `json:"origin,omitempty"`
	Size     uint64 `json:"size,omitempty"`
	Root     Hash   `json:"root,omitzero"`
	NoteHash Hash   `json:"note_hash,omitzero"`
}

// HashData is the hash a chunk entry carries for its canonical samples:
// SHA-256(0x00 || data), the RFC 6962 leaf hash of the samples.
func HashData(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// LeafHash is the RFC 6962 leaf hash of an entry's encoding.
func LeafHash(leafData []byte) Hash { return HashData(leafData) }

// Limits that keep a hostile encoding from asking for huge allocations.
const (
	maxString = 1<<16 - 1
	maxLeaves = 1 << 20
	// MaxEntrySize bounds one encoded entry: a purge of a million chunks.
	MaxEntrySize = 8*maxLeaves + 1<<20
)

var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

func badEntry(format string, args ...any) error {
	return errcode.New(errcode.IntegrityBadEntry, format, args...)
}

// Encode returns the canonical leaf data of e. Every valid entry has exactly
// one encoding, and Decode(Encode(e)) == e.
func (e *Entry) Encode() ([]byte, error) { return e.AppendEncoding(nil) }

// AppendEncoding appends the canonical encoding of e to b.
func (e *Entry) AppendEncoding(b []byte) ([]byte, error) {
	w := encoder{b: b}
	w.u8(EncodingVersion)
	w.u8(uint8(e.Kind))
	w.time(e.Time)
	switch e.Kind {
	case KindChunk, KindAmend:
		w.str(e.Tag)
		w.u64(e.Seq)
		w.time(e.From)
		w.time(e.To)
		w.u64(e.Count)
		w.hash(e.DataHash)
		w.str(e.Key)
		if e.Kind == KindAmend {
			w.list(e.Leaves)
		}
		if e.Tag == "" {
			w.fail("%s entry without a tag", e.Kind)
		}
		if e.To.Before(e.From) {
			w.fail("%s entry of %s ends before it starts", e.Kind, e.Tag)
		}
	case KindPurge:
		w.str(e.Tag)
		w.time(e.From)
		w.time(e.To)
		w.str(e.Policy)
		w.str(e.Actor)
		w.u64(e.Count)
		w.list(e.Leaves)
		if e.Tag == "" {
			w.fail("purge entry without a tag or glob")
		}
	case KindAudit:
		w.str(e.Actor)
		w.str(e.Action)
		w.str(e.Object)
		w.hash(e.Detail)
	case KindWitness:
		w.str(e.Origin)
		w.u64(e.Size)
		w.hash(e.Root)
		w.hash(e.NoteHash)
	default:
		w.fail("unknown entry kind %d", uint8(e.Kind))
	}
	if w.err != nil {
		return b, w.err
	}
	return w.b, nil
}

type encoder struct {
	b   []byte
	err error
}

func (w *encoder) fail(format string, args ...any) {
	if w.err == nil {
		w.err = badEntry(format, args...)
	}
}
func (w *encoder) u8(v uint8)   { w.b = append(w.b, v) }
func (w *encoder) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *encoder) hash(h Hash)  { w.b = append(w.b, h[:]...) }
func (w *encoder) time(t time.Time) {
	if t.Before(minTime) || t.After(maxTime) {
		w.fail("time %s outside 1678..2262", t.Format(time.RFC3339))
	}
	w.u64(uint64(t.UnixNano()))
}
func (w *encoder) str(s string) {
	if len(s) > maxString {
		w.fail("string of %d bytes longer than %d", len(s), maxString)
		return
	}
	if !utf8.ValidString(s) {
		w.fail("string %q is not utf-8", s)
	}
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(s)))
	w.b = append(w.b, s...)
}
func (w *encoder) list(l []uint64) {
	if len(l) > maxLeaves {
		w.fail("%d leaf indexes, more than %d", len(l), maxLeaves)
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(l)))
	for i, v := range l {
		if i > 0 && v <= l[i-1] {
			w.fail("leaf indexes not strictly increasing at %d", v)
		}
		w.u64(v)
	}
}

// DecodeEntry parses canonical leaf data. It rejects anything that Encode
// would not produce, so a leaf has one meaning.
func DecodeEntry(b []byte) (Entry, error) {
	r := decoder{b: b}
	var e Entry
	if v := r.u8(); v != EncodingVersion && r.err == nil {
		return e, badEntry("encoding version %d, want %d", v, EncodingVersion)
	}
	e.Kind = Kind(r.u8())
	e.Time = r.time()
	switch e.Kind {
	case KindChunk, KindAmend:
		e.Tag = r.str()
		e.Seq = r.u64()
		e.From = r.time()
		e.To = r.time()
		e.Count = r.u64()
		e.DataHash = r.hash()
		e.Key = r.str()
		if e.Kind == KindAmend {
			e.Leaves = r.list()
		}
	case KindPurge:
		e.Tag = r.str()
		e.From = r.time()
		e.To = r.time()
		e.Policy = r.str()
		e.Actor = r.str()
		e.Count = r.u64()
		e.Leaves = r.list()
	case KindAudit:
		e.Actor = r.str()
		e.Action = r.str()
		e.Object = r.str()
		e.Detail = r.hash()
	case KindWitness:
		e.Origin = r.str()
		e.Size = r.u64()
		e.Root = r.hash()
		e.NoteHash = r.hash()
	default:
		if r.err == nil {
			r.err = badEntry("unknown entry kind %d", uint8(e.Kind))
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = badEntry("%d trailing bytes after a %s entry", len(r.b), e.Kind)
	}
	if r.err != nil {
		return Entry{}, r.err
	}
	// The encoder's checks (tag present, order, utf-8) make the encoding
	// canonical; running it again keeps the two in step.
	if _, err := e.Encode(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

type decoder struct {
	b   []byte
	err error
}

func (r *decoder) need(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = badEntry("entry truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}
func (r *decoder) u8() uint8 {
	if p := r.need(1); p != nil {
		return p[0]
	}
	return 0
}
func (r *decoder) u64() uint64 {
	if p := r.need(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}
func (r *decoder) time() time.Time { return time.Unix(0, int64(r.u64())).UTC() }
func (r *decoder) hash() (h Hash) {
	if p := r.need(32); p != nil {
		copy(h[:], p)
	}
	return h
}
func (r *decoder) str() string {
	p := r.need(2)
	if p == nil {
		return ""
	}
	return string(r.need(int(binary.BigEndian.Uint16(p))))
}
func (r *decoder) list() []uint64 {
	p := r.need(4)
	if p == nil {
		return nil
	}
	n := binary.BigEndian.Uint32(p)
	if n > maxLeaves || int(n)*8 > len(r.b) {
		r.err = badEntry("list of %d leaf indexes does not fit the entry", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.u64()
	}
	return out
}

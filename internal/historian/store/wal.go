package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// WAL layout (docs/formats/store.md): a segment is a file named
// <16 hex digits of its number>.wal holding an 8-byte header (magic
// "OTLW", u32 LE version 1) and records of
//
//	u32 LE payload length | u32 LE CRC32C (Castagnoli) of payload | payload
//
// The payload's first byte is its kind: recSeries defines a series id,
// recSamples holds samples.
const (
	walMagic      = "OTLW"
	walVersion    = 1
	walHeaderSize = 8
	recHeaderSize = 8
	maxRecord     = 1 << 30

	recSeries  = 1 // u8 kind | uvarint id | u8 type | uvarint len | tag
	recSamples = 2 // u8 kind | uvarint count | samples
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walPos is a record's position: segment number and byte offset.
type walPos struct {
	seg uint64
	off int64
}

func (p walPos) less(q walPos) bool { return p.seg < q.seg || p.seg == q.seg && p.off < q.off }

type wal struct {
	dir   string
	mu    sync.Mutex // f, seg, size against the sync loop
	f     *os.File
	seg   uint64
	size  int64
	segs  []uint64 // live segments, ascending, including the current one
	dirty bool     // written since the last fsync
}

func segName(n uint64) string { return fmt.Sprintf("%016x.wal", n) }

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok || len(n) != 16 {
			continue
		}
		v, err := strconv.ParseUint(n, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, v)
	}
	slices.Sort(segs)
	return segs, nil
}

// create starts segment n.
func (w *wal) create(n uint64) error {
	f, err := os.OpenFile(filepath.Join(w.dir, segName(n)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return errcode.Wrap(errcode.StoreWAL, err, "create wal segment %d", n)
	}
	var h [walHeaderSize]byte
	copy(h[:], walMagic)
	binary.LittleEndian.PutUint32(h[4:], walVersion)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return errcode.Wrap(errcode.StoreWAL, err, "write wal segment %d", n)
	}
	// The new file's name must survive a power cut before records in it
	// count as durable.
	if err := f.Sync(); err != nil {
		f.Close()
		return errcode.Wrap(errcode.StoreWAL, err, "sync wal segment %d", n)
	}
	syncDir(w.dir)
	w.f, w.seg, w.size = f, n, walHeaderSize
	w.segs = append(w.segs, n)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// append writes one framed buffer (records already framed) and returns
// the position of its first byte; with sync it fsyncs before returning.
func (w *wal) append(b []byte, sync bool) (walPos, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pos := walPos{w.seg, w.size}
	if _, err := w.f.Write(b); err != nil {
		// Cut a partial write off so the segment stays a clean sequence
		// of records; the caller fails and nothing was applied.
		_ = w.f.Truncate(w.size)
		_, _ = w.f.Seek(w.size, 0)
		return pos, errcode.Wrap(errcode.StoreWAL, err, "write wal segment %d", w.seg)
	}
	w.size += int64(len(b))
	w.dirty = true
	if sync {
		if err := w.f.Sync(); err != nil {
			return pos, errcode.Wrap(errcode.StoreWAL, err, "sync wal segment %d", w.seg)
		}
		w.dirty = false
	}
	return pos, nil
}

func (w *wal) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || !w.dirty {
		return nil
	}
	w.dirty = false
	if err := w.f.Sync(); err != nil {
		return errcode.Wrap(errcode.StoreWAL, err, "sync wal segment %d", w.seg)
	}
	return nil
}

// rotate syncs and closes the current segment and starts the next.
func (w *wal) rotate() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Sync(); err != nil {
		return errcode.Wrap(errcode.StoreWAL, err, "sync wal segment %d", w.seg)
	}
	w.f.Close()
	w.dirty = false
	return w.create(w.seg + 1)
}

// removeBefore deletes the segments older than n.
func (w *wal) removeBefore(n uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.segs[:0]
	for _, s := range w.segs {
		if s < n && s != w.seg {
			_ = os.Remove(filepath.Join(w.dir, segName(s)))
			continue
		}
		keep = append(keep, s)
	}
	w.segs = keep
}

func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Sync()
	w.f.Close()
	w.f = nil
	if err != nil {
		return errcode.Wrap(errcode.StoreWAL, err, "sync wal segment %d", w.seg)
	}
	return nil
}

// frame appends a record header for payload b[at:] in front of it: the
// caller reserved recHeaderSize bytes at b[at-recHeaderSize:].
func frame(b []byte, hdr int) {
	p := b[hdr+recHeaderSize:]
	binary.LittleEndian.PutUint32(b[hdr:], uint32(len(p)))
	binary.LittleEndian.PutUint32(b[hdr+4:], crc32.Checksum(p, castagnoli))
}

// appendWALSample appends one sample without its series id: varint
// source, varint server-source, uvarint quality, uvarint code, u8 value
// type, value (none; bool u8; numbers u64 LE bits; string uvarint length
// and bytes).
func appendWALSample(b []byte, s *model.Sample) []byte {
	b = binary.AppendVarint(b, s.Source)
	b = binary.AppendVarint(b, s.Server-s.Source)
	b = binary.AppendUvarint(b, uint64(s.Quality))
	b = binary.AppendUvarint(b, uint64(s.Code))
	v := s.Value
	b = append(b, byte(v.T))
	switch {
	case !v.IsValid():
	case v.T == model.Bool:
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case v.T == model.String:
		str := v.Str()
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	default:
		b = binary.LittleEndian.AppendUint64(b, valueBits(v))
	}
	return b
}

// valueBits returns the 64 bits model.Value keeps for a number.
func valueBits(v model.Value) uint64 {
	switch {
	case v.T.IsFloat():
		return math.Float64bits(v.Float())
	case v.T == model.Bool:
		if v.Bool() {
			return 1
		}
		return 0
	case v.T.IsSigned():
		return uint64(v.Int())
	}
	return v.Uint()
}

func valueOf(t model.Type, bits uint64, str string) model.Value {
	switch {
	case t == model.TypeInvalid:
		return model.Value{}
	case t == model.String:
		return model.StringValue(str)
	case t == model.Bool:
		return model.BoolValue(bits != 0)
	case t.IsFloat():
		return model.FloatValue(t, math.Float64frombits(bits))
	case t.IsSigned():
		return model.IntValue(t, int64(bits))
	}
	return model.UintValue(t, bits)
}

// walDecoder reads samples from a record payload; it never panics.
type walDecoder struct {
	b []byte
	s model.Sample
}

func (d *walDecoder) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, false
	}
	d.b = d.b[n:]
	return v, true
}

func (d *walDecoder) varint() (int64, bool) {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		return 0, false
	}
	d.b = d.b[n:]
	return v, true
}

func (d *walDecoder) sample() bool {
	src, ok1 := d.varint()
	dsrv, ok2 := d.varint()
	q, ok3 := d.uvarint()
	code, ok4 := d.uvarint()
	if !ok1 || !ok2 || !ok3 || !ok4 || q > math.MaxUint32 || code > math.MaxUint16 || len(d.b) < 1 {
		return false
	}
	t := model.Type(d.b[0])
	d.b = d.b[1:]
	d.s.Source, d.s.Server, d.s.Quality, d.s.Code = src, src+dsrv, model.Quality(q), uint16(code)
	switch {
	case t == model.TypeInvalid:
		d.s.Value = model.Value{}
	case t == model.Bool:
		if len(d.b) < 1 || d.b[0] > 1 {
			return false
		}
		d.s.Value = model.BoolValue(d.b[0] == 1)
		d.b = d.b[1:]
	case t == model.String:
		n, ok := d.uvarint()
		if !ok || n > uint64(len(d.b)) {
			return false
		}
		d.s.Value = model.StringValue(string(d.b[:n]))
		d.b = d.b[n:]
	case t <= model.Float64:
		if len(d.b) < 8 {
			return false
		}
		d.s.Value = valueOf(t, binary.LittleEndian.Uint64(d.b), "")
		d.b = d.b[8:]
	default:
		return false
	}
	return true
}

// walRecord is one decoded record, for replay and the format test.
type walRecord struct {
	kind    byte
	id      uint32
	typ     model.Type
	tag     string
	ids     []uint32
	samples []model.Sample
}

// decodeRecord decodes a payload (after the frame header).
func decodeRecord(p []byte) (walRecord, error) {
	var r walRecord
	bad := func(what string) (walRecord, error) {
		return r, errcode.New(errcode.StoreCorrupt, "wal record: %s", what)
	}
	if len(p) < 1 {
		return bad("empty")
	}
	r.kind = p[0]
	d := walDecoder{b: p[1:]}
	switch r.kind {
	case recSeries:
		id, ok := d.uvarint()
		if !ok || id == 0 || id > math.MaxUint32 || len(d.b) < 1 {
			return bad("series id")
		}
		r.id, r.typ = uint32(id), model.Type(d.b[0])
		d.b = d.b[1:]
		n, ok := d.uvarint()
		if !ok || n != uint64(len(d.b)) || r.typ > model.String {
			return bad("series tag")
		}
		r.tag = string(d.b)
	case recSamples:
		n, ok := d.uvarint()
		if !ok || n > uint64(len(d.b)) {
			return bad("sample count")
		}
		r.ids = make([]uint32, 0, n)
		r.samples = make([]model.Sample, 0, n)
		for range n {
			id, ok := d.uvarint()
			if !ok || id == 0 || id > math.MaxUint32 || !d.sample() {
				return bad("sample")
			}
			r.ids = append(r.ids, uint32(id))
			r.samples = append(r.samples, d.s)
		}
		if len(d.b) != 0 {
			return bad("bytes after the samples")
		}
	default:
		return bad(fmt.Sprintf("kind %d", r.kind))
	}
	return r, nil
}

// readSegment calls fn with each intact record of a segment and returns
// the offset where the intact records end (the file size when whole).
func readSegment(data []byte, fn func(off int64, payload []byte) error) (int64, error) {
	if len(data) < walHeaderSize || string(data[:4]) != walMagic || binary.LittleEndian.Uint32(data[4:]) != walVersion {
		return 0, nil
	}
	off := walHeaderSize
	for off+recHeaderSize <= len(data) {
		n := binary.LittleEndian.Uint32(data[off:])
		c := binary.LittleEndian.Uint32(data[off+4:])
		if n > maxRecord || int64(off)+recHeaderSize+int64(n) > int64(len(data)) {
			break
		}
		p := data[off+recHeaderSize : off+recHeaderSize+int(n)]
		if crc32.Checksum(p, castagnoli) != c {
			break
		}
		if err := fn(int64(off), p); err != nil {
			return int64(off), err
		}
		off += recHeaderSize + int(n)
	}
	return int64(off), nil
}

package integrity

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// File names and headers inside a log directory (docs/formats/integrity.md).
const (
	leavesFile      = "leaves.idx"
	entriesFile     = "entries.dat"
	checkpointsFile = "checkpoints.dat"
	keyFile         = "checkpoint.key"
	pubFile         = "checkpoint.pub"

	headerSize = 8
	recordSize = 48 // leaf hash 32, offset 8, length 4, crc 4
	nodeSize   = 32
	maxLevel   = 63
)

var (
	magicLeaves      = []byte("OTLLEAF1")
	magicEntries     = []byte("OTLDATA1")
	magicNodes       = []byte("OTLNODE1")
	magicCheckpoints = []byte("OTLCKPT1")
	castagnoli       = crc32.MakeTable(crc32.Castagnoli)
	hasher           = rfc6962.DefaultHasher
	rangeFactory     = &compact.RangeFactory{Hash: hasher.HashChildren}
)

func nodesFile(level int) string { return fmt.Sprintf("nodes-%02d.dat", level) }

// SyncPolicy says when appended leaves reach the disk.
type SyncPolicy int

const (
	// SyncEveryAppend fsyncs the files before Append returns: an appended
	// entry survives a power cut.
	SyncEveryAppend SyncPolicy = iota
	// SyncOnCheckpoint leaves writes to the page cache until Sync, Close or
	// the next signed checkpoint: a killed process loses nothing, a power cut
	// can lose entries appended since the last checkpoint, which the torn
	// tail repair then removes. A checkpoint never covers unsynced leaves.
	SyncOnCheckpoint
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Origin names the log in checkpoints and its signing key, e.g.
	// "plant1.example/otlink/historian". Default "otlink.local/historian".
	// An existing key keeps its name; a different Origin is an error.
	Origin string
	Sync   SyncPolicy
	// ReadOnly opens for verification: nothing is written, a torn tail is
	// ignored rather than truncated, and no key is generated.
	ReadOnly bool
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
}

// DefaultOrigin begins the origin of a log opened without one; the name
// goes on with the host and a random part, unique to the log.
const DefaultOrigin = "otlink.local/historian"

// Repair describes what Open removed from a torn tail.
type Repair struct {
	Records     uint64 `json:"records"`      // leaf records dropped
	RecordBytes int64  `json:"record_bytes"` // partial record bytes dropped
	EntryBytes  int64  `json:"entry_bytes"`  // entry data past the last leaf dropped
	NodeRecords uint64 `json:"node_records"` // node hashes recomputed or dropped
	Checkpoints int    `json:"checkpoints"`  // torn checkpoint records dropped
}

// Log is an append-only Merkle log stored in a directory. It is safe for
// concurrent use.
type Log struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu       sync.RWMutex
	closed   bool
	idx, dat *os.File
	nodes    [maxLevel + 1]*os.File // [0] unused: level 0 lives in leaves.idx
	size     uint64
	datEnd   int64
	rng      *compact.Range
	repair   Repair
	scratch  []byte

	// checkpoints
	origin   string
	signer   note.Signer
	vkey     string
	verifier note.Verifier
	ckf      *os.File
	nck      int64 // checkpoint records
	latest   *Checkpoint
}

func openErr(err error, format string, args ...any) error {
	return errcode.Wrap(errcode.IntegrityOpen, err, format, args...)
}

func corrupt(format string, args ...any) error {
	return errcode.New(errcode.IntegrityCorrupt, format, args...)
}

// Open opens or creates the log in dir. It truncates a torn tail left by a
// crash (never below the last signed checkpoint) and recomputes missing
// node hashes, so appends continue where the last durable one ended.
func Open(dir string, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Log{dir: dir, opts: opts, log: opts.Logger}
	if !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, openErr(err, "create integrity directory %s", dir)
		}
	} else if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, openErr(err, "open integrity directory %s", dir)
	}
	if err := l.open(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	var err error
	if l.idx, err = l.openFile(leavesFile, magicLeaves, true); err != nil {
		return err
	}
	if l.dat, err = l.openFile(entriesFile, magicEntries, true); err != nil {
		return err
	}
	if err := l.openKeys(); err != nil {
		return err
	}
	if err := l.openCheckpoints(); err != nil {
		return err
	}
	if err := l.recoverLeaves(); err != nil {
		return err
	}
	if err := l.recoverNodes(); err != nil {
		return err
	}
	hashes := make([][]byte, 0, 64)
	for lv := maxLevel; lv >= 0; lv-- {
		if l.size>>uint(lv)&1 == 1 {
			h, err := l.readNode(lv, l.size>>uint(lv)-1)
			if err != nil {
				return err
			}
			hashes = append(hashes, h[:])
		}
	}
	l.rng, err = rangeFactory.NewRange(0, l.size, hashes)
	if err != nil {
		return corrupt("rebuild compact range: %v", err)
	}
	if l.repair != (Repair{}) && !l.opts.ReadOnly {
		l.log.Warn("integrity log repaired a torn tail", "records", l.repair.Records,
			"record_bytes", l.repair.RecordBytes, "entry_bytes", l.repair.EntryBytes, "node_records", l.repair.NodeRecords)
	}
	return nil
}

// openFile opens a file with a magic header, creating it when writable.
// A missing file in read-only mode returns nil, nil unless required.
func (l *Log) openFile(name string, magic []byte, required bool) (*os.File, error) {
	p := filepath.Join(l.dir, name)
	flag := os.O_RDWR | os.O_CREATE
	if l.opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		if l.opts.ReadOnly && !required && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, openErr(err, "open %s", p)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, openErr(err, "stat %s", p)
	}
	if st.Size() == 0 && !l.opts.ReadOnly {
		if _, err := f.WriteAt(magic, 0); err != nil {
			f.Close()
			return nil, errcode.Wrap(errcode.IntegrityWrite, err, "write header of %s", p)
		}
		return f, nil
	}
	hdr := make([]byte, headerSize)
	if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr) != string(magic) {
		f.Close()
		return nil, corrupt("%s has no %q header", p, magic)
	}
	return f, nil
}

func fileSize(f *os.File) (int64, error) {
	if f == nil {
		return 0, nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, openErr(err, "stat %s", f.Name())
	}
	return st.Size(), nil
}

// record is one decoded leaves.idx record.
type record struct {
	hash Hash
	off  uint64
	n    uint32
	crc  uint32
}

func parseRecord(i uint64, b []byte) (record, bool) {
	var r record
	copy(r.hash[:], b[:32])
	r.off = binary.BigEndian.Uint64(b[32:40])
	r.n = binary.BigEndian.Uint32(b[40:44])
	r.crc = binary.BigEndian.Uint32(b[44:48])
	return r, r.crc == recordCRC(i, b[:44])
}

// recordCRC covers the leaf index too, so a record moved to another slot
// fails its check.
func recordCRC(i uint64, b []byte) uint32 {
	var ib [8]byte
	binary.BigEndian.PutUint64(ib[:], i)
	c := crc32.Update(0, castagnoli, ib[:])
	return crc32.Update(c, castagnoli, b)
}

func putRecord(b []byte, i uint64, h Hash, off uint64, n uint32) {
	copy(b[:32], h[:])
	binary.BigEndian.PutUint64(b[32:40], off)
	binary.BigEndian.PutUint32(b[40:44], n)
	binary.BigEndian.PutUint32(b[44:48], recordCRC(i, b[:44]))
}

func (l *Log) readRecord(i uint64) (record, bool, error) {
	var b [recordSize]byte
	if _, err := l.idx.ReadAt(b[:], headerSize+int64(i)*recordSize); err != nil {
		return record{}, false, corrupt("read leaf record %d: %v", i, err)
	}
	r, ok := parseRecord(i, b[:])
	return r, ok, nil
}

// recoverLeaves finds the longest prefix of leaf records whose last record
// is intact and whose entry data is present and hashes to it.
func (l *Log) recoverLeaves() error {
	isz, err := fileSize(l.idx)
	if err != nil {
		return err
	}
	dsz, err := fileSize(l.dat)
	if err != nil {
		return err
	}
	k := uint64(isz-headerSize) / recordSize
	l.repair.RecordBytes = (isz - headerSize) % recordSize
	floor := uint64(0)
	if l.latest != nil {
		floor = l.latest.Size
	}
	n := k
	for n > 0 {
		r, ok, err := l.readRecord(n - 1)
		if err != nil {
			return err
		}
		if ok && r.off >= headerSize && r.n <= MaxEntrySize && int64(r.off)+int64(r.n) <= dsz {
			data := make([]byte, r.n)
			if _, err := l.dat.ReadAt(data, int64(r.off)); err == nil && HashData(data) == r.hash {
				break
			}
		}
		if n <= floor {
			if l.opts.ReadOnly {
				// Signed leaves are damaged: keep every record so Verify
				// reports each one.
				n = k
				break
			}
			return corrupt("leaf %d of %s is damaged but checkpoint %d covers it: entries were altered or removed", n-1, leavesFile, floor)
		}
		n--
	}
	if k < floor && !l.opts.ReadOnly {
		return corrupt("%s holds %d leaves but checkpoint %d was signed: entries were removed", leavesFile, k, floor)
	}
	l.size = n
	l.datEnd = headerSize
	if n > 0 {
		r, _, err := l.readRecord(n - 1)
		if err != nil {
			return err
		}
		l.datEnd = min(int64(r.off)+int64(r.n), dsz)
	}
	l.repair.Records = k - n
	if dsz > l.datEnd {
		l.repair.EntryBytes = dsz - l.datEnd
	}
	if l.opts.ReadOnly {
		l.datEnd = dsz // Verify bounds reads by the file, not by a record it doubts
		return nil
	}
	if err := truncate(l.idx, headerSize+int64(n)*recordSize, isz); err != nil {
		return err
	}
	return truncate(l.dat, l.datEnd, dsz)
}

func truncate(f *os.File, to, have int64) error {
	if have <= to {
		return nil
	}
	if err := f.Truncate(to); err != nil {
		return errcode.Wrap(errcode.IntegrityWrite, err, "truncate torn tail of %s", f.Name())
	}
	return nil
}

// recoverNodes makes every level hold exactly size>>level node hashes,
// dropping extras and recomputing missing ones from the level below.
func (l *Log) recoverNodes() error {
	for lv := 1; lv <= maxLevel; lv++ {
		want := l.size >> uint(lv)
		p := filepath.Join(l.dir, nodesFile(lv))
		if want == 0 {
			if _, err := os.Stat(p); err != nil {
				break // levels above the tree's height have no files
			}
		}
		f, err := l.openFile(nodesFile(lv), magicNodes, false)
		if err != nil {
			return err
		}
		l.nodes[lv] = f
		if f == nil {
			continue
		}
		sz, err := fileSize(f)
		if err != nil {
			return err
		}
		have := uint64(sz-headerSize) / nodeSize
		if l.opts.ReadOnly {
			continue
		}
		if have > want || (sz-headerSize)%nodeSize != 0 {
			if have > want {
				l.repair.NodeRecords += have - want
				have = want
			}
			if err := truncate(f, headerSize+int64(have)*nodeSize, sz); err != nil {
				return err
			}
		}
		for j := have; j < want; j += 4096 {
			cnt := min(4096, want-j)
			children, err := l.readNodes(lv-1, 2*j, 2*cnt)
			if err != nil {
				return err
			}
			out := make([]byte, 0, cnt*nodeSize)
			for c := uint64(0); c < cnt; c++ {
				out = append(out, hasher.HashChildren(children[64*c:64*c+32], children[64*c+32:64*c+64])...)
			}
			if _, err := f.WriteAt(out, headerSize+int64(j)*nodeSize); err != nil {
				return errcode.Wrap(errcode.IntegrityWrite, err, "rebuild %s", f.Name())
			}
			l.repair.NodeRecords += cnt
		}
	}
	return nil
}

// readNodes returns count consecutive node hashes of a level, concatenated.
func (l *Log) readNodes(level int, start, count uint64) ([]byte, error) {
	if level == 0 {
		buf := make([]byte, count*recordSize)
		if _, err := l.idx.ReadAt(buf, headerSize+int64(start)*recordSize); err != nil {
			return nil, corrupt("read leaves %d+%d: %v", start, count, err)
		}
		out := make([]byte, 0, count*nodeSize)
		for c := uint64(0); c < count; c++ {
			out = append(out, buf[c*recordSize:c*recordSize+32]...)
		}
		return out, nil
	}
	f := l.nodes[level]
	if f == nil {
		return nil, corrupt("%s is missing", nodesFile(level))
	}
	buf := make([]byte, count*nodeSize)
	if _, err := f.ReadAt(buf, headerSize+int64(start)*nodeSize); err != nil {
		return nil, corrupt("read %s nodes %d+%d: %v", nodesFile(level), start, count, err)
	}
	return buf, nil
}

func (l *Log) readNode(level int, index uint64) (Hash, error) {
	var h Hash
	b, err := l.readNodes(level, index, 1)
	if err == nil {
		copy(h[:], b)
	}
	return h, err
}

// Append adds entries as consecutive leaves and returns the index of the
// first. Either the whole batch is appended or none of it.
func (l *Log) Append(ctx context.Context, entries ...Entry) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	first := l.size
	if len(entries) == 0 {
		return first, nil
	}
	saved := append([][]byte(nil), l.rng.Hashes()...)
	data := l.scratch[:0]
	idx := make([]byte, len(entries)*recordSize)
	var nodeBuf [maxLevel + 1][]byte
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			nodeBuf[id.Level] = append(nodeBuf[id.Level], h...)
		}
	}
	now := l.opts.Now()
	fail := func(err error) (uint64, error) {
		l.rng, _ = rangeFactory.NewRange(0, first, saved)
		return 0, err
	}
	for k := range entries {
		e := &entries[k]
		i := first + uint64(k)
		if e.Time.IsZero() {
			e.Time = now
		}
		for _, x := range e.Leaves {
			if x >= i {
				return fail(badEntry("%s entry %d refers to leaf %d, not before it", e.Kind, i, x))
			}
		}
		start := len(data)
		var err error
		if data, err = e.AppendEncoding(data); err != nil {
			return fail(err)
		}
		if len(data)-start > MaxEntrySize {
			return fail(badEntry("entry %d of %d bytes is larger than %d", i, len(data)-start, MaxEntrySize))
		}
		h := HashData(data[start:])
		putRecord(idx[k*recordSize:], i, h, uint64(l.datEnd)+uint64(start), uint32(len(data)-start))
		if err := l.rng.Append(append([]byte(nil), h[:]...), visit); err != nil {
			return fail(corrupt("extend tree: %v", err))
		}
	}
	l.scratch = data
	werr := func(err error, f *os.File) (uint64, error) {
		return fail(errcode.Wrap(errcode.IntegrityWrite, err, "append to %s", f.Name()))
	}
	if _, err := l.dat.WriteAt(data, l.datEnd); err != nil {
		return werr(err, l.dat)
	}
	if _, err := l.idx.WriteAt(idx, headerSize+int64(first)*recordSize); err != nil {
		return werr(err, l.idx)
	}
	for lv := 1; lv <= maxLevel && len(nodeBuf[lv]) > 0; lv++ {
		if l.nodes[lv] == nil {
			f, err := l.openFile(nodesFile(lv), magicNodes, true)
			if err != nil {
				return fail(err)
			}
			l.nodes[lv] = f
		}
		if _, err := l.nodes[lv].WriteAt(nodeBuf[lv], headerSize+int64(first>>uint(lv))*nodeSize); err != nil {
			return werr(err, l.nodes[lv])
		}
	}
	if l.opts.Sync == SyncEveryAppend {
		if err := l.syncLocked(); err != nil {
			return fail(err)
		}
	}
	l.size += uint64(len(entries))
	l.datEnd += int64(len(data))
	return first, nil
}

func (l *Log) writable() error {
	if l.closed {
		return errcode.New(errcode.IntegrityClosed, "integrity log %s is closed", l.dir)
	}
	if l.opts.ReadOnly {
		return errcode.New(errcode.IntegrityReadOnly, "integrity log %s is open read-only", l.dir)
	}
	return nil
}

// Sync flushes appended entries to the disk.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	files := []*os.File{l.dat, l.idx}
	for _, f := range l.nodes[1:] {
		if f != nil {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return errcode.Wrap(errcode.IntegrityWrite, err, "sync %s", f.Name())
		}
	}
	return nil
}

// Close syncs and closes the files. Further calls fail with OTL-5058.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var err error
	if !l.opts.ReadOnly {
		err = l.syncLocked()
	}
	l.closed = true
	l.closeFiles()
	return err
}

func (l *Log) closeFiles() {
	for _, f := range append([]*os.File{l.idx, l.dat, l.ckf}, l.nodes[:]...) {
		if f != nil {
			f.Close()
		}
	}
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Size returns the number of leaves.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Repaired returns what Open removed or rebuilt after a crash.
func (l *Log) Repaired() Repair {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.repair
}

// Root returns the current tree's root hash (SHA-256 of nothing when empty).
func (l *Log) Root() Hash {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rootLocked()
}

func (l *Log) rootLocked() Hash {
	var h Hash
	r, _ := l.rng.GetRootHash(nil)
	if r == nil {
		r = hasher.EmptyRoot()
	}
	copy(h[:], r)
	return h
}

// RootAt returns the root of the tree of the first size leaves, from O(log n)
// stored node hashes.
func (l *Log) RootAt(size uint64) (Hash, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.readable(size); err != nil {
		return Hash{}, err
	}
	return l.rootAtLocked(size)
}

func (l *Log) rootAtLocked(size uint64) (Hash, error) {
	if size == l.size {
		return l.rootLocked(), nil
	}
	if size == 0 {
		return Hash(sha256.Sum256(nil)), nil
	}
	var acc []byte
	for lv := 0; lv <= maxLevel; lv++ {
		if size>>uint(lv)&1 == 1 {
			h, err := l.readNode(lv, size>>uint(lv)-1)
			if err != nil {
				return Hash{}, err
			}
			if acc == nil {
				acc = h[:]
			} else {
				acc = hasher.HashChildren(h[:], acc)
			}
		}
	}
	var out Hash
	copy(out[:], acc)
	return out, nil
}

func (l *Log) readable(size uint64) error {
	if l.closed {
		return errcode.New(errcode.IntegrityClosed, "integrity log %s is closed", l.dir)
	}
	if size > l.size {
		return errcode.New(errcode.IntegrityOutOfRange, "tree size %d beyond the log's %d", size, l.size)
	}
	return nil
}

// LeafData returns the stored canonical encoding of leaf i, checked against
// its leaf hash.
func (l *Log) LeafData(i uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.readable(i + 1); err != nil {
		return nil, err
	}
	r, ok, err := l.readRecord(i)
	if err != nil {
		return nil, err
	}
	if !ok || r.n > MaxEntrySize {
		return nil, corrupt("leaf record %d fails its checksum", i)
	}
	data := make([]byte, r.n)
	if _, err := l.dat.ReadAt(data, int64(r.off)); err != nil {
		return nil, corrupt("read entry %d: %v", i, err)
	}
	if HashData(data) != r.hash {
		return nil, corrupt("entry %d does not match its leaf hash", i)
	}
	return data, nil
}

// Entry returns leaf i decoded.
func (l *Log) Entry(i uint64) (Entry, error) {
	data, err := l.LeafData(i)
	if err != nil {
		return Entry{}, err
	}
	return DecodeEntry(data)
}

// LeafHash returns the stored leaf hash of leaf i.
func (l *Log) LeafHash(i uint64) (Hash, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.readable(i + 1); err != nil {
		return Hash{}, err
	}
	return l.readNode(0, i)
}

// InclusionProof proves leaf index is in the tree of the given size, as
// RFC 6962 audit path hashes for proof.VerifyInclusion.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.readable(size); err != nil {
		return nil, err
	}
	if index >= size {
		return nil, errcode.New(errcode.IntegrityOutOfRange, "leaf %d not in a tree of %d", index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, errcode.Wrap(errcode.IntegrityOutOfRange, err, "inclusion proof")
	}
	return l.fetchProof(nodes)
}

// ConsistencyProof proves the tree of size from is a prefix of the tree of
// size to, for proof.VerifyConsistency.
func (l *Log) ConsistencyProof(from, to uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.readable(to); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, errcode.Wrap(errcode.IntegrityOutOfRange, err, "consistency proof")
	}
	return l.fetchProof(nodes)
}

func (l *Log) fetchProof(nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := l.readNode(int(id.Level), id.Index)
		if err != nil {
			return nil, err
		}
		hs[i] = h[:]
	}
	return nodes.Rehash(hs, hasher.HashChildren)
}

// scanner reads leaves sequentially without the log's lock: files only grow
// below the snapshot size while the log is open.
type scanner struct {
	idx, dat *bufio.Reader
	datFile  *os.File
	pos      int64 // position of dat reader in entries.dat
	datEnd   int64
	rec      [recordSize]byte
	buf      []byte
}

func newScanner(idx, dat *os.File, datEnd int64, from uint64) *scanner {
	s := &scanner{datFile: dat, datEnd: datEnd}
	s.idx = bufio.NewReaderSize(io.NewSectionReader(idx, headerSize+int64(from)*recordSize, 1<<62), 1<<16)
	s.seek(headerSize)
	return s
}

func (s *scanner) seek(off int64) {
	s.pos = off
	s.dat = bufio.NewReaderSize(io.NewSectionReader(s.datFile, off, max(0, s.datEnd-off)), 1<<18)
}

// next reads record i and its entry data. data is nil when the record is
// damaged or points outside the entry data; why says what is wrong.
func (s *scanner) next(i uint64) (r record, data []byte, why string, err error) {
	if _, err := io.ReadFull(s.idx, s.rec[:]); err != nil {
		return r, nil, "", corrupt("read leaf record %d: %v", i, err)
	}
	r, ok := parseRecord(i, s.rec[:])
	switch {
	case !ok:
		return r, nil, "leaf record fails its checksum (altered, moved or reordered)", nil
	case r.n > MaxEntrySize || r.off < headerSize || int64(r.off)+int64(r.n) > s.datEnd:
		return r, nil, "leaf record points outside the entry data", nil
	}
	if int64(r.off) != s.pos {
		s.seek(int64(r.off))
	}
	if cap(s.buf) < int(r.n) {
		s.buf = make([]byte, r.n)
	}
	data = s.buf[:r.n]
	if _, err := io.ReadFull(s.dat, data); err != nil {
		s.seek(int64(r.off) + int64(r.n))
		return r, nil, "entry data cannot be read", nil
	}
	s.pos += int64(r.n)
	return r, data, "", nil
}

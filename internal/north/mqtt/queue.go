package mqtt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/otlink/otlink/internal/errcode"
)

// On-disk format: <dir>/<20-digit segment number>.seg holds records
//   [len uint32 LE][crc32c(data) uint32 LE][data]
// and <dir>/ack holds "<segment> <offset>\n", the position after the last
// acknowledged record (written to a temp file and renamed).

const segMax = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type pos struct {
	seg uint64
	off int64
}

type queue struct {
	dir string
	max int64
	log *slog.Logger

	mu     sync.Mutex
	notify chan struct{}
	w      *os.File
	wseg   uint64
	woff   int64
	size   int64 // bytes in all segments at or after the acked segment
	rd     pos   // next record to read
	ack    pos
	r      *os.File
	rseg   uint64
}

func segName(dir string, n uint64) string { return filepath.Join(dir, fmt.Sprintf("%020d.seg", n)) }

func openQueue(dir string, max int64) (*queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, errcode.Wrap(errcode.NorthQueueIO, err, "create queue folder %s", dir)
	}
	q := &queue{dir: dir, max: max, log: slog.Default(), notify: make(chan struct{}, 1)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, errcode.Wrap(errcode.NorthQueueIO, err, "read queue folder %s", dir)
	}
	var segs []uint64
	for _, e := range ents {
		if n, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".seg"), 10, 64); err == nil && strings.HasSuffix(e.Name(), ".seg") {
			segs = append(segs, n)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	if b, err := os.ReadFile(filepath.Join(dir, "ack")); err == nil {
		fmt.Sscanf(string(b), "%d %d", &q.ack.seg, &q.ack.off)
	}
	if len(segs) == 0 {
		segs = []uint64{q.ack.seg + 1}
	}
	if q.ack.seg < segs[0] { // the acked segment was deleted: start at the first one
		q.ack = pos{seg: segs[0]}
	}
	for _, s := range segs {
		if fi, err := os.Stat(segName(dir, s)); err == nil && s >= q.ack.seg {
			q.size += fi.Size()
		}
	}
	// Write into a fresh segment unless the last one is empty: a crash may
	// have left a torn record at its end, and only damage in an older
	// segment can be skipped without losing what is appended after it.
	q.wseg = segs[len(segs)-1]
	if fi, err := os.Stat(segName(dir, q.wseg)); err == nil && fi.Size() > 0 {
		q.wseg++
	}
	q.w, err = os.OpenFile(segName(dir, q.wseg), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, errcode.Wrap(errcode.NorthQueueIO, err, "open queue segment")
	}
	q.rd = q.ack
	return q, nil
}

// roll starts the next segment; q.mu is held.
func (q *queue) roll() error {
	nw, err := os.OpenFile(segName(q.dir, q.wseg+1), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "roll queue segment")
	}
	q.w.Close()
	q.w, q.wseg, q.woff = nw, q.wseg+1, 0
	return nil
}

// append adds one record; it fails fast when the queue is over its limit.
func (q *queue) append(data []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return errcode.New(errcode.NorthClosed, "queue closed")
	}
	n := int64(len(data) + 8)
	if q.max > 0 && q.size+n > q.max {
		return errcode.New(errcode.NorthQueueFull, "queue %s holds %d bytes, limit %d", q.dir, q.size, q.max)
	}
	if q.woff >= segMax {
		if err := q.roll(); err != nil {
			return err
		}
	}
	buf := make([]byte, 8, n)
	binary.LittleEndian.PutUint32(buf, uint32(len(data)))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(data, castagnoli))
	buf = append(buf, data...)
	if _, err := q.w.Write(buf); err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "write queue segment")
	}
	q.woff += n
	q.size += n
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// next returns the next unread record and the position after it, or nil.
// A record failing its CRC ends its segment (the framing of the rest is
// lost); it is logged with NorthQueueCorrupt and reading goes on with the
// next segment.
func (q *queue) next() ([]byte, pos, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.rd.seg == q.wseg && q.rd.off >= q.woff {
			return nil, q.rd, nil
		}
		if q.r == nil || q.rseg != q.rd.seg {
			if q.r != nil {
				q.r.Close()
				q.r = nil
			}
			f, err := os.Open(segName(q.dir, q.rd.seg))
			if err != nil {
				if os.IsNotExist(err) && q.rd.seg < q.wseg {
					q.rd = pos{seg: q.rd.seg + 1}
					continue
				}
				return nil, q.rd, errcode.Wrap(errcode.NorthQueueIO, err, "open queue segment")
			}
			q.r, q.rseg = f, q.rd.seg
		}
		var hdr [8]byte
		_, err := q.r.ReadAt(hdr[:], q.rd.off)
		var data []byte
		if err == nil {
			data = make([]byte, binary.LittleEndian.Uint32(hdr[:]))
			_, err = q.r.ReadAt(data, q.rd.off+8)
			if err == nil && crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
				err = errcode.New(errcode.NorthQueueCorrupt, "record at %s:%d fails its checksum", segName(q.dir, q.rd.seg), q.rd.off)
			}
		}
		if err == nil {
			q.rd.off += int64(len(data)) + 8
			return data, q.rd, nil
		}
		if q.rd.seg < q.wseg { // end or damage of an older segment: go on with the next
			if err != io.EOF || q.rd.off != segEnd(q.r) {
				q.log.Warn("queue segment damaged, rest skipped", "code", errcode.NorthQueueCorrupt.String(), "err", err, "seg", segName(q.dir, q.rd.seg), "off", q.rd.off)
			}
			q.rd = pos{seg: q.rd.seg + 1}
			continue
		}
		// Appends and reads both hold q.mu and the open segment starts empty,
		// so a short or failing record here is damage, not a record being
		// written: roll the writer so the reader can skip past it.
		if err := q.roll(); err != nil {
			return nil, q.rd, err
		}
	}
}

func segEnd(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return -1
	}
	return fi.Size()
}

func (q *queue) ackPos() pos {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ack
}

// rewind makes the next read start after the last acknowledged record.
func (q *queue) rewind() {
	q.mu.Lock()
	q.rd = q.ack
	q.mu.Unlock()
}

// acknowledge records p as sent and deletes the segments before it.
func (q *queue) acknowledge(p pos) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	old := q.ack.seg
	q.ack = p
	tmp := filepath.Join(q.dir, "ack.tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", p.seg, p.off), 0o640); err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "write queue ack")
	}
	if err := os.Rename(tmp, filepath.Join(q.dir, "ack")); err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "write queue ack")
	}
	for s := old; s < p.seg; s++ {
		name := segName(q.dir, s)
		if fi, err := os.Stat(name); err == nil {
			q.size -= fi.Size()
			if q.r != nil && q.rseg == s {
				q.r.Close()
				q.r = nil
			}
			os.Remove(name)
		}
	}
	return nil
}

// pending reports whether unacknowledged records remain.
func (q *queue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !(q.ack.seg == q.wseg && q.ack.off >= q.woff)
}

func (q *queue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.r != nil {
		q.r.Close()
		q.r = nil
	}
	if q.w == nil {
		return nil
	}
	err := q.w.Close()
	q.w = nil
	return err
}

package mqtt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

func rec(i int) []byte { return fmt.Appendf(nil, "record-%04d", i) }

// drain reads every available record, acknowledging none.
func drain(t *testing.T, q *queue) (out [][]byte, last pos) {
	t.Helper()
	for i := 0; i < 100000; i++ {
		r, at, err := q.next()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return out, at
		}
		out = append(out, r)
		last = at
	}
	t.Fatal("queue never ran dry")
	return nil, last
}

func TestQueueRestartResumesAtAck(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := q.append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	var ackAt pos
	for i := 0; i < 4; i++ {
		r, at, err := q.next()
		if err != nil || !bytes.Equal(r, rec(i)) {
			t.Fatalf("record %d: %q, %v", i, r, err)
		}
		ackAt = at
	}
	if err := q.acknowledge(ackAt); err != nil {
		t.Fatal(err)
	}
	q.next() // read but never acknowledged: must come again
	q.close()

	q, err = openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if !q.pending() {
		t.Fatal("reopened queue reports nothing pending")
	}
	if err := q.append(rec(10)); err != nil {
		t.Fatal(err)
	}
	got, last := drain(t, q)
	if len(got) != 7 {
		t.Fatalf("after restart read %d records, want 7 (4..10)", len(got))
	}
	for i, r := range got {
		if !bytes.Equal(r, rec(i+4)) {
			t.Fatalf("record %d after restart is %q, want %q", i, r, rec(i+4))
		}
	}
	q.acknowledge(last)
	if q.pending() {
		t.Fatal("everything acknowledged but queue still pending")
	}
	// rewind after an unacknowledged read goes back to the ack position
	q.append(rec(11))
	drain(t, q)
	q.rewind()
	if got, _ := drain(t, q); len(got) != 1 || !bytes.Equal(got[0], rec(11)) {
		t.Fatalf("after rewind read %q, want [record-0011]", got)
	}
}

func TestQueueChecksumDamage(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		q.append(rec(i))
	}
	seg := segName(dir, q.wseg)
	q.close()
	// flip one byte in the data of the third record
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	recLen := 8 + len(rec(0))
	b[2*recLen+8+3] ^= 0xff
	if err := os.WriteFile(seg, b, 0o640); err != nil {
		t.Fatal(err)
	}

	q, err = openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	q.append(rec(5)) // lands in the fresh segment after the damaged one
	got, _ := drain(t, q)
	want := [][]byte{rec(0), rec(1), rec(5)}
	if len(got) != len(want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
}

func TestQueueDamageInWriteSegmentDoesNotWedge(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	q.append(rec(0))
	q.append(rec(1))
	// damage the segment being written (disk fault while running)
	f, err := os.OpenFile(segName(dir, q.wseg), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, 8+2)
	f.Close()
	got, _ := drain(t, q)
	if len(got) != 0 {
		t.Fatalf("read %q from a damaged segment", got)
	}
	q.append(rec(2))
	if got, _ := drain(t, q); len(got) != 1 || !bytes.Equal(got[0], rec(2)) {
		t.Fatalf("after damage read %q, want [record-0002]", got)
	}
}

func TestQueueTornTailAfterCrash(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	q.append(rec(0))
	seg := segName(dir, q.wseg)
	q.close()
	// a crash mid-write: a header promising 100 bytes, 3 of them written
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{100, 0, 0, 0, 1, 2, 3, 4, 'a', 'b', 'c'})
	f.Close()

	q, err = openQueue(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	q.append(rec(1))
	got, _ := drain(t, q)
	if len(got) != 2 || !bytes.Equal(got[0], rec(0)) || !bytes.Equal(got[1], rec(1)) {
		t.Fatalf("read %q, want [record-0000 record-0001]", got)
	}
}

func TestQueueSegmentRollover(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 12<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	for i := 0; i < 10; i++ {
		if err := q.append(big); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 3 {
		t.Fatalf("10 MiB in %d segments, want 3 of at most 4 MiB", len(segs))
	}
	if err := q.append(big); err != nil {
		t.Fatal(err)
	}
	if err := q.append(big); errcode.Of(err) != errcode.NorthQueueFull {
		t.Fatalf("append over the limit: %v, want %s", err, errcode.NorthQueueFull)
	}
	for i := 0; i < 9; i++ {
		r, at, err := q.next()
		if err != nil || len(r) != len(big) {
			t.Fatalf("record %d: %d bytes, %v", i, len(r), err)
		}
		if err := q.acknowledge(at); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ = filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("after acknowledging 9 of 11 records %d segments remain, want 1", len(segs))
	}
	if err := q.append(big); err != nil {
		t.Fatalf("append after the acknowledged segments were freed: %v", err)
	}
}

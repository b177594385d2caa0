package dissecttest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// The fuzz harnesses below feed fuzzed bytes to one parser of d and check
// what every dissector must hold: no panic, every PDU labelled with d's
// protocol, bounded objects, and (through check) bounded buffers. Each
// keeps the input layout of the seed corpora committed with the packages
// that use it.

// FuzzControl feeds data[1:] cut into chunks whose size is set by the
// control byte data[0]: bits 3–7 give the chunk size minus one, bit 0
// alternates directions, bit 1 sends UDP datagrams, bit 2 reports a gap
// after the third chunk. check runs after every chunk.
func FuzzControl(t *testing.T, d dissect.Dissector, data []byte, check func(dissect.Parser)) {
	if len(data) == 0 {
		return
	}
	ctl, b := data[0], data[1:]
	chunk := int(ctl>>3) + 1
	pr := d.NewParser()
	tr := dissect.TCP
	if ctl&2 != 0 {
		tr = dissect.UDP
	}
	d.Probe(tr, b)
	emit := labelled(t, d.Proto(), 0)
	for i := 0; len(b) > 0 && i < 1<<16; i++ {
		n := min(chunk, len(b))
		if tr == dissect.UDP {
			n = len(b)
		}
		dir := dissect.ToServer
		if ctl&1 != 0 && i%2 == 1 {
			dir = dissect.ToClient
		}
		pr.Data(dissect.Meta{Dir: dir, T: tr, Frame: uint64(i + 1)}, b[:n], emit)
		b = b[n:]
		if ctl&4 != 0 && i == 2 {
			pr.Gap(dir)
		}
		check(pr)
	}
}

// FuzzCut feeds b in segments of cut%64+1 bytes, over UDP when udp is set;
// bit 7 of cut alternates directions and bit 6 reports a gap every fifth
// segment. PDUs may carry at most 256 objects; check runs at the end.
func FuzzCut(t *testing.T, d dissect.Dissector, b []byte, cut uint8, udp bool, check func(dissect.Parser)) {
	p := d.NewParser()
	tr := dissect.TCP
	if udp {
		tr = dissect.UDP
	}
	emit := labelled(t, d.Proto(), 256)
	step := int(cut%64) + 1
	for i := 0; len(b) > 0; i++ {
		k := min(step, len(b))
		dir := dissect.Dir(i & 1 & int(cut>>7))
		p.Data(dissect.Meta{T: tr, Dir: dir}, b[:k], emit)
		if cut&0x40 != 0 && i%5 == 4 {
			p.Gap(dir)
		}
		b = b[k:]
	}
	check(p)
}

// FuzzSegments feeds data to both directions of one flow in segments of
// data[0]%64+1 bytes, with a gap half way through the client direction.
// PDUs may carry at most 1024 objects; check runs after every segment with
// the segment size.
func FuzzSegments(t *testing.T, d dissect.Dissector, data []byte, check func(p dissect.Parser, seg int)) {
	p := d.NewParser()
	emit := labelled(t, d.Proto(), 1024)
	d.Probe(dissect.TCP, data)
	seg := 1
	if len(data) > 0 {
		seg = int(data[0])%64 + 1
	}
	for _, dir := range []dissect.Dir{dissect.ToServer, dissect.ToClient} {
		for i := 0; i < len(data); i += seg {
			if i == len(data)/2 && dir == dissect.ToClient {
				p.Gap(dir)
			}
			p.Data(dissect.Meta{Dir: dir, T: dissect.TCP}, data[i:min(i+seg, len(data))], emit)
			check(p, seg)
		}
	}
}

// labelled returns an emit that fails on a PDU of another protocol or with
// more than maxObjects objects (0: any number).
func labelled(t *testing.T, proto string, maxObjects int) func(*dissect.PDU) {
	return func(p *dissect.PDU) {
		if p.Proto != proto {
			t.Fatalf("PDU labelled %q, want %q", p.Proto, proto)
		}
		if maxObjects > 0 && len(p.Objects) > maxObjects {
			t.Fatalf("%d objects in one PDU", len(p.Objects))
		}
	}
}

// WriteSeeds writes a fuzz seed corpus for FuzzSegments into
// testdata/fuzz/FuzzParser from the first 4 KiB of the client and server
// streams of the first flow of each shared capture of proto. It runs only
// with OTLINK_WRITE_SEEDS=1: the corpus is committed.
func WriteSeeds(t *testing.T, proto string, d dissect.Dissector) {
	if os.Getenv("OTLINK_WRITE_SEEDS") == "" {
		t.Skip("set OTLINK_WRITE_SEEDS=1 to rebuild testdata/fuzz/FuzzParser")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range Captures(t, proto) {
		var streams [2][]byte
		n := 0
		Replay(t, f, rawDissector{Dissector: d, n: &n, f: func(dir dissect.Dir, b []byte) {
			if len(streams[dir]) < 4096 {
				streams[dir] = append(streams[dir], b...)
			}
		}}, func(*dissect.PDU) {})
		for k, s := range streams {
			if len(s) == 0 {
				continue
			}
			s = s[:min(len(s), 4096)]
			// The first byte sets the segment size: keep real bytes after it.
			body := append([]byte{byte(7 + 13*k)}, s...)
			name := filepath.Join(dir, fmt.Sprintf("%s-%d", filepath.Base(f), k))
			if err := os.WriteFile(name, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", body)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// rawDissector hands the payloads of the first flow of a capture to f.
type rawDissector struct {
	dissect.Dissector
	n *int
	f func(dissect.Dir, []byte)
}

type rawParser struct {
	on bool
	f  func(dissect.Dir, []byte)
}

func (d rawDissector) NewParser() dissect.Parser {
	*d.n++
	return &rawParser{on: *d.n == 1, f: d.f}
}

func (p *rawParser) Data(m dissect.Meta, b []byte, _ func(*dissect.PDU)) {
	if p.on {
		p.f(m.Dir, b)
	}
}

func (p *rawParser) Gap(dissect.Dir) {}

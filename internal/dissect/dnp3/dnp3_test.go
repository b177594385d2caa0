package dnp3

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// encode builds a DNP3 link frame carrying ud (transport header and
// application data), with a CRC after the header and every 16 data bytes.
func encode(ctrl byte, dst, src uint16, ud []byte) []byte {
	h := []byte{0x05, 0x64, byte(5 + len(ud)), ctrl, byte(dst), byte(dst >> 8), byte(src), byte(src >> 8)}
	out := appendCRC(h, h)
	for len(ud) > 0 {
		n := min(16, len(ud))
		out = appendCRC(out, ud[:n])
		ud = ud[n:]
	}
	return out
}

func appendCRC(out, block []byte) []byte {
	if &out[0] != &block[0] {
		out = append(out, block...)
	}
	c := crc(block)
	return append(out, byte(c), byte(c>>8))
}

type collector struct{ pdus []dissect.PDU }

func (c *collector) emit(p *dissect.PDU) {
	q := *p
	q.Objects = append([]dissect.Object(nil), p.Objects...)
	for i := range q.Objects { // the parser reuses the values' memory
		q.Objects[i].Values = append([]float64(nil), q.Objects[i].Values...)
	}
	c.pdus = append(c.pdus, q)
}

// feed gives b to a parser n bytes at a time, as TCP segments.
func feed(p dissect.Parser, dir dissect.Dir, b []byte, n int, emit func(*dissect.PDU)) {
	for len(b) > 0 {
		k := min(n, len(b))
		p.Data(dissect.Meta{Dir: dir, T: dissect.TCP}, b[:k], emit)
		b = b[k:]
	}
}

func TestEncodedFrames(t *testing.T) {
	// Direct operate, CROB g12v1 qualifier 0x28 (2-byte index, 2-byte
	// count), index 3, latch on, from master 1 to outstation 10.
	crob := []byte{0xc0, 0xc1, 5, 12, 1, 0x28, 1, 0, 3, 0, 0x03, 1, 0x64, 0, 0, 0, 0, 0, 0, 0, 0}
	operate := encode(0xc4, 10, 1, crob)
	// Write of g50v1 time: a time set.
	ts := encode(0xc4, 10, 1, []byte{0xc1, 0xc2, 2, 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6})
	// A response split over two link frames (FIR then FIN), with device
	// attribute g0v252 (manufacturer) "Acme" and an analog input.
	app := []byte{0xc3, 129, 0x00, 0x00, 0, 252, 0x00, 0, 0, 1, 4, 'A', 'c', 'm', 'e', 30, 1, 0x00, 0, 1, 1, 0x2a, 0, 0, 0, 1, 0xf4, 0xff, 0xff, 0xff}
	resp := append(encode(0x44, 1, 10, append([]byte{0x40 | 5}, app[:12]...)), encode(0x44, 1, 10, append([]byte{0x80 | 6}, app[12:]...))...)
	bad := bytes.Clone(operate)
	bad[len(bad)-1] ^= 0xff // break the last data block CRC
	stream := bytes.Join([][]byte{[]byte("junk"), operate, ts, bad, operate}, nil)

	for _, seg := range []int{1, 7, 1000} {
		var c collector
		p := Dissector{}.NewParser()
		feed(p, dissect.ToServer, stream, seg, c.emit)
		feed(p, dissect.ToClient, resp, seg, c.emit)
		var got []string
		for _, q := range c.pdus {
			got = append(got, q.Name+"/"+q.Action.String()+"/"+q.Malformed)
		}
		want := []string{
			"/other/garbage before a link frame start 0x0564",
			"Direct Operate/write/", "Write/time_set/", "/other/bad crc in data block 1",
			"Direct Operate/write/", "Response/other/",
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("segments of %d: got %q, want %q", seg, got, want)
		}
		op := c.pdus[1]
		if op.Function != 5 || op.Unit != 10 || !op.Request || len(op.Objects) != 1 {
			t.Fatalf("operate: %+v", op)
		}
		if o := op.Objects[0]; o.Space != "g12v1 CROB" || o.Start != 3 || o.Count != 1 || len(o.Values) != 1 || o.Values[0] != 1 {
			t.Fatalf("crob object: %+v", o)
		}
		r := c.pdus[5]
		if r.Function != 129 || r.Unit != 10 || !r.Response || r.Identity["vendor"] != "Acme" {
			t.Fatalf("response: %+v", r)
		}
		if len(r.Objects) != 2 || r.Objects[1].Space != "g30v1 analog input" || len(r.Objects[1].Values) != 2 ||
			r.Objects[1].Values[0] != 42 || r.Objects[1].Values[1] != -12 {
			t.Fatalf("response objects: %+v", r.Objects)
		}
	}
}

// TestLinkOnlyAndGap checks that link-layer-only frames are emitted but not
// counted, and that a gap drops a half-reassembled fragment.
func TestLinkOnlyAndGap(t *testing.T) {
	var c collector
	p := Dissector{}.NewParser()
	feed(p, dissect.ToServer, encode(0xc9, 10, 1, nil), 100, c.emit) // request link status
	first := encode(0x44, 1, 10, []byte{0x40 | 1, 0xc0, 129, 0, 0})
	last := encode(0x44, 1, 10, []byte{0x80 | 2, 0})
	feed(p, dissect.ToClient, first, 100, c.emit)
	p.Gap(dissect.ToClient)
	feed(p, dissect.ToClient, last, 100, c.emit)
	if len(c.pdus) != 2 || c.pdus[0].Counting != dissect.CountNone || c.pdus[0].Name != "Request Link Status" ||
		c.pdus[1].Counting != dissect.CountNone || c.pdus[1].Malformed == "" {
		t.Fatalf("got %+v", c.pdus)
	}
}

func TestAuthCapture(t *testing.T) {
	f := dissecttest.Capture("dnp3", "iti__auth_control_challenge_response.pcap")
	if _, err := os.Stat(f); err != nil {
		t.Skipf("%s missing", filepath.Base(f))
	}
	var auth int
	dissecttest.Replay(t, f, Dissector{}, func(p *dissect.PDU) {
		if p.Action == dissect.ActAuth {
			auth++
		}
	})
	if auth < 2 {
		t.Fatalf("%d authentication pdus, want the challenge and its reply", auth)
	}
}

func TestProbe(t *testing.T) {
	d := Dissector{}
	if !d.Probe(dissect.TCP, encode(0xc9, 10, 1, nil)) || d.Probe(dissect.TCP, []byte("\x05\x64GET / HTTP/1.1")) {
		t.Fatal("probe")
	}
}

package opcua

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// FuzzParser feeds arbitrary bytes to one flow, cut into segments by the
// first byte and sent in both directions with a gap in the middle: no
// panic, bounded buffers, and every PDU labelled with the protocol.
func FuzzParser(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Dissector{}.NewParser().(*parser)
		emit := func(u *dissect.PDU) {
			if u.Proto != Proto {
				t.Fatalf("PDU of %q", u.Proto)
			}
			if len(u.Objects) > 1024 {
				t.Fatalf("%d objects", len(u.Objects))
			}
		}
		Dissector{}.Probe(dissect.TCP, data)
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
				if n := len(p.d[dir].buf); n > maxBuffered+seg {
					t.Fatalf("buffer %d bytes", n)
				}
			}
		}
	})
}

// TestWriteSeeds writes the fuzz seed corpus from the client and server
// streams of the shared captures (OTLINK_WRITE_SEEDS=1); the corpus is
// committed, so this runs only when it is to be rebuilt.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("OTLINK_WRITE_SEEDS") == "" {
		t.Skip("set OTLINK_WRITE_SEEDS=1 to rebuild testdata/fuzz/FuzzParser")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range dissecttest.Captures(t, Proto) {
		var streams [2][]byte
		replayRaw(t, f, func(d dissect.Dir, b []byte) {
			if len(streams[d]) < 4096 {
				streams[d] = append(streams[d], b...)
			}
		})
		for d, s := range streams {
			if len(s) == 0 {
				continue
			}
			s = s[:min(len(s), 4096)]
			// The first byte sets the segment size: keep real bytes after it.
			body := append([]byte{byte(7 + 13*d)}, s...)
			name := filepath.Join(dir, fmt.Sprintf("%s-%d", filepath.Base(f), d))
			if err := os.WriteFile(name, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", body)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// rawDissector hands the payloads of the first flow of a capture to f.
type rawDissector struct {
	Dissector
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

func replayRaw(t *testing.T, path string, f func(dissect.Dir, []byte)) {
	n := 0
	dissecttest.Replay(t, path, rawDissector{n: &n, f: f}, func(*dissect.PDU) {})
}

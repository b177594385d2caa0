package modbus

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

func frames(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = mb.AppendMBAP(b, uint16(i), 1, 5)
		b = mb.AppendReadRequest(b, mb.FuncReadInputRegisters, uint16(i), 2)
	}
	return b
}

// A stream cut anywhere, even byte by byte, yields the same PDUs.
func TestByteByByte(t *testing.T) {
	b := frames(20)
	p := Dissector{}.NewParser()
	var got []uint32
	for i := range b {
		p.Data(dissect.Meta{Dir: dissect.ToServer, T: dissect.TCP}, b[i:i+1], func(d *dissect.PDU) {
			if d.Malformed != "" || d.Function != 4 {
				t.Fatalf("PDU %+v", d)
			}
			got = append(got, d.Objects[0].Start)
		})
	}
	if len(got) != 20 || got[19] != 19 {
		t.Fatalf("got %v", got)
	}
}

// Garbage is reported once as malformed; after a gap the parser resumes at
// the next frame boundary.
func TestGarbageAndGap(t *testing.T) {
	p := Dissector{}.NewParser()
	var malformed, good int
	emit := func(d *dissect.PDU) {
		if d.Malformed != "" {
			malformed++
			if d.Counting != dissect.CountNone {
				t.Errorf("malformed header counted: %+v", d)
			}
			return
		}
		good++
	}
	m := dissect.Meta{Dir: dissect.ToServer, T: dissect.TCP}
	p.Data(m, frames(2), emit)
	p.Data(m, []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n"), emit)
	p.Data(m, []byte("more garbage that is not modbus"), emit)
	p.Data(m, frames(3), emit) // a segment starting with a frame resyncs
	p.Data(m, frames(1)[:4], emit)
	p.Gap(dissect.ToServer)
	p.Data(m, frames(1)[4:], emit) // the tail after the hole is dropped
	p.Data(m, frames(2), emit)
	if malformed != 1 || good != 7 {
		t.Fatalf("malformed %d good %d, want 1 and 7", malformed, good)
	}
}

func TestProbe(t *testing.T) {
	d := Dissector{}
	if !d.Probe(dissect.TCP, frames(1)) {
		t.Error("read request not recognised")
	}
	for _, b := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n"),
		{0, 1, 0, 0, 0, 6, 1, 0, 0, 0, 0, 1},    // function 0
		{0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1},    // protocol id 1
		{0, 1, 0, 0, 0x10, 6, 1, 3, 0, 0, 0, 1}, // length 4102
	} {
		if d.Probe(dissect.TCP, b) {
			t.Errorf("probe accepted % x", b)
		}
	}
	if d.Probe(dissect.UDP, frames(1)) {
		t.Error("probe accepted UDP")
	}
}

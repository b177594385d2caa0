package flow_test

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// line is a test-only protocol: lines ending in '\n' on TCP 7777 (or
// anywhere, found by its probe "LINE "); each line is one PDU whose
// Function is its first byte.
type line struct{}

func (line) Proto() string { return "line" }
func (line) Ports() []dissect.Port {
	return []dissect.Port{{T: dissect.TCP, Port: 7777}, {T: dissect.UDP, Port: 7777}}
}
func (line) Probe(t dissect.Transport, b []byte) bool { return bytes.HasPrefix(b, []byte("LINE ")) }
func (line) NewParser() dissect.Parser                { return &lineParser{} }

type lineParser struct {
	buf  [2][]byte
	gaps int
}

func (p *lineParser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	buf := append(p.buf[m.Dir], b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		pdu := dissect.PDU{Proto: "line", Function: uint32(buf[0]), Name: string(buf[:i]), Meta: m, Request: m.Dir == dissect.ToServer}
		emit(&pdu)
		buf = buf[i+1:]
	}
	p.buf[m.Dir] = append(p.buf[m.Dir][:0], buf...)
}

func (p *lineParser) Gap(d dissect.Dir) { p.buf[d] = p.buf[d][:0]; p.gaps++ }

func init() { dissect.Register(line{}) }

type rec struct {
	bad   []string // Malformed of each PDU
	pdus  []string
	dirs  []dissect.Dir
	ended []*flow.Flow
}

func (r *rec) PDU(f *flow.Flow, p *dissect.PDU) {
	r.pdus = append(r.pdus, p.Name)
	r.bad = append(r.bad, p.Malformed)
	r.dirs = append(r.dirs, p.Meta.Dir)
}
func (r *rec) FlowEnd(f *flow.Flow) { r.ended = append(r.ended, f) }

var (
	cli = netip.MustParseAddrPort("192.168.1.10:50000")
	srv = netip.MustParseAddrPort("192.168.1.20:7777")
)

// run writes a capture with fn, reads it back and runs it through a table.
func run(t *testing.T, cfg flow.Config, fn func(w *synth.Writer)) (*rec, *flow.Table) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	fn(w)
	f.Close()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := &rec{}
	tb := flow.NewTable(cfg, r)
	for n := uint64(1); ; n++ {
		data, ci, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tb.Packet(data, ci, n)
	}
	tb.Flush()
	return r, tb
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestInOrderSplitLines(t *testing.T) {
	r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
		c, err := w.TCP(cli, srv)
		must(t, err)
		must(t, c.Send(true, []byte("a1\nb")))
		must(t, c.Send(true, []byte("2\nc3\n")))
		must(t, c.Send(false, []byte("r1\n")))
		must(t, c.Close())
	})
	eq(t, r.pdus, "a1", "b2", "c3", "r1")
	if r.dirs[3] != dissect.ToClient || r.dirs[0] != dissect.ToServer {
		t.Fatalf("dirs %v", r.dirs)
	}
	if len(r.ended) != 1 || r.ended[0].End != flow.Closed || r.ended[0].Proto != "line" || r.ended[0].PDUs != 4 {
		t.Fatalf("ended %+v", r.ended)
	}
	f := r.ended[0]
	if f.Client != cli || f.Server != srv || f.Packets[0] != 6 || f.Packets[1] != 3 || f.Bytes[0] != 9 || f.Bytes[1] != 3 {
		t.Fatalf("flow %v->%v packets %v bytes %v", f.Client, f.Server, f.Packets, f.Bytes)
	}
	if st := tb.Stats(); st.Flows != 1 || st.Gaps != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetransmitReorderOverlap(t *testing.T) {
	r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
		c, err := w.TCP(cli, srv)
		must(t, err)
		s, a := c.Seq(true), c.Seq(false)
		must(t, c.Segment(true, 0x18, s+6, a, []byte("c3\n")))         // out of order
		must(t, c.Segment(true, 0x18, s, a, []byte("a1\n")))           // fills the start
		must(t, c.Segment(true, 0x18, s, a, []byte("a1\n")))           // retransmission
		must(t, c.Segment(true, 0x18, s+1, a, []byte("1\nb2\n")))      // overlap with new bytes
		must(t, c.Segment(true, 0x18, s+9, a, []byte("d4\n")))         // in order
		must(t, c.Segment(true, 0x18, s+6, a, []byte("c3\nd4\ne5\n"))) // overlap both sides
		must(t, c.Segment(true, 0x18, s+6, a, []byte("c3\n")))         // stale
		must(t, c.Segment(false, 0x10, a, s+15, nil))
	})
	eq(t, r.pdus, "a1", "b2", "c3", "d4", "e5")
	st := tb.Stats()
	if st.Gaps != 0 || st.Retransmits < 2 || st.OutOfOrder != 1 || st.Buffered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLossSkipsAheadAndCallsGap(t *testing.T) {
	r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
		c, err := w.TCP(cli, srv)
		must(t, err)
		s, a := c.Seq(true), c.Seq(false)
		must(t, c.Segment(true, 0x18, s, a, []byte("a1\nxx")))
		// bytes s+5..s+10 lost by the capture; the server acknowledges them.
		must(t, c.Segment(true, 0x18, s+10, a, []byte("\nc3\n")))
		must(t, c.Segment(false, 0x18, a, s+14, []byte("r\n")))
		must(t, c.Segment(true, 0x18, s+14, a+2, []byte("d4\n")))
	})
	// The parser dropped "xx" at the gap, so the rest of the lost line is
	// an empty line; nothing before the gap leaks into a later PDU.
	eq(t, r.pdus, "a1", "", "c3", "r", "d4")
	st := tb.Stats()
	if st.Gaps != 1 || st.GapBytes != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOverflowForcesGap(t *testing.T) {
	r, tb := run(t, flow.Config{MaxFlowBuffer: 8}, func(w *synth.Writer) {
		c, err := w.TCP(cli, srv)
		must(t, err)
		s, a := c.Seq(true), c.Seq(false)
		must(t, c.Segment(true, 0x18, s, a, []byte("a1\n")))
		// s+3..s+6 never arrives and is never acknowledged.
		must(t, c.Segment(true, 0x18, s+6, a, []byte("c3\n")))
		must(t, c.Segment(true, 0x18, s+9, a, []byte("d4\n")))
		must(t, c.Segment(true, 0x18, s+12, a, []byte("e5\n"))) // 9 bytes buffered > 8
	})
	eq(t, r.pdus, "a1", "c3", "d4", "e5")
	if st := tb.Stats(); st.Overflows != 1 || st.Gaps != 1 || st.Buffered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestProbeOnOtherPortAndOrientation(t *testing.T) {
	other := netip.MustParseAddrPort("192.168.1.20:9000")
	r, _ := run(t, flow.Config{}, func(w *synth.Writer) {
		c, err := w.TCP(cli, other)
		must(t, err)
		must(t, c.Send(true, []byte("LINE x\n")))
		// A UDP flow whose first datagram comes from the server port.
		u := netip.MustParseAddrPort("192.168.1.30:40000")
		must(t, w.UDP(netip.MustParseAddrPort("192.168.1.20:7777"), u, []byte("u1\n")))
		// Not the protocol: no dissector.
		c3, err := w.TCP(netip.MustParseAddrPort("192.168.1.11:50001"), other)
		must(t, err)
		must(t, c3.Send(true, []byte("GET / HTTP/1.0\n")))
	})
	eq(t, r.pdus, "LINE x", "u1")
	byProto := map[string]*flow.Flow{}
	for _, f := range r.ended {
		byProto[f.Proto] = f
	}
	if f := byProto["line"]; f == nil || f.T != dissect.TCP && f.T != dissect.UDP {
		t.Fatalf("flows %v", r.ended)
	}
	var udp, none *flow.Flow
	for _, f := range r.ended {
		if f.T == dissect.UDP {
			udp = f
		}
		if f.Proto == "" {
			none = f
		}
	}
	if udp == nil || udp.Server.Port() != 7777 || r.dirs[1] != dissect.ToClient {
		t.Fatalf("udp flow %+v dirs %v", udp, r.dirs)
	}
	if none == nil || none.PDUs != 0 {
		t.Fatalf("undissected flow %+v", none)
	}
}

func TestEvictionAndIdle(t *testing.T) {
	r, tb := run(t, flow.Config{MaxFlows: 2, Idle: time.Minute}, func(w *synth.Writer) {
		for i := range 3 {
			must(t, w.UDP(netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, []byte("x\n")))
		}
		w.Time += int64(2 * time.Minute)
		must(t, w.UDP(cli, srv, []byte("y\n")))
	})
	st := tb.Stats()
	if st.Flows != 4 || st.Evicted != 1 || st.Expired != 2 || len(r.ended) != 4 {
		t.Fatalf("stats %+v, ended %d", st, len(r.ended))
	}
	if r.ended[0].End != flow.Evicted || r.ended[1].End != flow.Idle || r.ended[3].End != flow.Flushed {
		t.Fatalf("ends %v %v %v", r.ended[0].End, r.ended[1].End, r.ended[3].End)
	}
}

func TestCloseThenReuse(t *testing.T) {
	r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
		for range 2 {
			c, err := w.TCP(cli, srv)
			must(t, err)
			must(t, c.Send(true, []byte("a\n")))
			must(t, c.Close())
		}
	})
	if st := tb.Stats(); st.Flows != 2 || len(r.pdus) != 2 {
		t.Fatalf("stats %+v pdus %q", st, r.pdus)
	}
}

// TestBadIPLengthAndBogusSYN: an IPv4 total length beyond the frame (TSO
// on the capturing host, damage) still decodes what was captured, and a
// SYN that also carries FIN orients nothing (port 7777 stays the server).
func TestBadIPLengthAndBogusSYN(t *testing.T) {
	r, _ := run(t, flow.Config{}, func(w *synth.Writer) {
		// The flow's first packet: SYN|FIN from the server's port.
		must(t, w.Frame(ipv4Frame(false, flow.SYN|flow.FIN, nil)))
		must(t, w.Frame(ipv4Frame(true, flow.ACK|flow.PSH, []byte("a1\n"))))
	})
	eq(t, r.pdus, "a1")
	if r.dirs[0] != dissect.ToServer || len(r.ended) != 1 || r.ended[0].Server.Port() != 7777 {
		t.Fatalf("dirs %v ended %+v", r.dirs, r.ended)
	}
	var p flow.Packet
	frame := ipv4Frame(true, flow.ACK, []byte("x1\n"))
	frame[16], frame[17] = 0, 0 // total length 0, as with TSO
	if res := flow.Decode(frame, capture.LinkEthernet, &p); res != flow.OK || string(p.Payload) != "x1\n" {
		t.Fatalf("decode %v payload %q", res, p.Payload)
	}
	frame[16], frame[17] = 0x0f, 0xff // beyond the frame
	if res := flow.Decode(frame, capture.LinkEthernet, &p); res != flow.OK || string(p.Payload) != "x1\n" {
		t.Fatalf("decode %v payload %q", res, p.Payload)
	}
	if res := flow.Decode(frame[:14+19], capture.LinkEthernet, &p); res != flow.Truncated {
		t.Fatalf("short IP header: %v", res)
	}
}

// ipv4Frame is Ethernet + IPv4 + TCP between 10.0.0.1:50000 and
// 10.0.0.2:7777 (checksums not set: the decoder does not check them).
func ipv4Frame(fromClient bool, flags uint8, payload []byte) []byte {
	b := make([]byte, 14+20+20)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0] = 0x45
	ip[2], ip[3] = 0, byte(40+len(payload))
	ip[9] = 6
	cp, sp := []byte{0xc3, 0x50}, []byte{0x1e, 0x61}
	ca, sa := []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}
	if !fromClient {
		cp, sp, ca, sa = sp, cp, sa, ca
	}
	copy(ip[12:], ca)
	copy(ip[16:], sa)
	tcp := ip[20:]
	copy(tcp, cp)
	copy(tcp[2:], sp)
	tcp[7] = 1 // seq 1
	tcp[12], tcp[13] = 5<<4, flags
	return append(b, payload...)
}

// TestStatsAddEveryField: Stats.Add sums every counter (a field added to
// Stats and forgotten in Add would vanish from sharded runs).
func TestStatsAddEveryField(t *testing.T) {
	var one flow.Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		if v.Field(i).CanUint() {
			v.Field(i).SetUint(uint64(i + 1))
		} else {
			v.Field(i).SetInt(int64(i + 1))
		}
	}
	var sum flow.Stats
	sum.Add(one)
	sum.Add(one)
	s := reflect.ValueOf(sum)
	for i := range s.NumField() {
		got := s.Field(i)
		if (got.CanUint() && got.Uint() != uint64(2*(i+1))) || (got.CanInt() && got.Int() != int64(2*(i+1))) {
			t.Errorf("%s: %v after adding %d twice", s.Type().Field(i).Name, got, i+1)
		}
	}
}

package flow_test

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/flow"
)

// lines returns n distinct lines of the test protocol, about 11 bytes each.
func lines(prefix string, n int) (string, []string) {
	var b strings.Builder
	var want []string
	for i := range n {
		l := prefix + strings.Repeat(string(rune('a'+i%26)), 6) + string(rune('0'+i%10))
		want = append(want, l)
		b.WriteString(l + "\n")
	}
	return b.String(), want
}

// TestFragmentsReassembled: UDP datagrams and TCP segments cut into IP
// fragments, in order and last first, over IPv4 and IPv6, give the same
// PDUs as unfragmented packets.
func TestFragmentsReassembled(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, rev := range []bool{false, true} {
			c, s := cli, srv
			if v6 {
				c, s = netip.MustParseAddrPort("[fd00::10]:50000"), netip.MustParseAddrPort("[fd00::20]:7777")
			}
			udp, wantU := lines("U", 20)
			tcp, wantT := lines("T", 30)
			r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
				w.FragSize, w.FragReverse = 64, rev
				must(t, w.UDP(c, s, []byte(udp)))
				conn, err := w.TCP(netip.AddrPortFrom(c.Addr(), 50001), s)
				must(t, err)
				must(t, conn.Send(true, []byte(tcp)))
				must(t, conn.Close())
			})
			eq(t, r.pdus, append(wantU, wantT...)...)
			st := tb.Stats()
			// 20*9 + 8 = 188 bytes in 3 fragments, 30*9 + 20 = 290 in 5.
			if st.Reassembled != 2 || st.Fragments != 8 || st.FragOverlaps != 0 || st.Flows != 2 {
				t.Fatalf("v6 %v reverse %v: stats %+v", v6, rev, st)
			}
			for _, m := range r.bad {
				if m != "" {
					t.Fatalf("malformed %q", m)
				}
			}
		}
	}
}

// udpDatagram is a UDP header (checksum 0: none, allowed on IPv4) and
// payload from cli to srv.
func udpDatagram(payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b, cli.Port())
	binary.BigEndian.PutUint16(b[2:], srv.Port())
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// TestFragmentOverlapFirstWins: a fragment rewriting bytes already held
// is ignored (first wins), counted as evasion and marks the PDUs; an
// overlap with the same bytes is only counted as a duplicate.
func TestFragmentOverlapFirstWins(t *testing.T) {
	d := udpDatagram("AAAAAAA\nBBBBBBB\n") // 24 bytes
	r, tb := run(t, flow.Config{}, func(w *synth.Writer) {
		a, b := cli.Addr(), srv.Addr()
		must(t, w.Fragment(a, b, 17, 7, 0, true, d[:16]))
		must(t, w.Fragment(a, b, 17, 7, 0, true, d[:16])) // duplicate
		must(t, w.Fragment(a, b, 17, 7, 8, true, []byte("XXXXXXX\n")))
		must(t, w.Fragment(a, b, 17, 7, 16, false, d[16:]))
		// A second datagram whose last fragment contradicts its end.
		must(t, w.Fragment(a, b, 17, 8, 16, false, d[16:]))
		must(t, w.Fragment(a, b, 17, 8, 8, false, d[8:16])) // ignored
		must(t, w.Fragment(a, b, 17, 8, 0, true, d[:8]))
		must(t, w.Fragment(a, b, 17, 8, 0, true, d[:16])) // agrees: a duplicate that fills the hole
	})
	eq(t, r.pdus, "AAAAAAA", "BBBBBBB", "AAAAAAA", "BBBBBBB")
	for _, m := range r.bad {
		if m == "" {
			t.Fatalf("PDUs of overlapping fragments not marked: %q", r.bad)
		}
	}
	st := tb.Stats()
	if st.FragOverlaps != 2 || st.FragDuplicates != 2 || st.Reassembled != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(r.ended) != 1 || r.ended[0].FragOverlaps != 2 {
		t.Fatalf("flow overlaps: %+v", r.ended)
	}
}

// TestFragmentBounds: the datagram bound, the timeout and fragments no
// host accepts.
func TestFragmentBounds(t *testing.T) {
	d := udpDatagram("AAAAAAA\nBBBBBBB\n")
	r, tb := run(t, flow.Config{MaxFragDatagrams: 2}, func(w *synth.Writer) {
		a, b := cli.Addr(), srv.Addr()
		for id := range uint32(3) { // the third pushes the first out
			must(t, w.Fragment(a, b, 17, id, 0, true, d[:16]))
		}
		must(t, w.Fragment(a, b, 17, 0, 16, false, d[16:])) // its datagram is gone
		must(t, w.Fragment(a, b, 17, 9, 0, true, d[:16]))
		w.Time += int64(31 * time.Second)
		must(t, w.Fragment(a, b, 17, 9, 16, false, d[16:]))    // too late
		must(t, w.Fragment(a, b, 17, 10, 65528, true, d[:16])) // past 64 KiB
		must(t, w.Fragment(a, b, 17, 11, 0, true, d[:12]))     // not a multiple of 8
		must(t, w.Fragment(a, b, 17, 2, 16, false, d[16:]))    // completes id 2? no: timed out
	})
	if len(r.pdus) != 0 {
		t.Fatalf("pdus %q", r.pdus)
	}
	st := tb.Stats()
	if st.Reassembled != 0 || st.FragDropped < 1 || st.FragTimeouts < 2 || st.FragBad != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// fragFrame is Ethernet + IPv4 fragment from cli to srv.
func fragFrame(id uint16, off int, more bool, data []byte) []byte {
	b := make([]byte, 14+20, 14+20+len(data))
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(data)))
	binary.BigEndian.PutUint16(ip[4:], id)
	fo := uint16(off/8) & 0x1fff
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(ip[6:], fo)
	ip[8], ip[9] = 64, 17
	a, s := cli.Addr().As4(), srv.Addr().As4()
	copy(ip[12:], a[:])
	copy(ip[16:], s[:])
	return append(b, data...)
}

// FuzzFragments: the input chooses how a datagram of known lines is cut
// (8-byte units), in what order its pieces arrive and which repeat; the
// lines must come out exactly, with no overlap counted. Then the input is
// sent again as raw fragments of any offset and size: no panic, and the
// bounds hold.
func FuzzFragments(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{200, 3, 0, 9, 255, 17, 4})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		text, want := lines("F", 12) // 8 + 12*10 = 128 bytes: 16 units
		d := udpDatagram(text)
		var cuts []int // unit boundaries
		for u := 1; u < len(d)/8; u++ {
			if len(in) == 0 || in[u%len(in)]&1 == 1 {
				cuts = append(cuts, u*8)
			}
		}
		cuts = append(append([]int{0}, cuts...), len(d))
		n := len(cuts) - 1
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		for i := n - 1; i > 0 && len(in) > 0; i-- { // a shuffle driven by the input
			j := int(in[i%len(in)]) % (i + 1)
			order[i], order[j] = order[j], order[i]
		}
		r := &rec{}
		tb := flow.NewTable(flow.Config{MaxFragDatagrams: 4, MaxFragBytes: 4096}, r)
		frame := uint64(0)
		send := func(b []byte) {
			frame++
			tb.Packet(b, capture.Info{Link: capture.LinkEthernet, Time: int64(frame) * 1000}, frame)
		}
		for k, i := range order {
			if n > 1 && len(in) > 0 && in[k%len(in)]&6 == 6 { // a duplicate first
				send(fragFrame(1, cuts[i], i < n-1, d[cuts[i]:cuts[i+1]]))
			}
			send(fragFrame(1, cuts[i], i < n-1, d[cuts[i]:cuts[i+1]]))
		}
		if st := tb.Stats(); st.Reassembled != min(uint64(n-1), 1) || st.FragOverlaps != 0 {
			t.Fatalf("cuts %v order %v: stats %+v", cuts, order, st)
		}
		eq(t, r.pdus, want...)
		// Raw fragments: id, offset, flags, length from the input.
		for i := 0; i+4 <= len(in) && i < 4*64; i += 4 {
			off := int(binary.BigEndian.Uint16(in[i+1:])) * 8 % (1 << 16)
			n := int(in[i+3])
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(j)
			}
			send(fragFrame(uint16(in[i]%8), off, in[i]&0x80 != 0, data))
		}
		tb.Flush()
		if tb.Len() > 1 {
			t.Fatalf("flows %d", tb.Len())
		}
	})
}

// TestFragmentByteBound: a datagram that needs more than MaxFragBytes
// allows pushes the oldest incomplete one out and still completes.
func TestFragmentByteBound(t *testing.T) {
	d := udpDatagram("AAAAAAA\nBBBBBBB\n") // 24 bytes
	r, tb := run(t, flow.Config{MaxFragBytes: 40}, func(w *synth.Writer) {
		a, b := cli.Addr(), srv.Addr()
		must(t, w.Fragment(a, b, 17, 1, 0, true, d[:16]))   // 16 bytes held
		must(t, w.Fragment(a, b, 17, 2, 0, true, d[:16]))   // 32
		must(t, w.Fragment(a, b, 17, 2, 16, false, d[16:])) // completes 2: 16 held
		must(t, w.Fragment(a, b, 17, 3, 0, true, d[:16]))   // 32
		must(t, w.Fragment(a, b, 17, 3, 16, false, d[16:])) // 40: fits, completes 3
		must(t, w.Fragment(a, b, 17, 4, 8, true, d[8:16]))  // 16+16 = 32 held
		must(t, w.Fragment(a, b, 17, 4, 16, false, d[16:])) // 16+24 = 40
		must(t, w.Fragment(a, b, 17, 5, 16, false, d[16:])) // 40+24: drops 1, then 4
		must(t, w.Fragment(a, b, 17, 5, 0, true, d[:16]))
	})
	eq(t, r.pdus, "AAAAAAA", "BBBBBBB", "AAAAAAA", "BBBBBBB", "AAAAAAA", "BBBBBBB")
	if st := tb.Stats(); st.Reassembled != 3 || st.FragDropped != 2 {
		t.Fatalf("stats %+v", st)
	}
}

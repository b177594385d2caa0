package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/errcode"
)

// frames writes a few synthetic Ethernet frames and returns them.
func frames(t *testing.T, vlan uint16) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.VLAN = vlan
	c, err := w.TCP(netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("10.9.9.9:502"))
	if err != nil {
		t.Fatal(err)
	}
	c.Send(true, []byte("hello"))
	w.UDP(netip.MustParseAddrPort("[2001:db8::1]:47808"), netip.MustParseAddrPort("[2001:db8::2]:47808"), []byte("x"))
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		d, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, d)
	}
}

func TestPcapFormats(t *testing.T) {
	fr := frames(t, 0)
	dir := t.TempDir()
	ts := time.Unix(1700000000, 123456789).UTC()
	for _, tc := range []struct {
		name  string
		nanos bool
	}{{"us.pcap", false}, {"ns.pcap", true}} {
		p := filepath.Join(dir, tc.name)
		f, _ := os.Create(p)
		var w *pcapgo.Writer
		if tc.nanos {
			w = pcapgo.NewWriterNanos(f)
		} else {
			w = pcapgo.NewWriter(f)
		}
		w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		for _, d := range fr {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d) + 4}, d)
		}
		f.Close()
		src, err := capture.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			d, ci, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			want := ts.UnixNano()
			if !tc.nanos {
				want = ts.Truncate(time.Microsecond).UnixNano()
			}
			if !bytes.Equal(d, fr[n]) || ci.Link != capture.LinkEthernet || ci.Time != want || ci.Len != len(d)+4 {
				t.Fatalf("%s frame %d: link %v time %d len %d", tc.name, n, ci.Link, ci.Time, ci.Len)
			}
			n++
		}
		if n != len(fr) || src.Fraction() != 1 || src.Format() != "pcap" {
			t.Fatalf("%s: %d frames, fraction %v", tc.name, n, src.Fraction())
		}
		src.Close()
	}
}

func TestPcapngSeveralInterfaces(t *testing.T) {
	fr := frames(t, 0)
	p := filepath.Join(t.TempDir(), "multi.pcapng")
	f, _ := os.Create(p)
	w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	ip := fr[0][14:]
	w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(fr[0]), Length: len(fr[0]), InterfaceIndex: 0}, fr[0])
	w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(2, 0), CaptureLength: len(ip), Length: len(ip), InterfaceIndex: raw}, ip)
	w.Flush()
	f.Close()
	src, err := capture.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var links []capture.LinkType
	for {
		_, ci, err := src.Next()
		if err != nil {
			break
		}
		links = append(links, ci.Link)
	}
	if len(links) != 2 || links[0] != capture.LinkEthernet || links[1] != capture.LinkRaw || src.Format() != "pcapng" {
		t.Fatalf("links %v", links)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := capture.OpenFile(filepath.Join(dir, "missing.pcap")); errcode.Of(err) != errcode.CaptureOpen {
		t.Fatalf("missing: %v", err)
	}
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("this is not a capture"), 0o644)
	if _, err := capture.OpenFile(junk); errcode.Of(err) != errcode.CaptureFormat {
		t.Fatalf("junk: %v", err)
	}
	// A file cut inside its second packet.
	var buf bytes.Buffer
	w, _ := synth.NewWriter(&buf)
	w.UDP(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), []byte("abc"))
	w.UDP(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), []byte("abc"))
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, buf.Bytes()[:buf.Len()-10], 0o644)
	src, err := capture.OpenFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Next(); errcode.Of(err) != errcode.CaptureTruncated {
		t.Fatalf("cut: %v", err)
	}
}

func TestFilter(t *testing.T) {
	plain, tagged := frames(t, 0), frames(t, 42)
	// frames: SYN, SYN-ACK, ACK, data (all TCP 10.1.2.3:40000 <-> 10.9.9.9:502), UDP over IPv6.
	for _, tc := range []struct {
		expr string
		want []bool // per frame of plain
	}{
		{"tcp", []bool{true, true, true, true, false}},
		{"udp", []bool{false, false, false, false, true}},
		{"ip6 and udp port 47808", []bool{false, false, false, false, true}},
		{"port 502", []bool{true, true, true, true, false}},
		{"dst port 502", []bool{true, false, true, true, false}},
		{"src host 10.1.2.3", []bool{true, false, true, true, false}},
		{"host 10.9.9.9 and not src port 502", []bool{true, false, true, true, false}},
		{"net 10.9.0.0/16", []bool{true, true, true, true, false}},
		{"net 2001:db8::/32", []bool{false, false, false, false, true}},
		{"host 2001:db8::2", []bool{false, false, false, false, true}},
		{"portrange 40000-40010", []bool{true, true, true, true, false}},
		{"udp port 1 or 47808", []bool{false, false, false, false, true}},
		{"(tcp and port 503) || (udp && !port 1)", []bool{false, false, false, false, true}},
		{"vlan", []bool{false, false, false, false, false}},
	} {
		f, err := capture.ParseFilter(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		for i, d := range plain {
			if got := f.Match(d, capture.LinkEthernet); got != tc.want[i] {
				t.Errorf("%q frame %d: got %v", tc.expr, i, got)
			}
			// The same frames behind a VLAN tag, and as raw IP.
			if tc.expr != "vlan" {
				if got := f.Match(tagged[i], capture.LinkEthernet); got != tc.want[i] {
					t.Errorf("%q tagged frame %d: got %v", tc.expr, i, got)
				}
				if got := f.Match(d[14:], capture.LinkRaw); got != tc.want[i] {
					t.Errorf("%q raw frame %d: got %v", tc.expr, i, got)
				}
			}
		}
	}
	f, _ := capture.ParseFilter("vlan 42")
	if !f.Match(tagged[0], capture.LinkEthernet) || f.Match(plain[0], capture.LinkEthernet) {
		t.Error("vlan 42")
	}
	for _, bad := range []string{"port", "host nosuchname", "tcp and", "(tcp", "foo", "portrange 9-1", "vlan 5000"} {
		if _, err := capture.ParseFilter(bad); errcode.Of(err) != errcode.CaptureFilter {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLiveLoopback(t *testing.T) {
	src, err := capture.Live("lo", "udp port 47999", 0)
	if err != nil {
		if errcode.Of(err) == errcode.CapturePermission || os.Geteuid() != 0 {
			t.Skipf("no permission to capture (root or CAP_NET_RAW needed): %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	conn, err := net.Dial("udp", "127.0.0.1:47999")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	other, err := net.Dial("udp", "127.0.0.1:47998")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	seen := 0
	for i := 0; i < 50 && seen < 3; i++ { // bounded: 50 polls of 100 ms
		other.Write([]byte("filtered out"))
		conn.Write([]byte("otlink-live-test"))
		for {
			d, ci, err := src.Next()
			if errors.Is(err, capture.ErrTimeout) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(d, []byte("filtered out")) {
				t.Fatal("the filter let a packet to port 47998 through")
			}
			if bytes.Contains(d, []byte("otlink-live-test")) && ci.Link == capture.LinkEthernet {
				seen++
			}
			if seen >= 3 {
				break
			}
		}
	}
	if seen < 3 {
		t.Fatalf("saw %d of our packets on lo", seen)
	}
}

// TestPcapBigEndianAcrossBuffer: a big-endian microsecond pcap written by
// hand, longer than the reader's buffer so records straddle refills,
// reads back frame by frame; a record past 262,144 bytes is an error.
func TestPcapBigEndianAcrossBuffer(t *testing.T) {
	be := binary.BigEndian
	b := be.AppendUint32(nil, 0xa1b2c3d4)
	b = be.AppendUint16(b, 2)
	b = be.AppendUint16(b, 4)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, 65535)
	b = be.AppendUint32(b, 1)
	const n = 3000
	for i := range n {
		size := 60 + i%900
		b = be.AppendUint32(b, uint32(1700000000+i))
		b = be.AppendUint32(b, uint32(i))
		b = be.AppendUint32(b, uint32(size))
		b = be.AppendUint32(b, uint32(size))
		for j := range size {
			b = append(b, byte(i+j))
		}
	}
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, 300000) // damaged: too long
	b = be.AppendUint32(b, 300000)
	p := filepath.Join(t.TempDir(), "be.pcap")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := range n {
		d, ci, err := src.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(d) != 60+i%900 || d[0] != byte(i) || d[len(d)-1] != byte(i+len(d)-1) || ci.Link != capture.LinkEthernet ||
			ci.Time != int64(1700000000+i)*1e9+int64(i)*1000 || ci.Len != len(d) {
			t.Fatalf("frame %d: %d bytes, info %+v", i, len(d), ci)
		}
	}
	if _, _, err := src.Next(); err == nil || err == io.EOF {
		t.Fatalf("oversized record: %v", err)
	}
}

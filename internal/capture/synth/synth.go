// Package synth writes capture files from conversations: tests and
// benchmarks encode protocol messages with otlink's codecs and get a pcap
// that the pipeline and tshark both read. Ethernet, IPv4 or IPv6, TCP with
// a handshake, sequence and acknowledgement numbers, and UDP, optionally
// in IP fragments; checksums are correct. It must not be used on a live network: it only writes files.
package synth

import (
	"encoding/binary"
	"io"
	"net/netip"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Writer writes Ethernet frames to a nanosecond pcap file.
type Writer struct {
	w    *pcapgo.Writer
	Time int64 // capture time of the next frame, Unix ns
	Step int64 // added to Time after each frame (default 100 µs)
	VLAN uint16
	// FragSize, when 8 or more, splits every IP packet whose transport
	// segment is longer into fragments of FragSize bytes (rounded down to
	// a multiple of 8), as a router with a small MTU would.
	FragSize int
	// FragReverse writes the fragments last first (reordering on the way).
	FragReverse bool
	buf         []byte
	seg         []byte
	ipID        uint32
	n           int
}

// NewWriter writes the pcap file header to w.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &Writer{w: pw, Time: 1_700_000_000_000_000_000, Step: 100_000}, nil
}

// Frames is the number of frames written.
func (w *Writer) Frames() int { return w.n }

// Frame writes one raw Ethernet frame.
func (w *Writer) Frame(b []byte) error {
	ts := w.Time
	w.Time += w.Step
	w.n++
	return w.w.WritePacket(gopacket.CaptureInfo{Timestamp: unixTime(ts), CaptureLength: len(b), Length: len(b)}, b)
}

func mac(a netip.Addr) []byte {
	b := a.As16()
	return []byte{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

// packet builds the L4 segment (header + payload, checksum set) and
// writes it in one IP packet, or in fragments when FragSize asks.
func (w *Writer) packet(src, dst netip.AddrPort, proto uint8, l4 []byte, payload []byte) error {
	seg := append(append(w.seg[:0], l4...), payload...)
	w.seg = seg
	ck := 16
	if proto == 17 {
		ck = 6
	}
	c := ^fold(sum(seg, pseudo(src.Addr(), dst.Addr(), proto, len(seg))))
	if c == 0 && proto == 17 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[ck:], c)
	if w.FragSize < 8 || len(seg) <= w.FragSize {
		return w.ip(src.Addr(), dst.Addr(), proto, 0, -1, false, seg)
	}
	w.ipID++
	step := w.FragSize &^ 7
	order := make([]int, 0, len(seg)/step+1)
	for off := 0; off < len(seg); off += step {
		order = append(order, off)
	}
	if w.FragReverse {
		slices.Reverse(order)
	}
	for _, off := range order {
		end := min(off+step, len(seg))
		if err := w.Fragment(src.Addr(), dst.Addr(), proto, w.ipID, off, end < len(seg), seg[off:end]); err != nil {
			return err
		}
	}
	return nil
}

// Fragment writes one IP fragment carrying data at byte offset off (a
// multiple of 8) of datagram id; more is the More Fragments flag. For
// tests of reassembly, overlaps and evasion; checksums of the datagram
// are the caller's business.
func (w *Writer) Fragment(src, dst netip.Addr, proto uint8, id uint32, off int, more bool, data []byte) error {
	return w.ip(src, dst, proto, id, off, more, data)
}

func pseudo(src, dst netip.Addr, proto uint8, n int) uint32 {
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		return sum(d[:], sum(s[:], uint32(proto)+uint32(n)))
	}
	s, d := src.As16(), dst.As16()
	return sum(d[:], sum(s[:], uint32(proto)+uint32(n)))
}

// ip writes Ethernet + IP header + body; off < 0 writes an unfragmented
// packet, else a fragment at off with id and the More Fragments flag.
func (w *Writer) ip(src, dst netip.Addr, proto uint8, id uint32, off int, more bool, body []byte) error {
	b := w.buf[:0]
	b = append(b, mac(dst)...)
	b = append(b, mac(src)...)
	if w.VLAN != 0 {
		b = append(b, 0x81, 0x00, byte(w.VLAN>>8), byte(w.VLAN))
	}
	if src.Is4() {
		b = append(b, 0x08, 0x00)
		ip := len(b)
		b = append(b, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0)
		binary.BigEndian.PutUint16(b[ip+2:], uint16(20+len(body)))
		if off >= 0 {
			fo := uint16(off / 8)
			if more {
				fo |= 0x2000
			}
			binary.BigEndian.PutUint16(b[ip+4:], uint16(id))
			binary.BigEndian.PutUint16(b[ip+6:], fo)
		}
		s, d := src.As4(), dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[ip+10:], ^fold(sum(b[ip:ip+20], 0)))
	} else {
		n := len(body)
		next := proto
		if off >= 0 {
			n += 8
			next = 44
		}
		b = append(b, 0x86, 0xdd, 0x60, 0, 0, 0, byte(n>>8), byte(n), next, 64)
		s, d := src.As16(), dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		if off >= 0 {
			fo := uint16(off) &^ 7
			if more {
				fo |= 1
			}
			b = append(b, proto, 0, byte(fo>>8), byte(fo), byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
		}
	}
	b = append(b, body...)
	w.buf = b
	return w.Frame(b)
}

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// UDP writes one datagram.
func (w *Writer) UDP(src, dst netip.AddrPort, payload []byte) error {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, src.Port())
	binary.BigEndian.PutUint16(h[2:], dst.Port())
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return w.packet(src, dst, 17, h, payload)
}

// Conn is a TCP connection being written.
type Conn struct {
	w              *Writer
	client, server netip.AddrPort
	seq            [2]uint32 // next sequence number: client, server
	MSS            int       // payload bytes per segment (default 1460)
}

// TCP writes a three-way handshake and returns the connection.
func (w *Writer) TCP(client, server netip.AddrPort) (*Conn, error) {
	c := &Conn{w: w, client: client, server: server, seq: [2]uint32{1000, 5000}, MSS: 1460}
	if err := c.Segment(true, 0x02, c.seq[0], 0, nil); err != nil {
		return nil, err
	}
	if err := c.Segment(false, 0x12, c.seq[1], c.seq[0]+1, nil); err != nil {
		return nil, err
	}
	c.seq[0]++
	c.seq[1]++
	return c, c.Segment(true, 0x10, c.seq[0], c.seq[1], nil)
}

// Segment writes one TCP segment with explicit flags and numbers, for
// tests of retransmission, reordering and loss.
func (c *Conn) Segment(fromClient bool, flags uint8, seq, ack uint32, payload []byte) error {
	src, dst := c.client, c.server
	if !fromClient {
		src, dst = dst, src
	}
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, src.Port())
	binary.BigEndian.PutUint16(h[2:], dst.Port())
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12], h[13] = 5<<4, flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return c.w.packet(src, dst, 6, h, payload)
}

// Seq returns the next sequence number of the client (true) or server.
func (c *Conn) Seq(fromClient bool) uint32 {
	if fromClient {
		return c.seq[0]
	}
	return c.seq[1]
}

// Send writes payload from one side in segments of at most MSS bytes,
// each with PSH|ACK.
func (c *Conn) Send(fromClient bool, payload []byte) error {
	i, o := 1, 0
	if fromClient {
		i, o = 0, 1
	}
	for len(payload) > 0 {
		n := min(len(payload), c.MSS)
		if err := c.Segment(fromClient, 0x18, c.seq[i], c.seq[o], payload[:n]); err != nil {
			return err
		}
		c.seq[i] += uint32(n)
		payload = payload[n:]
	}
	return nil
}

// Close writes FIN from the client, FIN from the server and the last ACK.
func (c *Conn) Close() error {
	if err := c.Segment(true, 0x11, c.seq[0], c.seq[1], nil); err != nil {
		return err
	}
	c.seq[0]++
	if err := c.Segment(false, 0x11, c.seq[1], c.seq[0], nil); err != nil {
		return err
	}
	c.seq[1]++
	return c.Segment(true, 0x10, c.seq[0], c.seq[1], nil)
}

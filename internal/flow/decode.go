package flow

import (
	"encoding/binary"

	"github.com/otlink/otlink/internal/capture"
)

// Packet is one decoded frame. Decode fills a Packet the caller owns and
// reuses; Payload aliases the frame.
type Packet struct {
	VLAN     [2]uint16 // VLAN ids + 1 of the outer and inner tag, 0 when absent
	SrcMAC   [6]byte   // Ethernet source address, zero on other link types
	DstMAC   [6]byte   // Ethernet destination address, zero on other link types
	IPv      uint8     // 4 or 6
	Src, Dst [16]byte  // IPv4 addresses in the first 4 bytes
	Proto    uint8     // IP protocol: 6 TCP, 17 UDP, other values are not decoded further
	SrcPort  uint16
	DstPort  uint16
	Flags    uint8 // TCP flags
	Seq, Ack uint32
	Payload  []byte

	// When Decode returns Fragment: Proto is the transport of the
	// datagram (IPv6: the fragment header's next header), Payload the
	// fragment's bytes at byte FragOff of the datagram, FragMore the More
	// Fragments flag and FragID the identification (16 bits for IPv4).
	FragID   uint32
	FragOff  int
	FragMore bool
}

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Result says what Decode made of a frame.
type Result uint8

const (
	OK          Result = iota // TCP or UDP decoded
	NotIP                     // ARP, LLDP, STP, PROFINET... (not IP)
	OtherL4                   // IP but neither TCP nor UDP (ICMP, ...)
	Fragment                  // an IP fragment: Packet's Frag fields are set (Table reassembles)
	Truncated                 // shorter than its headers say (snaplen or damage)
	UnknownLink               // a link type the decoder does not know
	LLC                       // 802.2 LLC with BACnet's SAP: IPv 0, Proto and ports the SAP, Src/Dst named from the MACs, Payload the NPDU
)

// SAPBACnet is the 802.2 service access point of BACnet/Ethernet
// (ANSI/ASHRAE 135 clause 7).
const SAPBACnet = 0x82

var be = binary.BigEndian

// Decode decodes data of link type lt into p without allocating.
func Decode(data []byte, lt capture.LinkType, p *Packet) Result {
	p.VLAN = [2]uint16{}
	p.SrcMAC, p.DstMAC = [6]byte{}, [6]byte{}
	var etype uint16
	var b []byte
	switch lt {
	case capture.LinkEthernet:
		if len(data) < 14 {
			return Truncated
		}
		copy(p.DstMAC[:], data[0:6])
		copy(p.SrcMAC[:], data[6:12])
		etype, b = be.Uint16(data[12:]), data[14:]
		for n := 0; (etype == 0x8100 || etype == 0x88a8 || etype == 0x9100) && n < 4; n++ {
			if len(b) < 4 {
				return Truncated
			}
			if n < 2 {
				p.VLAN[n] = be.Uint16(b)&0xfff + 1
			}
			etype, b = be.Uint16(b[2:]), b[4:]
		}
	case capture.LinkLinuxSLL:
		if len(data) < 16 {
			return Truncated
		}
		etype, b = be.Uint16(data[14:]), data[16:]
	case capture.LinkSLL2:
		if len(data) < 20 {
			return Truncated
		}
		etype, b = be.Uint16(data), data[20:]
	case capture.LinkNull, capture.LinkLoop:
		if len(data) < 4 {
			return Truncated
		}
		fam := be.Uint32(data)
		if lt == capture.LinkNull && data[0] != 0 {
			fam = binary.LittleEndian.Uint32(data)
		}
		b = data[4:]
		switch fam {
		case 2:
			etype = 0x0800
		case 24, 28, 30:
			etype = 0x86dd
		default:
			return NotIP
		}
	case capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6:
		if len(data) < 1 {
			return Truncated
		}
		b = data
		switch data[0] >> 4 {
		case 4:
			etype = 0x0800
		case 6:
			etype = 0x86dd
		default:
			return NotIP
		}
	default:
		return UnknownLink
	}
	switch etype {
	case 0x0800:
		return decodeIPv4(b, p)
	case 0x86dd:
		return decodeIPv6(b, p)
	}
	if etype <= 1500 && lt == capture.LinkEthernet {
		return decodeLLC(b[:min(int(etype), len(b))], p)
	}
	return NotIP
}

// decodeLLC decodes an 802.3 frame's 802.2 header. Only BACnet's SAP is
// decoded (STP, NetBIOS and the rest stay NotIP: no flow for them). The
// endpoints are named by IPv6 addresses made from the MACs, so flows and
// assets keep one address type: the link-local address of the MAC
// (modified EUI-64, RFC 4291 appendix A), and ff02::1 (all nodes) for the
// broadcast MAC or ff02:: plus the MAC for other group MACs.
func decodeLLC(b []byte, p *Packet) Result {
	if len(b) < 3 || b[0] != SAPBACnet || b[1] != SAPBACnet || b[2] != 0x03 {
		return NotIP
	}
	p.IPv, p.Proto = 0, SAPBACnet
	p.Src, p.Dst = macAddr(p.SrcMAC), macAddr(p.DstMAC)
	p.SrcPort, p.DstPort = SAPBACnet, SAPBACnet
	p.Flags, p.Seq, p.Ack = 0, 0, 0
	p.Payload = b[3:]
	return LLC
}

func macAddr(m [6]byte) (a [16]byte) {
	if m[0]&1 != 0 { // group address
		a[0], a[1] = 0xff, 0x02
		if m == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
			a[15] = 1
			return a
		}
		copy(a[10:], m[:])
		return a
	}
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10], a[11], a[12] = m[0]^0x02, m[1], m[2], 0xff, 0xfe
	a[13], a[14], a[15] = m[3], m[4], m[5]
	return a
}

func decodeIPv4(b []byte, p *Packet) Result {
	if len(b) < 20 {
		return Truncated
	}
	ihl := int(b[0]&0xf) * 4
	total := int(be.Uint16(b[2:]))
	if ihl < 20 || len(b) < ihl {
		return Truncated
	}
	// A total length beyond the frame (a capture cut by its snap length, a
	// damaged header, or 0 from TCP segmentation offload on the capturing
	// host) leaves what was captured: decode it, as Wireshark does. A
	// segment cut short then leaves a hole that reassembly skips, and no
	// packet — a SYN or a FIN among them — is lost to a bad length field.
	if total >= ihl && total <= len(b) {
		b = b[:total] // drop Ethernet padding
	}
	p.IPv, p.Proto = 4, b[9]
	p.Src, p.Dst = [16]byte{}, [16]byte{}
	copy(p.Src[:4], b[12:16])
	copy(p.Dst[:4], b[16:20])
	if fo := be.Uint16(b[6:]); fo&0x3fff != 0 { // MF set or a fragment offset
		if total < ihl || total > len(b) {
			return Truncated // a cut fragment would make a wrong datagram
		}
		p.FragID, p.FragOff, p.FragMore = uint32(be.Uint16(b[4:])), int(fo&0x1fff)*8, fo&0x2000 != 0
		p.Payload = b[ihl:]
		return Fragment
	}
	return decodeL4(b[ihl:], p)
}

func decodeIPv6(b []byte, p *Packet) Result {
	if len(b) < 40 {
		return Truncated
	}
	plen := int(be.Uint16(b[4:]))
	if 40+plen > len(b) {
		return Truncated
	}
	p.IPv, p.Proto = 6, b[6]
	copy(p.Src[:], b[8:24])
	copy(p.Dst[:], b[24:40])
	return ip6Chain(b[40:40+plen], p)
}

// ip6Chain walks the IPv6 extension headers from p.Proto to the
// transport header (also after reassembly, on the fragmentable part).
func ip6Chain(b []byte, p *Packet) Result {
	for range 8 { // extension headers, bounded
		switch p.Proto {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 || len(b) < (int(b[1])+1)*8 {
				return Truncated
			}
			p.Proto, b = b[0], b[(int(b[1])+1)*8:]
		case 51: // authentication header
			if len(b) < 8 || len(b) < (int(b[1])+2)*4 {
				return Truncated
			}
			p.Proto, b = b[0], b[(int(b[1])+2)*4:]
		case 44:
			if len(b) < 8 {
				return Truncated
			}
			fo := be.Uint16(b[2:])
			if fo&0xfff9 == 0 { // an atomic fragment (RFC 6946): offset 0, no more
				p.Proto, b = b[0], b[8:]
				continue
			}
			p.Proto, p.FragID, p.FragOff, p.FragMore = b[0], be.Uint32(b[4:]), int(fo&^7), fo&1 != 0
			p.Payload = b[8:]
			return Fragment
		default:
			return decodeL4(b, p)
		}
	}
	return OtherL4
}

func decodeL4(b []byte, p *Packet) Result {
	switch p.Proto {
	case 6:
		if len(b) < 20 {
			return Truncated
		}
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			return Truncated
		}
		p.SrcPort, p.DstPort = be.Uint16(b), be.Uint16(b[2:])
		p.Seq, p.Ack, p.Flags = be.Uint32(b[4:]), be.Uint32(b[8:]), b[13]
		p.Payload = b[off:]
		return OK
	case 17:
		if len(b) < 8 {
			return Truncated
		}
		l := int(be.Uint16(b[4:]))
		if l < 8 || l > len(b) {
			return Truncated
		}
		p.SrcPort, p.DstPort = be.Uint16(b), be.Uint16(b[2:])
		p.Flags, p.Seq, p.Ack = 0, 0, 0
		p.Payload = b[8:l]
		return OK
	}
	return OtherL4
}

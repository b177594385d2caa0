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
	Fragment                  // an IP fragment (not reassembled)
	Truncated                 // shorter than its headers say (snaplen or damage)
	UnknownLink               // a link type the decoder does not know
)

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
	return NotIP
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
	if be.Uint16(b[6:])&0x3fff != 0 { // MF set or a fragment offset
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
	b = b[40 : 40+plen]
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

package bacnet

import (
	"encoding/binary"
	"fmt"

	"github.com/otlink/otlink/internal/dissect"
)

// Proto is the registered protocol name.
const Proto = "bacnet"

const (
	maxObjects = 64 // objects kept per PDU
	maxTags    = 512
)

func init() { dissect.Register(Dissector{}) }

// Dissector is the BACnet/IP dissector.
type Dissector struct{}

// Proto returns "bacnet".
func (Dissector) Proto() string { return Proto }

// Ports returns UDP 47808 (0xBAC0) and, for BACnet/Ethernet, the 802.2
// SAP 0x82 (ANSI/ASHRAE 135 clause 7: LLC type 1, DSAP = SSAP = 0x82).
func (Dissector) Ports() []dissect.Port {
	return []dissect.Port{{T: dissect.UDP, Port: 47808}, {T: dissect.LLC, Port: 0x82}}
}

// Probe accepts a datagram whose BVLC header is type 0x81, a known
// function and a length equal to the datagram's, carrying NPDU version 1
// where the function carries an NPDU.
func (Dissector) Probe(t dissect.Transport, b []byte) bool {
	if t != dissect.UDP || len(b) < 4 || b[0] != 0x81 || b[1] > 0x0c || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return false
	}
	switch b[1] {
	case 0x09, 0x0a, 0x0b:
		return len(b) >= 6 && b[4] == 1
	case 0x04:
		return len(b) >= 12 && b[10] == 1
	}
	return true
}

// NewParser returns the parser of one flow.
func (Dissector) NewParser() dissect.Parser { return &parser{out: &out{}} }

// NewShared returns the output buffers of one flow table.
func (Dissector) NewShared() any { return &out{} }

// NewSharedParser returns the parser of one flow that builds its PDUs in
// shared (see dissect.Sharer).
func (Dissector) NewSharedParser(shared any) dissect.Parser { return &parser{out: shared.(*out)} }

type parser struct {
	*out
}

// out is what a parser builds a PDU in, valid until the next PDU: shared
// by the flows of one table (dissect.Sharer).
type out struct {
	pdu  dissect.PDU
	objs []dissect.Object
	vals []float64         // backing of the objects' values, reused per PDU
	id   map[string]string // backing of pdu.Identity, reused per PDU
}

// Gap does nothing: BACnet/IP is datagrams, each parsed on its own.
func (p *parser) Gap(dissect.Dir) {}

var bvlcNames = [256]string{
	0x00: "BVLC-Result", 0x01: "Write-Broadcast-Distribution-Table", 0x02: "Read-Broadcast-Distribution-Table",
	0x03: "Read-Broadcast-Distribution-Table-Ack", 0x04: "Forwarded-NPDU", 0x05: "Register-Foreign-Device",
	0x06: "Read-Foreign-Device-Table", 0x07: "Read-Foreign-Device-Table-Ack", 0x08: "Delete-Foreign-Device-Table-Entry",
	0x09: "Distribute-Broadcast-To-Network", 0x0a: "Original-Unicast-NPDU", 0x0b: "Original-Broadcast-NPDU",
	0x0c: "Secure-BVLL",
}

func (p *parser) Data(m dissect.Meta, b []byte, emit func(*dissect.PDU)) {
	p.pdu = dissect.PDU{Proto: Proto, Meta: m, Counting: dissect.CountNone}
	p.objs = p.objs[:0]
	p.vals = p.vals[:0]
	defer func() { emit(&p.pdu) }()
	if m.T == dissect.LLC {
		p.npdu(b) // BACnet/Ethernet: the NPDU follows the LLC header, no BVLC
		return
	}
	if len(b) < 4 || b[0] != 0x81 {
		p.pdu.Malformed = "not a bvlc header (type 0x81)"
		return
	}
	fn := b[1]
	ln := int(binary.BigEndian.Uint16(b[2:]))
	if ln < 4 {
		p.pdu.Malformed = fmt.Sprintf("bvlc length %d below 4", ln)
		return
	}
	if ln > len(b) {
		// Keep going, as tshark does: the NPDU usually still says what
		// was asked, and a short datagram is worth its malformed mark.
		p.pdu.Malformed = fmt.Sprintf("bvlc length %d with %d bytes", ln, len(b))
		ln = len(b)
	}
	b = b[4:ln]
	p.pdu.Name = bvlcNames[fn]
	p.pdu.Variant = "bvlc"
	switch fn {
	case 0x04:
		if len(b) < 6 {
			p.pdu.Malformed = "forwarded npdu without its origin"
			return
		}
		b = b[6:]
	case 0x09, 0x0a, 0x0b:
	case 0x05:
		p.pdu.Action = dissect.ActConnect
		return
	case 0x01, 0x08:
		p.pdu.Action = dissect.ActWrite
		return
	case 0x02, 0x06:
		p.pdu.Action = dissect.ActRead
		return
	default:
		if p.pdu.Name == "" {
			p.pdu.Malformed = fmt.Sprintf("unknown bvlc function 0x%02x", fn)
		}
		return
	}
	p.pdu.Variant = ""
	p.npdu(b)
}

// npdu decodes the network layer header and hands the APDU on.
func (p *parser) npdu(b []byte) {
	if len(b) < 2 {
		p.pdu.Malformed = "truncated npdu"
		return
	}
	if b[0] != 1 {
		p.pdu.Malformed = fmt.Sprintf("npdu version %d", b[0])
		return
	}
	ctl := b[1]
	off := 2
	dnet := ctl&0x20 != 0
	for _, present := range []bool{dnet, ctl&0x08 != 0} {
		if !present {
			continue
		}
		if len(b)-off < 3 {
			p.pdu.Malformed = "truncated npdu address"
			return
		}
		net := binary.BigEndian.Uint16(b[off:])
		alen := int(b[off+2])
		off += 3 + alen
		if off > len(b) {
			p.pdu.Malformed = "truncated npdu address"
			return
		}
		if present && p.pdu.Unit == 0 {
			p.pdu.Unit = uint32(net)
		}
	}
	if dnet {
		off++ // hop count
	}
	if off > len(b) {
		p.pdu.Malformed = "truncated npdu"
		return
	}
	if ctl&0x80 != 0 {
		p.network(b[off:])
		return
	}
	p.apdu(b[off:])
}

var netNames = [256]string{
	0: "Who-Is-Router-To-Network", 1: "I-Am-Router-To-Network", 2: "I-Could-Be-Router-To-Network",
	3: "Reject-Message-To-Network", 4: "Router-Busy-To-Network", 5: "Router-Available-To-Network",
	6: "Initialize-Routing-Table", 7: "Initialize-Routing-Table-Ack", 8: "Establish-Connection-To-Network",
	9: "Disconnect-Connection-To-Network", 0x12: "What-Is-Network-Number", 0x13: "Network-Number-Is",
}

// network decodes a network layer message: not counted by tshark's
// bacapp fields, but who asks for routers is scanning.
func (p *parser) network(b []byte) {
	p.pdu.Variant = "network"
	if len(b) < 1 {
		p.pdu.Malformed = "network message without a type"
		return
	}
	p.pdu.Function = uint32(b[0])
	p.pdu.Name = netNames[b[0]]
	if p.pdu.Name == "" {
		p.pdu.Name = fmt.Sprintf("Network Message %d", b[0])
	}
	switch b[0] {
	case 0, 0x12:
		p.pdu.Action = dissect.ActIdentify
		p.pdu.Request = true
	case 1, 2, 0x13:
		p.pdu.Action = dissect.ActIdentify
		p.pdu.Response = true
	case 6:
		p.pdu.Action = dissect.ActWrite
	}
}

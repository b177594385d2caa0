package dissecttest

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/dissect"
)

// maxFrames bounds the replay loop; the shared captures are far smaller.
const maxFrames = 10_000_000

type endpoint struct {
	addr string
	port uint16
}

// flowKey names a flow the same way from both directions: a is the lesser
// endpoint.
type flowKey struct {
	a, b endpoint
	t    dissect.Transport
}

type replayFlow struct {
	p      dissect.Parser
	client endpoint
	next   [2]uint32 // next expected TCP sequence number, per Dir
	seen   [2]bool
}

// Replay feeds the TCP and UDP payloads of the pcap or pcapng capture at
// path to d's parsers, one per flow, and calls emit for every PDU.
//
// A flow belongs to d when either port is one of d.Ports(); the side on d's
// port is the server, and when both or neither side is (for example BACnet
// 47808 to 47808) the sender of the flow's first packet is the client.
// TCP reassembly is naive and in order, as the tests rely on: the SYN sets
// the expected sequence number (else the first payload does), retransmitted
// bytes are trimmed, and a hole is reported to the parser as a Gap. IP
// fragments are not reassembled: they are skipped. A truncated last record
// ends the replay.
func Replay(t testing.TB, path string, d dissect.Dissector, emit func(*dissect.PDU)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var src source
	var lt layers.LinkType
	if r, err := pcapgo.NewReader(f); err == nil {
		src, lt = r, r.LinkType()
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: not pcap nor pcapng: %v", path, err)
		}
		src, lt = r, r.LinkType()
	}
	ports := map[dissect.Port]bool{}
	for _, p := range d.Ports() {
		ports[p] = true
	}
	flows := map[flowKey]*replayFlow{}
	for frame := uint64(1); frame <= maxFrames; frame++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			return // a truncated last record
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		nl := pkt.NetworkLayer()
		if nl == nil {
			continue
		}
		srcIP, dstIP := nl.NetworkFlow().Endpoints()
		var tr dissect.Transport
		var sp, dp uint16
		var payload []byte
		var tcp *layers.TCP
		switch l := pkt.TransportLayer().(type) {
		case *layers.TCP:
			tr, sp, dp, payload, tcp = dissect.TCP, uint16(l.SrcPort), uint16(l.DstPort), l.Payload, l
		case *layers.UDP:
			tr, sp, dp, payload = dissect.UDP, uint16(l.SrcPort), uint16(l.DstPort), l.Payload
		default:
			continue
		}
		srvSrc, srvDst := ports[dissect.Port{T: tr, Port: sp}], ports[dissect.Port{T: tr, Port: dp}]
		if !srvSrc && !srvDst {
			continue
		}
		from, to := endpoint{srcIP.String(), sp}, endpoint{dstIP.String(), dp}
		k := flowKey{from, to, tr}
		if from.addr > to.addr || (from.addr == to.addr && from.port > to.port) {
			k = flowKey{to, from, tr}
		}
		fl := flows[k]
		if fl == nil {
			fl = &replayFlow{p: d.NewParser(), client: from}
			if srvSrc && !srvDst {
				fl.client = to
			}
			flows[k] = fl
		}
		dir := dissect.ToServer
		if from != fl.client {
			dir = dissect.ToClient
		}
		m := dissect.Meta{Time: ci.Timestamp.UnixNano(), Frame: frame, Dir: dir, T: tr}
		if tcp == nil {
			if len(payload) > 0 {
				fl.p.Data(m, payload, emit)
			}
			continue
		}
		replayTCP(fl, m, tcp, payload, emit)
	}
}

// replayTCP is the naive in-order reassembly of one TCP segment.
func replayTCP(fl *replayFlow, m dissect.Meta, tcp *layers.TCP, payload []byte, emit func(*dissect.PDU)) {
	dir := m.Dir
	seq := tcp.Seq
	if tcp.SYN {
		seq++
		fl.next[dir], fl.seen[dir] = seq, true
	}
	if len(payload) == 0 {
		return
	}
	if !fl.seen[dir] {
		fl.next[dir], fl.seen[dir] = seq, true
	}
	diff := int32(seq - fl.next[dir])
	if diff < 0 && diff > -(1<<30) {
		if int(-diff) >= len(payload) {
			return // retransmission
		}
		payload = payload[-diff:] // retransmission with new bytes at the end
		seq = fl.next[dir]
	} else if diff != 0 {
		fl.p.Gap(dir)
	}
	fl.next[dir] = seq + uint32(len(payload))
	fl.p.Data(m, payload, emit)
}

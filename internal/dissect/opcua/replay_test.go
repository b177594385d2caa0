package opcua

// This file is shared verbatim by the dissector packages (modbus, s7comm,
// enip): a naive pcap replayer for tests and tshark's counts to compare.

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/dissect"
)

const sharedPcaps = "../../../../shared/testdata/pcaps"

// sharedFiles lists the shared captures of one protocol, or skips.
func sharedFiles(t *testing.T, proto string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedPcaps, proto, "*"))
	if len(files) == 0 {
		t.Skipf("no shared captures under %s/%s", sharedPcaps, proto)
	}
	sort.Strings(files)
	return files
}

func needTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
}

// tsharkCounts runs tshark on path and counts every occurrence of field.
func tsharkCounts(t *testing.T, path, field string) map[uint32]int {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", field, "-E", "occurrence=a").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	m := map[uint32]int{}
	for _, line := range strings.Split(string(out), "\n") {
		for _, v := range strings.Split(line, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				t.Fatalf("tshark value %q: %v", v, err)
			}
			m[uint32(n)]++
		}
	}
	return m
}

type flowKey struct {
	cli, srv     string
	cport, sport uint16
	t            dissect.Transport
}

type replayFlow struct {
	p    dissect.Parser
	next [2]uint32
	seen [2]bool
}

// replay feeds the TCP and UDP payloads of the capture at path to d's
// parsers, one per flow, with a naive in-order reassembly: retransmitted
// bytes are trimmed, a hole is reported as a Gap. A flow belongs to d when
// either port is one of d's ports; the side on d's port is the server.
func replay(t testing.TB, path string, d dissect.Dissector, emit func(*dissect.PDU)) {
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
	var frame uint64
	for i := 0; i < 10_000_000; i++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			break // a truncated last record
		}
		frame++
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		nl := pkt.NetworkLayer()
		if nl == nil {
			continue
		}
		src, dst := nl.NetworkFlow().Endpoints()
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
		var k flowKey
		var dir dissect.Dir
		switch {
		case ports[dissect.Port{T: tr, Port: dp}]:
			k, dir = flowKey{src.String(), dst.String(), sp, dp, tr}, dissect.ToServer
		case ports[dissect.Port{T: tr, Port: sp}]:
			k, dir = flowKey{dst.String(), src.String(), dp, sp, tr}, dissect.ToClient
		default:
			continue
		}
		fl := flows[k]
		if fl == nil {
			fl = &replayFlow{p: d.NewParser()}
			flows[k] = fl
		}
		m := dissect.Meta{Time: ci.Timestamp.UnixNano(), Frame: frame, Dir: dir, T: tr}
		if tcp == nil {
			if len(payload) > 0 {
				fl.p.Data(m, payload, emit)
			}
			continue
		}
		seq := tcp.Seq
		if tcp.SYN {
			seq++
			fl.next[dir], fl.seen[dir] = seq, true
		}
		if len(payload) == 0 {
			continue
		}
		if !fl.seen[dir] {
			fl.next[dir], fl.seen[dir] = seq, true
		}
		diff := int32(seq - fl.next[dir])
		if diff < 0 && diff > -(1<<30) {
			if int(-diff) >= len(payload) {
				continue // retransmission
			}
			payload = payload[-diff:]
			seq = fl.next[dir]
		} else if diff != 0 {
			fl.p.Gap(dir)
		}
		fl.next[dir] = seq + uint32(len(payload))
		fl.p.Data(m, payload, emit)
	}
}

// countPDUs replays path and counts Function per Counting map.
func countPDUs(t testing.TB, path string, d dissect.Dissector, c dissect.Counting) map[uint32]int {
	m := map[uint32]int{}
	replay(t, path, d, func(p *dissect.PDU) {
		if p.Counting == c {
			m[p.Function]++
		}
	})
	return m
}

func diffCounts(ours, theirs map[uint32]int) string {
	keys := map[uint32]bool{}
	for k := range ours {
		keys[k] = true
	}
	for k := range theirs {
		keys[k] = true
	}
	var ks []int
	for k := range keys {
		ks = append(ks, int(k))
	}
	sort.Ints(ks)
	var b strings.Builder
	for _, k := range ks {
		if ours[uint32(k)] != theirs[uint32(k)] {
			b.WriteString(" 0x" + strconv.FormatInt(int64(k), 16) + ": ours " + strconv.Itoa(ours[uint32(k)]) + " tshark " + strconv.Itoa(theirs[uint32(k)]) + ";")
		}
	}
	return b.String()
}

func total(m map[uint32]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

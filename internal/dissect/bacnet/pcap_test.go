package bacnet

// This file is shared verbatim by the dnp3, iec104 and bacnet tests (only
// the package clause differs): a minimal classic-pcap reader with naive
// in-order TCP reassembly, enough to replay public captures through a
// dissector, and a tshark runner to count the same fields.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

const sharedPcaps = "../../../../shared/testdata/pcaps/"

// counts is per Counting map, per function value, the number of PDUs.
type counts map[dissect.Counting]map[uint32]int

func (c counts) add(k dissect.Counting, f uint32, n int) {
	if c[k] == nil {
		c[k] = map[uint32]int{}
	}
	c[k][f] += n
}

func (c counts) String() string {
	var parts []string
	for _, k := range []dissect.Counting{dissect.CountFunction, dissect.CountCommand, dissect.CountUnconfirmed} {
		m := c[k]
		fs := make([]int, 0, len(m))
		for f := range m {
			fs = append(fs, int(f))
		}
		sort.Ints(fs)
		var s []string
		for _, f := range fs {
			s = append(s, strconv.Itoa(f)+":"+strconv.Itoa(m[uint32(f)]))
		}
		if len(s) > 0 {
			parts = append(parts, "["+strconv.Itoa(int(k))+"] "+strings.Join(s, " "))
		}
	}
	return strings.Join(parts, " ")
}

func (c counts) equal(o counts) bool { return c.String() == o.String() }

type endpoint struct {
	ip   [16]byte
	port uint16
}

type flowKey struct{ a, b endpoint }

type dirState struct {
	next    uint32
	started bool
}

type replayFlow struct {
	p      dissect.Parser
	client endpoint
	dirs   [2]dirState
}

// replayPcap feeds every TCP and UDP payload of a classic pcap file whose
// ports include one of d's ports to a parser per flow, and calls each for
// every PDU.
func replayPcap(t testing.TB, path string, d dissect.Dissector, each func(*dissect.PDU)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 24 {
		t.Fatalf("%s: short pcap", path)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(raw) {
	case 0xa1b2c3d4, 0xa1b23c4d:
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		t.Fatalf("%s: not a classic pcap file", path)
	}
	linkType := bo.Uint32(raw[20:])
	ports := map[dissect.Port]bool{}
	for _, p := range d.Ports() {
		ports[p] = true
	}
	flows := map[flowKey]*replayFlow{}
	r := bytes.NewReader(raw[24:])
	hdr := make([]byte, 16)
	for frame := uint64(1); ; frame++ {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("%s: %v", path, err)
		}
		incl := bo.Uint32(hdr[8:])
		if incl > 1<<20 {
			t.Fatalf("%s: frame %d too large", path, frame)
		}
		pkt := make([]byte, incl)
		if _, err := io.ReadFull(r, pkt); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ts := int64(bo.Uint32(hdr[0:]))*1e9 + int64(bo.Uint32(hdr[4:]))*1e3
		replayPacket(d, linkType, pkt, frame, ts, ports, flows, each)
	}
}

func replayPacket(d dissect.Dissector, linkType uint32, pkt []byte, frame uint64, ts int64, ports map[dissect.Port]bool, flows map[flowKey]*replayFlow, each func(*dissect.PDU)) {
	var etype uint16
	switch linkType {
	case 1: // Ethernet
		if len(pkt) < 14 {
			return
		}
		etype, pkt = binary.BigEndian.Uint16(pkt[12:]), pkt[14:]
		for (etype == 0x8100 || etype == 0x88a8) && len(pkt) >= 4 {
			etype, pkt = binary.BigEndian.Uint16(pkt[2:]), pkt[4:]
		}
	case 113: // Linux cooked
		if len(pkt) < 16 {
			return
		}
		etype, pkt = binary.BigEndian.Uint16(pkt[14:]), pkt[16:]
	case 101: // raw IP
		if len(pkt) > 0 && pkt[0]>>4 == 6 {
			etype = 0x86dd
		} else {
			etype = 0x0800
		}
	default:
		return
	}
	var src, dst endpoint
	var proto byte
	switch etype {
	case 0x0800:
		if len(pkt) < 20 {
			return
		}
		ihl := int(pkt[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(pkt[2:]))
		if ihl < 20 || tot < ihl || len(pkt) < ihl {
			return
		}
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return // fragments are not reassembled here
		}
		proto = pkt[9]
		copy(src.ip[12:], pkt[12:16])
		copy(dst.ip[12:], pkt[16:20])
		pkt = pkt[ihl:min(tot, len(pkt))]
	case 0x86dd:
		if len(pkt) < 40 {
			return
		}
		proto = pkt[6]
		copy(src.ip[:], pkt[8:24])
		copy(dst.ip[:], pkt[24:40])
		pkt = pkt[40:min(40+int(binary.BigEndian.Uint16(pkt[4:])), len(pkt))]
	default:
		return
	}
	var tr dissect.Transport
	var payload []byte
	var seq uint32
	var syn bool
	switch proto {
	case 6:
		if len(pkt) < 20 || int(pkt[12]>>4)*4 > len(pkt) {
			return
		}
		tr = dissect.TCP
		seq = binary.BigEndian.Uint32(pkt[4:])
		syn = pkt[13]&0x02 != 0
		payload = pkt[int(pkt[12]>>4)*4:]
	case 17:
		if len(pkt) < 8 {
			return
		}
		tr = dissect.UDP
		payload = pkt[8:min(int(binary.BigEndian.Uint16(pkt[4:])), len(pkt))]
		if int(binary.BigEndian.Uint16(pkt[4:])) < 8 {
			payload = pkt[8:]
		}
	default:
		return
	}
	src.port = binary.BigEndian.Uint16(pkt[0:])
	dst.port = binary.BigEndian.Uint16(pkt[2:])
	srvSrc, srvDst := ports[dissect.Port{T: tr, Port: src.port}], ports[dissect.Port{T: tr, Port: dst.port}]
	if !srvSrc && !srvDst {
		return
	}
	key := flowKey{src, dst}
	if bytes.Compare(src.ip[:], dst.ip[:]) > 0 || (src.ip == dst.ip && src.port > dst.port) {
		key = flowKey{dst, src}
	}
	fl := flows[key]
	if fl == nil {
		fl = &replayFlow{client: src}
		if srvSrc && !srvDst {
			fl.client = dst
		}
		fl.p = d.NewParser()
		flows[key] = fl
	}
	dir := dissect.ToServer
	if src != fl.client {
		dir = dissect.ToClient
	}
	m := dissect.Meta{Time: ts, Frame: frame, Dir: dir, T: tr}
	if tr == dissect.UDP {
		if len(payload) > 0 {
			fl.p.Data(m, payload, each)
		}
		return
	}
	ds := &fl.dirs[dir]
	if syn {
		ds.next, ds.started = seq+1, true
		return
	}
	if len(payload) == 0 {
		return
	}
	if !ds.started {
		ds.next, ds.started = seq, true
	}
	end := seq + uint32(len(payload))
	switch diff := int32(seq - ds.next); {
	case diff < 0: // retransmission, maybe with new bytes at the end
		if int32(end-ds.next) <= 0 {
			return
		}
		payload = payload[-diff:]
	case diff > 0:
		fl.p.Gap(dir)
	}
	ds.next = end
	fl.p.Data(m, payload, each)
}

// tsharkCounts runs tshark on path and counts every occurrence of each
// field in the packets that match the display filter (all when ""); fields[i]
// is counted in Counting k[i].
func tsharkCounts(t testing.TB, path, filter string, fields []string, k []dissect.Counting) counts {
	t.Helper()
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	c := counts{}
	for _, line := range strings.Split(string(out), "\n") {
		cols := strings.Split(line, "\t")
		for i, col := range cols {
			if i >= len(k) || col == "" {
				continue
			}
			for _, v := range strings.Split(col, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32)
				if err != nil {
					t.Fatalf("tshark %s: field %s value %q", path, fields[i], v)
				}
				c.add(k[i], uint32(n), 1)
			}
		}
	}
	return c
}

// sharedFiles lists the shared captures of dir, skipping the test when
// there are none or tshark is missing.
func sharedFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := os.ReadDir(sharedPcaps + dir)
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".pcap") {
			out = append(out, sharedPcaps+dir+"/"+f.Name())
		}
	}
	if len(out) == 0 {
		t.Skipf("no shared captures in %s%s", sharedPcaps, dir)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	return out
}

// ourCounts replays path through d and counts PDUs as the summary does.
func ourCounts(t testing.TB, path string, d dissect.Dissector) (counts, int) {
	c := counts{}
	malformed := 0
	replayPcap(t, path, d, func(p *dissect.PDU) {
		if p.Malformed != "" {
			malformed++
		}
		if p.Counting != dissect.CountNone {
			c.add(p.Counting, p.Function, 1)
		}
	})
	return c, malformed
}

package enip

import (
	"encoding/binary"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

func collect(t *testing.T, name string) (map[dissect.Action]int, map[string]string) {
	t.Helper()
	dissecttest.Captures(t, "enip") // skips when the captures are absent
	acts := map[dissect.Action]int{}
	id := map[string]string{}
	dissecttest.Replay(t, dissecttest.Capture("enip", name), Dissector{}, func(p *dissect.PDU) {
		acts[p.Action]++
		for k, v := range p.Identity {
			id[k] = v
		}
	})
	return acts, id
}

func TestSharedActionsAndIdentity(t *testing.T) {
	for _, c := range []struct {
		file string
		want dissect.Action
	}{
		{"iti__cip_stop_plc.pcap", dissect.ActStop},
		{"iti__cip_start_plc.pcap", dissect.ActStart},
		{"iti__EIP-RemoteModeChangeAttempt.pcap", dissect.ActStop},
		{"iti__EIP-RebootorRestart.pcap", dissect.ActRestart},
		{"iti__EIP-SoftwareUpload.pcap", dissect.ActConnect},
		// Rockwell routine transfers on vendor class 0x6A: Upload Transfer
		// 0x4F, and a program download (Create, Download Transfer 0x50)
		// ahead of the restart.
		{"iti__EIP-SoftwareUpload.pcap", dissect.ActUpload},
		{"iti__EIP-RebootorRestart.pcap", dissect.ActDownload},
		{"cisa__set_attribute_single_service_cip.pcapng", dissect.ActWrite},
		{"cisa__enip_cip_example.pcap", dissect.ActRead},
	} {
		acts, _ := collect(t, c.file)
		if acts[c.want] == 0 {
			t.Errorf("%s: no %v in %v", c.file, c.want, acts)
		}
	}
	_, id := collect(t, "iti__enip_test.pcap")
	if id["vendor_id"] == "" || id["product"] == "" || id["serial"] == "" || id["revision"] == "" {
		t.Errorf("ListIdentity identity %v", id)
	}
	t.Logf("ListIdentity: %v", id)
	_, id = collect(t, "iti__EIP-SoftwareUpload.pcap")
	if id["vendor"] == "" || id["product"] == "" {
		t.Errorf("Get_Attributes_All identity %v", id)
	}
	t.Logf("Identity object: %v", id)
}

// A Multiple Service Packet inside an Unconnected Send, split across
// segments, yields each service once, with paths.
func TestNestedServices(t *testing.T) {
	get := []byte{0x0E, 0x03, 0x20, 0x01, 0x24, 0x01, 0x30, 0x07} // Get_Attribute_Single 1/1/7
	set := []byte{0x10, 0x03, 0x20, 0x8E, 0x24, 0x01, 0x30, 0x0A, 0x02}
	msp := []byte{0x0A, 0x02, 0x20, 0x02, 0x24, 0x01, 2, 0, 6, 0, byte(6 + len(get)), 0}
	msp = append(append(msp, get...), set...)
	us := []byte{0x52, 0x02, 0x20, 0x06, 0x24, 0x01, 0x0A, 0xF0, byte(len(msp)), 0}
	us = append(us, msp...)
	if len(msp)%2 == 1 {
		us = append(us, 0)
	}
	us = append(us, 1, 0, 1, 0) // route path: port 1, slot 0
	cpfb := []byte{0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0, byte(len(us)), 0}
	cpfb = append(cpfb, us...)
	h := make([]byte, encapHeader)
	binary.LittleEndian.PutUint16(h, cmdSendRRData)
	binary.LittleEndian.PutUint16(h[2:], uint16(len(cpfb)))
	frame := append(h, cpfb...)
	p := Dissector{}.NewParser()
	var fn []uint32
	var objs []string
	emit := func(d *dissect.PDU) {
		if d.Malformed != "" {
			t.Fatalf("malformed: %s", d.Malformed)
		}
		fn = append(fn, d.Function)
		for _, o := range d.Objects {
			objs = append(objs, o.Space)
		}
		if d.Function == 0x10 && d.Action != dissect.ActWrite {
			t.Errorf("set attribute single: action %v", d.Action)
		}
	}
	m := dissect.Meta{Dir: dissect.ToServer, T: dissect.TCP}
	p.Data(m, frame[:10], emit)
	p.Data(m, frame[10:30], emit)
	p.Data(m, frame[30:], emit)
	want := []uint32{cmdSendRRData, 0x52, 0x0A, 0x0E, 0x10}
	if len(fn) != len(want) {
		t.Fatalf("functions %x, want %x", fn, want)
	}
	for i := range want {
		if fn[i] != want[i] {
			t.Fatalf("functions %x, want %x", fn, want)
		}
	}
	if len(objs) != 4 || objs[2] != "class 1 instance 1" || objs[3] != "class 142 instance 1" {
		t.Errorf("objects %q", objs)
	}
}

// TestMultipleServiceReplyPaired: the embedded replies of a Multiple
// Service Packet take the action and object of the embedded request at
// the same index, also over the connected transport.
func TestMultipleServiceReplyPaired(t *testing.T) {
	get := []byte{0x0E, 0x03, 0x20, 0x01, 0x24, 0x01, 0x30, 0x07} // Get_Attribute_Single 1/1/7
	up := []byte{0x4F, 0x04, 0x20, 0x68, 0x25, 0x00, 0x20, 0x24, 0x20, 0x6A, 0x25, 0x00, 0xFA, 0x1B, 0, 0, 0, 0}
	msp := func(svc byte, parts ...[]byte) []byte {
		b := []byte{svc, 0x02, 0x20, 0x02, 0x24, 0x01}
		if svc&0x80 != 0 {
			b = []byte{svc, 0, 0, 0}
		}
		off := 2 + 2*len(parts)
		b = append(b, byte(len(parts)), 0)
		for _, q := range parts {
			b = append(b, byte(off), byte(off>>8))
			off += len(q)
		}
		for _, q := range parts {
			b = append(b, q...)
		}
		return b
	}
	frame := func(cip []byte) []byte {
		c := []byte{0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0, 1, 0, 0, 0, 0xB1, 0, byte(2 + len(cip)), 0, 7, 0}
		c = append(c, cip...)
		h := make([]byte, encapHeader)
		binary.LittleEndian.PutUint16(h, cmdSendUnitData)
		binary.LittleEndian.PutUint16(h[2:], uint16(len(c)))
		return append(h, c...)
	}
	req := frame(msp(0x0A, get, up))
	rep := frame(msp(0x8A, []byte{0x8E, 0, 0, 0, 5, 0}, []byte{0xCF, 0, 0, 0, 'r', 'u', 'n', 'g'}))
	p := Dissector{}.NewParser()
	type got struct {
		fn  uint32
		act dissect.Action
		obj string
	}
	var out []got
	emit := func(d *dissect.PDU) {
		if d.Malformed != "" {
			t.Fatalf("malformed: %s", d.Malformed)
		}
		g := got{fn: d.Function, act: d.Action}
		if len(d.Objects) > 0 {
			g.obj = d.Objects[0].Space
		}
		if d.Counting == dissect.CountFunction && d.Response {
			out = append(out, g)
		}
	}
	p.Data(dissect.Meta{Dir: dissect.ToServer, T: dissect.TCP}, req, emit)
	p.Data(dissect.Meta{Dir: dissect.ToClient, T: dissect.TCP}, rep, emit)
	want := []got{{0x0A, dissect.ActOther, "class 2"}, {0x0E, dissect.ActIdentify, "class 1"}, {0x4F, dissect.ActUpload, "class 106"}}
	if len(out) != len(want) {
		t.Fatalf("replies %+v, want %+v", out, want)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("replies %+v, want %+v", out, want)
		}
	}
}

// TestProbeRejectsNetBIOS: a NetBIOS session header (type 0, length
// 0x0031) followed by SMB reads as a NOP of 12,544 bytes with a non-zero
// status; it must not make a port-139 flow EtherNet/IP.
func TestProbeRejectsNetBIOS(t *testing.T) {
	smb := []byte("\x00\x00\x00\x31\xffSMB\x2b\x00\x00\x00\x00\x18\x43\xc0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xfe\x00\x00\xfe\xff\x01\x01\x00\x0c\x00\x4alJmIhClBsr\x00")
	if (Dissector{}).Probe(dissect.TCP, smb) {
		t.Fatal("NetBIOS/SMB probed as EtherNet/IP")
	}
	reg := []byte{0x65, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1, 0, 0, 0}
	if !(Dissector{}).Probe(dissect.TCP, reg) {
		t.Fatal("RegisterSession not recognised")
	}
	reg[8] = 1 // a status: not a client's request
	if (Dissector{}).Probe(dissect.TCP, reg) {
		t.Fatal("a message with a status probed as a request")
	}
}

package analyze_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
)

// TestTsharkFragments: Modbus/TCP over IPv4 and IPv6 and BACnet/IP over
// UDP, every packet cut into IP fragments (BACnet's last first), give
// exactly tshark's counts, which come from its own IP reassembly.
func TestTsharkFragments(t *testing.T) {
	needTshark(t)
	path := filepath.Join(t.TempDir(), "frag.pcap")
	w := newCapture(t, path)
	w.FragSize = 16
	modbusSession(t, w, netip.MustParseAddrPort("10.0.0.10:40001"), netip.MustParseAddrPort("10.0.0.20:502"))
	modbusSession(t, w, netip.MustParseAddrPort("[fd00::10]:40002"), netip.MustParseAddrPort("[fd00::20]:502"))
	w.FragReverse = true
	cli, srv := netip.MustParseAddrPort("10.0.0.30:47808"), netip.MustParseAddrPort("10.0.0.40:47808")
	for id := range byte(20) {
		obj := id % 8
		req := []byte{0x81, 0x0a, 0, 0x11, 1, 4, 0x00, 0x05, id, 0x0c, 0x0c, 0, 0, 0, obj, 0x19, 0x55}
		ack := []byte{0x81, 0x0a, 0, 0x17, 1, 0, 0x30, id, 0x0c, 0x0c, 0, 0, 0, obj, 0x19, 0x55, 0x3e, 0x44, 0x42, 0xc8, 0, 0, 0x3f}
		if err := w.UDP(cli, srv, req); err != nil {
			t.Fatal(err)
		}
		if err := w.UDP(srv, cli, ack); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := analyze.File(context.Background(), path, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := analyze.Tshark(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rows := analyze.Compare(fs.PDUs, ts, []string{"modbus", "bacnet"})
	for _, proto := range []string{"modbus", "bacnet"} {
		pct, ours, theirs := analyze.Agreement(rows, proto)
		if ours == 0 || pct != 1 {
			var b strings.Builder
			analyze.WriteRows(&b, rows, true)
			t.Fatalf("%s: ours %d, tshark %d, agreement %.1f%%\n%s", proto, ours, theirs, 100*pct, b.String())
		}
	}
	if fs.PDUs["bacnet"].Total != 40 || fs.Stats.Reassembled == 0 || fs.Stats.FragOverlaps != 0 || fs.Flows != 3 {
		t.Fatalf("bacnet %d, stats %+v", fs.PDUs["bacnet"].Total, fs.Stats)
	}
	if m := fs.Malformed["modbus"] + fs.Malformed["bacnet"]; m != 0 {
		t.Fatalf("%d malformed", m)
	}
}

// TestTsharkBACnetEthernet: BACnet over 802.2 LLC (SAP 0x82, no IP), with
// a VLAN tag on some frames and Ethernet padding, gives tshark's counts.
func TestTsharkBACnetEthernet(t *testing.T) {
	needTshark(t)
	path := filepath.Join(t.TempDir(), "llc.pcap")
	w := newCapture(t, path)
	cli, srv := []byte{0x00, 0xe0, 0xc9, 0, 0x10, 0xa5}, []byte{0x00, 0x40, 0xae, 0, 0, 0x01}
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	frame := func(dst, src []byte, vlan bool, npdu []byte) {
		b := append(append([]byte{}, dst...), src...)
		if vlan {
			b = append(b, 0x81, 0x00, 0x00, 0x07)
		}
		n := 3 + len(npdu)
		b = append(b, byte(n>>8), byte(n), 0x82, 0x82, 0x03)
		b = append(b, npdu...)
		for len(b) < 60 {
			b = append(b, 0) // padding: not part of the NPDU
		}
		if err := w.Frame(b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range byte(12) {
		vlan := i%3 == 0
		if i%4 == 0 {
			frame(bcast, cli, vlan, []byte{1, 0, 0x10, 0x08})                                                                   // Who-Is
			frame(bcast, srv, vlan, []byte{1, 0, 0x10, 0x00, 0xc4, 0x02, 0, 0, 0x0a, 0x22, 0x05, 0xc4, 0x91, 0x03, 0x21, 0x0f}) // I-Am
			continue
		}
		frame(srv, cli, vlan, []byte{1, 4, 0x00, 0x05, i, 0x0c, 0x0c, 0, 0, 0, i, 0x19, 0x55})                               // ReadProperty
		frame(cli, srv, vlan, []byte{1, 0, 0x30, i, 0x0c, 0x0c, 0, 0, 0, i, 0x19, 0x55, 0x3e, 0x44, 0x42, 0xc8, 0, 0, 0x3f}) // ack
	}
	frame(srv, cli, false, []byte{1, 0x80, 0x00}) // Who-Is-Router-To-Network: not counted by bacapp
	fs, err := analyze.File(context.Background(), path, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := analyze.Tshark(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rows := analyze.Compare(fs.PDUs, ts, []string{"bacnet"})
	if pct, ours, theirs := analyze.Agreement(rows, "bacnet"); ours != 24 || pct != 1 {
		var b strings.Builder
		analyze.WriteRows(&b, rows, true)
		t.Fatalf("bacnet: ours %d, tshark %d, agreement %.1f%%\n%s", ours, theirs, 100*pct, b.String())
	}
	if fs.Malformed["bacnet"] != 0 || fs.Flows == 0 {
		t.Fatalf("malformed %d flows %d", fs.Malformed["bacnet"], fs.Flows)
	}
}

package analyze_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/bench"
)

// TestShardsSameCounts: a file dissected by several goroutines, each
// following a share of the address pairs, gives the counts of one
// goroutine — PDUs by function, names, malformed PDUs, flows by protocol
// and every flow, fragment and reassembly counter — on generated captures
// (the bench's mix of eight protocols; fragmented Modbus and BACnet; flows
// that time out) and on every public capture.
func TestShardsSameCounts(t *testing.T) {
	dir := t.TempDir()
	mix := filepath.Join(dir, "mix.pcap")
	if err := bench.WriteDPICapture(mix, 30_000); err != nil {
		t.Fatal(err)
	}
	frag := filepath.Join(dir, "frag.pcap")
	w := newCapture(t, frag)
	w.FragSize = 16
	for i := range 4 {
		modbusSession(t, w, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}), 40001), netip.MustParseAddrPort("10.0.0.20:502"))
		modbusSession(t, w, netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(10 + i)}), 40002), netip.MustParseAddrPort("[fd00::20]:502"))
		// A BACnet ReadProperty left open, then a pause past the idle
		// timeout: flows end in sweeps.
		req := []byte{0x81, 0x0a, 0, 0x11, 1, 4, 0x00, 0x05, byte(i), 0x0c, 0x0c, 0, 0, 0, 1, 0x19, 0x55}
		if err := w.UDP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 47808), netip.MustParseAddrPort("10.0.0.40:47808"), req); err != nil {
			t.Fatal(err)
		}
		w.Time += int64(10 * time.Minute)
	}
	paths := append([]string{mix, frag}, publicCaptures(t)...)
	for i, p := range paths {
		filter := ""
		if i == 0 {
			filter = "tcp" // each shard compiles its own
		}
		one, err1 := analyze.File(context.Background(), p, analyze.Options{Filter: filter})
		if one.Packets == 0 {
			t.Errorf("%s: no packets (%v)", p, err1)
		}
		for _, n := range []int{2, 3} {
			many, errN := analyze.File(context.Background(), p, analyze.Options{Filter: filter, Shards: n})
			if fmt.Sprint(err1) != fmt.Sprint(errN) {
				t.Errorf("%s, %d shards: error %v, one shard %v", p, n, errN, err1)
			}
			if !reflect.DeepEqual(one, many) {
				t.Errorf("%s, %d shards:\n%+v\none shard:\n%+v", p, n, many, one)
			}
		}
	}
}

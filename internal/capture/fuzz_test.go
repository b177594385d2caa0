package capture_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/errcode"
)

// FuzzFile: any file given to otlink analyze opens or is refused with a
// coded error, and its records are read to the end or to a coded error,
// without a panic and without a record larger than the reader's bound.
func FuzzFile(f *testing.F) {
	var pcap bytes.Buffer
	w, _ := synth.NewWriter(&pcap)
	w.UDP(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), []byte("abc"))
	w.UDP(netip.MustParseAddrPort("10.0.0.2:2"), netip.MustParseAddrPort("10.0.0.1:1"), []byte("defg"))
	f.Add(pcap.Bytes())
	swapped := bytes.Clone(pcap.Bytes()) // a big-endian header on little-endian records: nonsense lengths
	binary.BigEndian.PutUint32(swapped, 0xa1b2c3d4)
	f.Add(swapped)
	var ng bytes.Buffer
	nw, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		f.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0xab}, 60)
	nw.WritePacket(gopacket.CaptureInfo{CaptureLength: 60, Length: 60}, frame)
	nw.Flush()
	f.Add(ng.Bytes())
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	path := filepath.Join(f.TempDir(), "in.cap")
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := os.WriteFile(path, in, 0o600); err != nil {
			t.Fatal(err)
		}
		src, err := capture.OpenFile(path)
		if err != nil {
			if errcode.Of(err) == 0 {
				t.Fatalf("uncoded open error: %v", err)
			}
			return
		}
		defer src.Close()
		for range 100_000 {
			data, _, err := src.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if errcode.Of(err) == 0 {
					t.Fatalf("uncoded read error: %v", err)
				}
				return
			}
			if len(data) > len(in) {
				t.Fatalf("a record of %d bytes from a file of %d", len(data), len(in))
			}
		}
	})
}

package analyze_test

import (
	"encoding/binary"
	"io"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// fuzzLinks are the link types a fuzzed frame sequence is read as.
var fuzzLinks = []capture.LinkType{capture.LinkEthernet, capture.LinkRaw, capture.LinkLinuxSLL, capture.LinkSLL2, capture.LinkNull, capture.LinkLoop, capture.LinkIPv4, capture.LinkIPv6, 255}

// framesOf splits in into a link type and frames: in[0] picks the link
// type, then each frame is a 2-byte big-endian length and that many bytes.
func framesOf(in []byte) (capture.LinkType, [][]byte) {
	if len(in) == 0 {
		return capture.LinkEthernet, nil
	}
	lt := fuzzLinks[int(in[0])%len(fuzzLinks)]
	var out [][]byte
	for b := in[1:]; len(b) >= 2 && len(out) < 4096; {
		n := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return lt, out
}

// FuzzFrames: any sequence of frames, of any link type, goes through
// decoding, the flow table with small bounds, reassembly, the eight
// dissectors, the asset inventory and the detections without a panic;
// every frame is counted and every PDU names its protocol. Inputs are
// large: run with -fuzzminimizetime 5s or the minimiser takes a minute per
// new input.
func FuzzFrames(f *testing.F) {
	// Seeds: the frames of Modbus/TCP sessions (plain, over IPv6, in IP
	// fragments) and BACnet/IP, in runs of consecutive frames. (Not the
	// bench's capture: the bench package would bring the whole program
	// into the coverage map and slow fuzzing to a crawl.)
	path := filepath.Join(f.TempDir(), "seed.pcap")
	w := newCapture(f, path)
	modbusSession(f, w, netip.MustParseAddrPort("10.0.0.10:40001"), netip.MustParseAddrPort("10.0.0.20:502"))
	modbusSession(f, w, netip.MustParseAddrPort("[fd00::10]:40002"), netip.MustParseAddrPort("[fd00::20]:502"))
	w.FragSize = 16
	modbusSession(f, w, netip.MustParseAddrPort("10.0.0.11:40003"), netip.MustParseAddrPort("10.0.0.20:502"))
	w.UDP(netip.MustParseAddrPort("10.0.0.30:47808"), netip.MustParseAddrPort("10.0.0.40:47808"),
		[]byte{0x81, 0x0a, 0, 0x11, 1, 4, 0x00, 0x05, 1, 0x0c, 0x0c, 0, 0, 0, 1, 0x19, 0x55})
	src, err := capture.OpenFile(path)
	if err != nil {
		f.Fatal(err)
	}
	seed := []byte{0}
	for i := 0; ; i++ {
		data, _, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Fatal(err)
		}
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(data)))
		seed = append(seed, data...)
		if i%40 == 39 {
			f.Add(seed)
			seed = []byte{0}
		}
	}
	f.Add(seed)
	src.Close()
	f.Add([]byte{1, 0, 20, 0x45, 0, 0, 20, 0, 1, 0x20, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		lt, frames := framesOf(in)
		inv := asset.New()
		obs := []interface {
			PDU(*flow.Flow, *dissect.PDU)
		}{inv, detect.New(detect.Config{Roles: inv, File: "fuzz"})}
		h := &fuzzHandler{t: t, obs: obs}
		tb := flow.NewTable(flow.Config{MaxFlows: 8, MaxFlowBuffer: 4096, MaxBuffer: 16384, MaxSegments: 8, MaxFragDatagrams: 4, MaxFragBytes: 8192}, h)
		for i, fr := range frames {
			tb.Packet(fr, capture.Info{Link: lt, Time: int64(i) * 1e8, CapLen: len(fr), Len: len(fr)}, uint64(i+1))
		}
		tb.Flush()
		if st := tb.Stats(); st.Frames != uint64(len(frames)) || st.Buffered != 0 {
			t.Fatalf("%d frames, stats %+v", len(frames), st)
		}
		var fs analyze.FileSummary
		inv.Report(&fs)
	})
}

type fuzzHandler struct {
	t   *testing.T
	obs []interface {
		PDU(*flow.Flow, *dissect.PDU)
	}
}

func (h *fuzzHandler) PDU(f *flow.Flow, p *dissect.PDU) {
	if p.Proto == "" {
		h.t.Fatalf("a PDU without protocol: %+v", p)
	}
	for _, o := range h.obs {
		o.PDU(f, p)
	}
}

func (h *fuzzHandler) FlowEnd(f *flow.Flow) {
	for _, o := range h.obs {
		if fo, ok := o.(interface{ FlowEnd(*flow.Flow) }); ok {
			fo.FlowEnd(f)
		}
	}
}

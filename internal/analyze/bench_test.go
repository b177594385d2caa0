package analyze_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
	"github.com/otlink/otlink/internal/proto/modbus"
)

// benchCapture writes 200 Modbus/TCP connections of 100 request/response
// pairs each, interleaved, plus UDP noise.
func benchCapture(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "bench.pcap")
	f, _ := os.Create(p)
	w, _ := synth.NewWriter(f)
	var conns []*synth.Conn
	for i := range 200 {
		c, _ := w.TCP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000), netip.MustParseAddrPort("10.1.0.1:502"))
		conns = append(conns, c)
	}
	req := modbus.AppendMBAP(nil, 1, 1, 5)
	req = append(req, modbus.AppendReadRequest(nil, 3, 0, 10)...)
	resp := modbus.AppendMBAP(nil, 1, 1, 22)
	resp = append(resp, modbus.AppendReadResponse(nil, 3, make([]byte, 20))...)
	for range 100 {
		for i, c := range conns {
			c.Send(true, req)
			c.Send(false, resp)
			if i%10 == 0 {
				w.UDP(netip.MustParseAddrPort("10.2.0.1:5353"), netip.MustParseAddrPort("10.2.0.2:5353"), []byte("noise"))
			}
		}
	}
	f.Close()
	return p
}

// BenchmarkPipeline measures decode + flow lookup + reassembly +
// dissection over frames held in memory (no file I/O).
func BenchmarkPipeline(b *testing.B) {
	p := benchCapture(b)
	src, err := capture.OpenFile(p)
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	var infos []capture.Info
	for {
		d, ci, err := src.Next()
		if err != nil {
			break
		}
		frames = append(frames, append([]byte(nil), d...))
		infos = append(infos, ci)
	}
	src.Close()
	h := nopHandler{}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		t := flow.NewTable(flow.Config{}, h)
		for i, d := range frames {
			t.Packet(d, infos[i], uint64(i+1))
		}
		t.Flush()
		n += len(frames)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(len(frames)), "packets/op")
}

// BenchmarkFile measures analyze.File end to end, file reading included.
func BenchmarkFile(b *testing.B) {
	p := benchCapture(b)
	b.ReportAllocs()
	var pk uint64
	for b.Loop() {
		fs, err := analyze.File(context.Background(), p, analyze.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pk += fs.Packets
	}
	b.ReportMetric(float64(pk)/b.Elapsed().Seconds(), "packets/s")
}

type nopHandler struct{}

func (nopHandler) PDU(*flow.Flow, *dissect.PDU) {}
func (nopHandler) FlowEnd(*flow.Flow)           {}

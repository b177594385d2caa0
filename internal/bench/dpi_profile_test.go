package bench

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

// TestDPIProfile runs the full benchmark, as `otlink bench dpi --json
// --cpuprofile FILE` does, when OTLINK_DPI_PACKETS is set (e.g. 1000000);
// OTLINK_DPI_PROFILE names the CPU profile and OTLINK_DPI_TSHARK=0 skips
// tshark. It is a tool for profiling without the binary, not a test.
func TestDPIProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OTLINK_DPI_PACKETS"))
	if n <= 0 {
		t.Skip("OTLINK_DPI_PACKETS not set")
	}
	o := DPIOptions{Packets: n, Dir: t.TempDir(), NoTshark: os.Getenv("OTLINK_DPI_TSHARK") == "0"}
	if p := os.Getenv("OTLINK_DPI_PROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		o.CPUProfile = f
	}
	r, err := DPI(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	t.Logf("%s", b)
}

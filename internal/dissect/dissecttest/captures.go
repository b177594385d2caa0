package dissecttest

import (
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// SharedPcaps is the directory of the shared public captures, one folder
// per protocol, relative to a dissector package directory
// (internal/dissect/<proto>) where go test runs.
const SharedPcaps = "../../../../shared/testdata/pcaps"

// Capture returns the path of the shared capture name of proto.
func Capture(proto, name string) string {
	return filepath.Join(SharedPcaps, proto, name)
}

// Captures lists the shared captures of proto, sorted, and skips the test
// with a message when there are none (the captures live outside the
// repository and may be absent).
func Captures(t testing.TB, proto string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(SharedPcaps, proto, "*.pcap*"))
	if len(files) == 0 {
		t.Skipf("no shared captures under %s/%s", SharedPcaps, proto)
	}
	sort.Strings(files)
	return files
}

// HasTshark reports whether tshark is on PATH.
func HasTshark() bool {
	_, err := exec.LookPath("tshark")
	return err == nil
}

// NeedTshark skips the test with a message when tshark is not installed.
func NeedTshark(t testing.TB) {
	t.Helper()
	if !HasTshark() {
		t.Skip("tshark not installed")
	}
}

package analyze_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/proto/modbus"
)

// TestFilesParallelSameAsSequential: files analysed several at a time, each
// with its own inventory and detections (as `otlink analyze` runs them),
// give the same summaries, in the same order, with the same errors, as
// one after the other; progress is reported for every file.
func TestFilesParallelSameAsSequential(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.pcap", i))
		writeRestarts(t, p, i)
		paths = append(paths, p)
		if i == 2 { // a file that is no capture, between good ones
			bad := filepath.Join(dir, "junk.pcap")
			os.WriteFile(bad, []byte("not a capture"), 0o644)
			paths = append(paths, bad)
		}
	}
	run := func(workers int) (string, string, int) {
		var mu sync.Mutex
		done := 0
		sum, err := analyze.Files(context.Background(), paths, analyze.Options{
			Workers: workers,
			Progress: func(p analyze.Progress) {
				mu.Lock()
				defer mu.Unlock()
				if p.Done {
					done++
				}
			},
			Observers: func(file string) []analyze.Observer {
				inv := asset.New()
				return []analyze.Observer{inv, detect.New(detect.Config{Roles: inv, File: file})}
			},
		})
		b, jerr := json.Marshal(sum)
		if jerr != nil {
			t.Fatal(jerr)
		}
		return string(b), fmt.Sprint(err), done
	}
	seq, seqErr, seqDone := run(1)
	par, parErr, parDone := run(4)
	if seq != par {
		t.Errorf("summaries differ:\nsequential %s\nparallel   %s", seq, par)
	}
	if seqErr != parErr || !strings.Contains(parErr, errcode.CaptureFormat.String()) {
		t.Errorf("errors: sequential %q, parallel %q", seqErr, parErr)
	}
	if seqDone != 6 || parDone != 6 {
		t.Errorf("files reported done: %d sequential, %d parallel, want 6", seqDone, parDone)
	}
	var s analyze.Summary
	json.Unmarshal([]byte(par), &s)
	if len(s.Files) != 6 || s.Files[3].File != paths[4] {
		t.Fatalf("files %d, fourth %q", len(s.Files), s.Files[3].File)
	}
	for i, f := range s.Files {
		if len(f.Alerts) == 0 || f.Packets == 0 {
			t.Errorf("file %d: %d packets, %d alerts (want the restart alert)", i, f.Packets, len(f.Alerts))
		}
	}
}

// TestPipelineSameOutput: observers on their own goroutine (Pipeline)
// give the summary they give on the dissecting goroutine, assets and
// alerts included, on the generated captures and on every public capture
// when ../shared is there (under -race in CI: what crosses over is copied).
func TestPipelineSameOutput(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")}
	writeRestarts(t, paths[0], 1)
	writeRestarts(t, paths[1], 2)
	paths = append(paths, publicCaptures(t)...)
	observers := func(file string) []analyze.Observer {
		inv := asset.New()
		return []analyze.Observer{inv, detect.New(detect.Config{Roles: inv, File: file})}
	}
	for _, p := range paths {
		var out [2]string
		for i, pipe := range []bool{false, true} {
			fs, err := analyze.File(context.Background(), p, analyze.Options{Pipeline: pipe, Observers: observers})
			b, _ := json.Marshal(fs)
			out[i] = fmt.Sprint(string(b), err)
		}
		if out[0] != out[1] {
			t.Errorf("%s: summaries differ with the pipeline:\n%s\n%s", p, out[0], out[1])
		}
	}
}

// publicCaptures lists the public captures of ../shared, none (with a
// message) when it is absent.
func publicCaptures(t *testing.T) []string {
	root := filepath.Join("..", "..", "..", "shared", "testdata", "pcaps")
	var paths []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
			paths = append(paths, p)
		}
		return nil
	})
	if len(paths) == 0 {
		t.Logf("%s is absent: generated captures only", root)
	}
	return paths
}

// writeRestarts writes Modbus polling from a few clients and a restart
// command (FC 8 sub-function 1) from one of them; k varies the addresses.
func writeRestarts(t *testing.T, path string, k int) {
	t.Helper()
	w := newCapture(t, path)
	for c := range 3 {
		modbusSession(t, w, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 0, byte(10 + c)}), uint16(40000+c)),
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 1, 1}), 502))
	}
	conn, err := w.TCP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 0, 99}), 45000), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 1, 1}), 502))
	if err != nil {
		t.Fatal(err)
	}
	pdu := []byte{8, 0, 1, 0, 0}
	conn.Send(true, append(modbus.AppendMBAP(nil, 1, 1, len(pdu)), pdu...))
	conn.Close()
}

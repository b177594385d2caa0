package analyze_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/dissect"
	_ "github.com/otlink/otlink/internal/dissect/all"
	"github.com/otlink/otlink/internal/proto/modbus"
)

func needTshark(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (apt-get install tshark): agreement not checked")
	}
}

// writeModbusSession encodes a Modbus/TCP session with the project's
// codec: reads, writes, an exception, device identification, several
// PDUs in one segment and one PDU split over two segments.
func writeModbusSession(t testing.TB, path string) {
	t.Helper()
	modbusSession(t, newCapture(t, path), netip.MustParseAddrPort("10.0.0.10:40001"), netip.MustParseAddrPort("10.0.0.20:502"))
}

// newCapture creates a pcap file at path and returns its writer; the file
// is closed when the test ends (the writer writes through, so the file is
// complete as soon as the frames are written).
func newCapture(t testing.TB, path string) *synth.Writer {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func modbusSession(t testing.TB, w *synth.Writer, cli, srv netip.AddrPort) {
	t.Helper()
	c, err := w.TCP(cli, srv)
	if err != nil {
		t.Fatal(err)
	}
	tid := uint16(0)
	adu := func(pdu []byte) []byte {
		tid++
		b := modbus.AppendMBAP(nil, tid, 1, len(pdu))
		return append(b, pdu...)
	}
	send := func(fromClient bool, b []byte) {
		if err := c.Send(fromClient, b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		send(true, adu(modbus.AppendReadRequest(nil, modbus.FunctionCode(3), uint16(100+i), 10)))
		send(false, adu(modbus.AppendReadResponse(nil, modbus.FunctionCode(3), make([]byte, 20))))
	}
	for range 5 {
		send(true, adu(modbus.AppendReadRequest(nil, modbus.FunctionCode(1), 0, 16)))
		send(false, adu(modbus.AppendReadResponse(nil, modbus.FunctionCode(1), []byte{0xff, 0x00})))
		send(true, adu(modbus.AppendWriteSingleRegister(nil, 7, 42)))
		send(false, adu(modbus.AppendWriteResponse(nil, modbus.FunctionCode(6), 7, 42)))
	}
	send(true, adu(modbus.AppendWriteMultipleRegisters(nil, 10, []byte{0, 1, 0, 2})))
	send(false, adu(modbus.AppendExceptionResponse(nil, modbus.FunctionCode(16), modbus.ExceptionCode(2))))
	send(true, adu(modbus.AppendReadDeviceIDRequest(nil, 1, 0)))
	send(false, adu(modbus.AppendReadDeviceIDResponse(nil, 1, 1, false, 0, []modbus.DeviceObject{{ID: 0, Value: []byte("otlink")}, {ID: 1, Value: []byte("sim")}, {ID: 2, Value: []byte("1.0")}})))
	// Two requests in one segment, then one split over two segments.
	two := append(adu(modbus.AppendReadRequest(nil, modbus.FunctionCode(4), 0, 2)), adu(modbus.AppendReadRequest(nil, modbus.FunctionCode(2), 0, 8))...)
	send(true, two)
	split := adu(modbus.AppendReadRequest(nil, modbus.FunctionCode(3), 500, 4))
	send(true, split[:9]) // tshark reassembles only after the MBAP header
	send(true, split[9:])
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTsharkSelf: a capture written from the project's own Modbus codec
// must give exactly tshark's counts.
func TestTsharkSelf(t *testing.T) {
	needTshark(t)
	if _, ok := dissect.Lookup("modbus"); !ok {
		t.Skip("no modbus dissector registered")
	}
	path := filepath.Join(t.TempDir(), "modbus.pcap")
	writeModbusSession(t, path)
	fs, err := analyze.File(context.Background(), path, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := analyze.Tshark(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rows := analyze.Compare(fs.PDUs, ts, []string{"modbus"})
	pct, ours, theirs := analyze.Agreement(rows, "modbus")
	if ours == 0 || pct != 1 {
		var b strings.Builder
		analyze.WriteRows(&b, rows, true)
		t.Fatalf("modbus: ours %d, tshark %d, agreement %.1f%%\n%s", ours, theirs, 100*pct, b.String())
	}
	if fs.Flows != 1 || fs.PDUs["modbus"].Total != ours {
		t.Fatalf("flows %d, total %d, want 1 flow and total %d", fs.Flows, fs.PDUs["modbus"].Total, ours)
	}
}

func allowList(t *testing.T) map[string]bool {
	f, err := os.Open("testdata/agree.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

// knownDiff is a documented disagreement on one public capture where
// tshark, not otlink, is wrong (or cannot see what otlink sees).
type knownDiff struct {
	ours, tshark uint64
	why          string
}

// knownDifferences reads testdata/known.txt: "FILE PROTO OURS TSHARK why...",
// FILE relative to the captures folder. A difference is excused only with
// exactly these totals, so any other change still fails.
func knownDifferences(t *testing.T) map[string]knownDiff {
	data, err := os.ReadFile("testdata/known.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]knownDiff{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		var k knownDiff
		if len(f) < 5 {
			t.Fatalf("known.txt: %q: want FILE PROTO OURS TSHARK why", l)
		}
		if _, err := fmt.Sscanf(f[2]+" "+f[3], "%d %d", &k.ours, &k.tshark); err != nil {
			t.Fatalf("known.txt: %q: %v", l, err)
		}
		k.why = strings.Join(f[4:], " ")
		m[f[0]+" "+f[1]] = k
	}
	return m
}

// TestTsharkPublic compares our counts with tshark's over every public
// capture of ../shared/testdata/pcaps and prints a table; it fails only
// for protocols in testdata/agree.txt whose dissector is registered.
func TestTsharkPublic(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: public captures not compared (one tshark run per file)")
	}
	needTshark(t)
	root := filepath.Join("..", "..", "..", "shared", "testdata", "pcaps")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("%s is absent: public captures not compared", root)
	}
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	allow := allowList(t)
	known := knownDifferences(t)
	var protos []string
	for _, tf := range analyze.TsharkFields {
		if len(protos) == 0 || protos[len(protos)-1] != tf.Proto {
			protos = append(protos, tf.Proto)
		}
	}
	// tshark mostly waits at start-up: run several at once.
	type tsRes struct {
		c   map[string]*analyze.ProtoCounts
		err error
	}
	res := make([]tsRes, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := analyze.Tshark(context.Background(), p)
			res[i] = tsRes{c, err}
		}()
	}
	wg.Wait()
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-70s %-7s %8s %8s %7s\n", "file", "proto", "ours", "tshark", "agree")
	for i, p := range files {
		fs, err := analyze.File(context.Background(), p, analyze.Options{})
		if err != nil {
			t.Logf("%s: %v", p, err)
		}
		ts, err := res[i].c, res[i].err
		if err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		rows := analyze.Compare(fs.PDUs, ts, nil)
		rel, _ := filepath.Rel(root, p)
		for _, proto := range protos {
			pct, ours, theirs := analyze.Agreement(rows, proto)
			if ours == 0 && theirs == 0 {
				continue
			}
			_, registered := dissect.Lookup(proto)
			mark := ""
			if !registered {
				mark = " (no dissector)"
			}
			fmt.Fprintf(&table, "%-70s %-7s %8d %8d %6.1f%%%s\n", rel, proto, ours, theirs, 100*pct, mark)
			if k, ok := known[rel+" "+proto]; ok && pct != 1 && k.ours == ours && k.tshark == theirs {
				fmt.Fprintf(&table, "%-70s %-7s known difference: %s\n", "", "", k.why)
				continue
			}
			if pct != 1 && registered && allow[proto] {
				var b strings.Builder
				for _, r := range rows {
					if r.Proto == proto && r.Ours != r.Tshark {
						fmt.Fprintf(&b, "  %s %d: ours %d tshark %d\n", r.Map, r.Code, r.Ours, r.Tshark)
					}
				}
				t.Errorf("%s: %s disagrees with tshark (%.1f%%):\n%s", rel, proto, 100*pct, b.String())
			}
		}
	}
	t.Log(table.String())
}

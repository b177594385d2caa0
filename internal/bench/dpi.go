package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/capture/synth"
	"github.com/otlink/otlink/internal/detect"
	_ "github.com/otlink/otlink/internal/dissect/all" // the eight dissectors
	"github.com/otlink/otlink/internal/errcode"
)

// DPIOptions configure `otlink bench dpi`.
type DPIOptions struct {
	Packets    int       // packets of the generated capture (default 1,000,000)
	Dir        string    // folder of the capture; "" = a temporary one, removed after
	Passes     int       // dissection passes over the file; the median is reported (default 5)
	NoTshark   bool      // skip the tshark baseline
	CPUProfile io.Writer // CPU profile of the measured dissection only; nil = none
	Progress   io.Writer // progress lines; nil = none
}

// DPIResult is what `otlink bench dpi` measured. JSON keys are stable;
// tshark figures are null when tshark did not run (see TsharkNote).
type DPIResult struct {
	Packets         uint64            `json:"packets"`
	WireBytes       uint64            `json:"wire_bytes"`
	FileMB          float64           `json:"file_mb"`
	Flows           uint64            `json:"flows"`
	PDUs            uint64            `json:"pdus"`
	PDUsByProto     map[string]uint64 `json:"pdus_by_proto"`
	Malformed       uint64            `json:"malformed"`
	GenerateSec     float64           `json:"generate_sec"`
	Seconds         float64           `json:"seconds"`
	CPUSec          float64           `json:"cpu_sec"`
	PacketsPerSec   float64           `json:"packets_per_sec"`
	PacketsPerCPU   float64           `json:"packets_per_cpu_sec"`
	MbitPerSec      float64           `json:"mbit_per_sec"`
	AllocsPerPacket float64           `json:"allocs_per_packet"`
	GOMAXPROCS      int               `json:"gomaxprocs"`
	// Passes over the file; the figures above are the median pass's. On
	// a shared machine one pass of a second varies by 2× with the
	// neighbours' use of the processor's caches; tshark's one run lasts
	// tens of seconds and averages that out by itself.
	Passes           int     `json:"passes"`
	PacketsPerSecMin float64 `json:"packets_per_sec_min"`
	PacketsPerSecMax float64 `json:"packets_per_sec_max"`

	// The same dissection on every core, as `otlink analyze --counts-only`
	// runs it: the file read by one goroutine per core, each following the
	// conversations of its share of the address pairs (median of Passes).
	// tshark dissects a file on one core, so this is the wall-clock
	// comparison; vs_tshark is the one-core one.
	CoresPacketsPerSec float64  `json:"cores_packets_per_sec"`
	CoresMbitPerSec    float64  `json:"cores_mbit_per_sec"`
	Cores              int      `json:"cores"`
	VsTsharkCores      *float64 `json:"vs_tshark_cores"` // cores_packets_per_sec / tshark_packets_per_sec

	// The same file as `otlink analyze` reads it: dissection plus the asset
	// inventory and the indicator detections, one core.
	AnalyzeSeconds       float64 `json:"analyze_sec"`
	AnalyzePacketsPerSec float64 `json:"analyze_packets_per_sec"`
	AnalyzeAlerts        int     `json:"analyze_alerts"`
	AnalyzeAssets        int     `json:"analyze_assets"`
	// The same on every core: the inventory and detections beside the
	// dissection (analyze.Pipeline), as `otlink analyze FILE` runs when it
	// has a core to spare (with GOMAXPROCS 1, the one-core run again).
	AnalyzeCoresPacketsPerSec float64 `json:"analyze_cores_packets_per_sec"`
	AnalyzeCores              int     `json:"analyze_cores"`

	TsharkPacketsPerSec       *float64 `json:"tshark_packets_per_sec"`        // the faster of the two runs below
	TsharkPlainPacketsPerSec  *float64 `json:"tshark_plain_packets_per_sec"`  // tshark -n -r FILE > /dev/null
	TsharkFieldsPacketsPerSec *float64 `json:"tshark_fields_packets_per_sec"` // tshark -n -r FILE -T fields -e frame.number
	TsharkSec                 *float64 `json:"tshark_sec"`                    // wall time of the faster run
	VsTshark                  *float64 `json:"vs_tshark"`                     // packets_per_sec / tshark_packets_per_sec
	TsharkVersion             string   `json:"tshark_version,omitempty"`
	TsharkNote                string   `json:"tshark_note,omitempty"`
}

// DPI generates a multi-protocol capture, measures otlink's full
// dissection of it (file read, decode, flows, reassembly, dissectors,
// summary counting) on one core, and runs tshark on the same file.
func DPI(ctx context.Context, o DPIOptions) (DPIResult, error) {
	if o.Packets <= 0 {
		o.Packets = 1_000_000
	}
	if o.Passes <= 0 {
		o.Passes = 5
	}
	var r DPIResult
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "otlink-bench-dpi-")
		if err != nil {
			return r, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "dpi.pcap")
	dpiProgress(o.Progress, "writing a capture of %d packets to %s", o.Packets, path)
	t0 := time.Now()
	if err := WriteDPICapture(path, o.Packets); err != nil {
		return r, errcode.Wrap(errcode.CLIDataDir, err, "write the capture %s", path)
	}
	r.GenerateSec = time.Since(t0).Seconds()
	if st, err := os.Stat(path); err == nil {
		r.FileMB = float64(st.Size()) / 1e6
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}

	dpiProgress(o.Progress, "dissecting (one core)")
	if err := measureDPI(ctx, path, o, &r); err != nil {
		return r, err
	}
	dpiProgress(o.Progress, "dissecting (every core)")
	if err := measureCores(ctx, path, o.Passes, &r); err != nil {
		return r, err
	}
	dpiProgress(o.Progress, "dissecting with inventory and detections (one core)")
	if err := measureAnalyze(ctx, path, o.Passes, &r); err != nil {
		return r, err
	}
	if o.NoTshark {
		r.TsharkNote = "tshark not run (--no-tshark)"
		return r, nil
	}
	tsharkBaseline(ctx, path, o.Progress, &r)
	return r, nil
}

// measureDPI runs analyze.File with GOMAXPROCS 1 so that the figure,
// garbage collection included, is what one core does; o.Passes times,
// reporting the median pass.
func measureDPI(ctx context.Context, path string, o DPIOptions, r *DPIResult) error {
	// Warm the page cache so the first pass does not measure the disk.
	if f, err := os.Open(path); err == nil {
		_, _ = io.Copy(io.Discard, f)
		f.Close()
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	r.GOMAXPROCS = 1
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return err
		}
	}
	fs, runs, err := passes(ctx, path, analyze.Options{}, o.Passes)
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	runtime.ReadMemStats(&ms1)
	if err != nil {
		return err
	}
	el, cpu := runs[len(runs)/2].wall, runs[len(runs)/2].cpu
	r.Passes = len(runs)
	r.PacketsPerSecMax = float64(fs.Packets) / runs[0].wall.Seconds()
	r.PacketsPerSecMin = float64(fs.Packets) / runs[len(runs)-1].wall.Seconds()
	r.Packets, r.WireBytes, r.Flows = fs.Packets, fs.Bytes, fs.Flows
	r.PDUsByProto = map[string]uint64{}
	for p, c := range fs.PDUs {
		n := c.Total
		for _, v := range c.Commands {
			n += v
		}
		r.PDUsByProto[p] = n
		r.PDUs += n
	}
	for _, n := range fs.Malformed {
		r.Malformed += n
	}
	r.Seconds = el.Seconds()
	r.CPUSec = cpu.Seconds()
	if r.Seconds > 0 {
		r.PacketsPerSec = float64(r.Packets) / r.Seconds
		r.MbitPerSec = float64(r.WireBytes) * 8 / 1e6 / r.Seconds
	}
	if r.CPUSec > 0 {
		r.PacketsPerCPU = float64(r.Packets) / r.CPUSec
	}
	if r.Packets > 0 {
		r.AllocsPerPacket = float64(ms1.Mallocs-ms0.Mallocs) / float64(r.Packets) / float64(r.Passes)
	}
	return nil
}

// pass is the time of one analysis of the file.
type pass struct{ wall, cpu time.Duration }

// passes analyses the file n times and returns the last summary and the
// passes sorted by wall time, the fastest first.
func passes(ctx context.Context, path string, opts analyze.Options, n int) (analyze.FileSummary, []pass, error) {
	runs := make([]pass, 0, max(1, n))
	var fs analyze.FileSummary
	for range max(1, n) {
		cpu0 := cpuTime()
		t0 := time.Now()
		var err error
		fs, err = analyze.File(ctx, path, opts)
		if err != nil {
			return fs, nil, err
		}
		runs = append(runs, pass{time.Since(t0), cpuTime() - cpu0})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].wall < runs[j].wall })
	return fs, runs, nil
}

// measureCores times the dissection on every core (analyze.Options.Shards).
func measureCores(ctx context.Context, path string, n int, r *DPIResult) error {
	runtime.GC()
	r.Cores = runtime.GOMAXPROCS(0)
	fs, runs, err := passes(ctx, path, analyze.Options{Shards: r.Cores}, n)
	if err != nil {
		return err
	}
	if s := runs[len(runs)/2].wall.Seconds(); s > 0 {
		r.CoresPacketsPerSec = float64(fs.Packets) / s
		r.CoresMbitPerSec = float64(fs.Bytes) * 8 / 1e6 / s
	}
	return nil
}

// measureAnalyze times what `otlink analyze FILE` does: the dissection
// measured above plus the asset inventory and the detections (the median
// of at most three passes: each takes about three times as long).
func measureAnalyze(ctx context.Context, path string, n int, r *DPIResult) error {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	runtime.GC()
	opts := analyze.Options{Observers: func(file string) []analyze.Observer {
		inv := asset.New()
		return []analyze.Observer{inv, detect.New(detect.Config{Roles: inv, File: file})}
	}}
	fs, runs, err := passes(ctx, path, opts, min(n, 3))
	if err != nil {
		return err
	}
	r.AnalyzeSeconds = runs[len(runs)/2].wall.Seconds()
	if r.AnalyzeSeconds > 0 {
		r.AnalyzePacketsPerSec = float64(fs.Packets) / r.AnalyzeSeconds
	}
	r.AnalyzeAlerts, r.AnalyzeAssets = len(fs.Alerts), len(fs.Assets)

	runtime.GOMAXPROCS(prev)
	opts.Pipeline = prev > 1
	fs, runs, err = passes(ctx, path, opts, min(n, 3))
	if err != nil {
		return err
	}
	if s := runs[len(runs)/2].wall.Seconds(); s > 0 {
		r.AnalyzeCoresPacketsPerSec = float64(fs.Packets) / s
	}
	r.AnalyzeCores = prev
	return nil
}

// tsharkBaseline times tshark's plain dissection and its one-field output
// of the same file; the faster is the baseline. tshark does less than
// otlink in the fields run (no per-PDU tree is printed) and about the same
// work in the plain run (every frame dissected, summary lines printed).
func tsharkBaseline(ctx context.Context, path string, pw io.Writer, r *DPIResult) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		r.TsharkNote = "tshark is not installed (apt-get install tshark): no baseline"
		return
	}
	if out, err := exec.CommandContext(ctx, bin, "-v").Output(); err == nil {
		r.TsharkVersion = firstLine(string(out))
	}
	run := func(args ...string) (*float64, float64, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout = io.Discard
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return nil, 0, err
		}
		s := time.Since(t0).Seconds()
		pps := float64(r.Packets) / s
		return &pps, s, nil
	}
	dpiProgress(pw, "tshark -n -r (plain dissection)")
	plain, ps, err := run("-n", "-r", path)
	if err != nil {
		r.TsharkNote = "tshark failed: " + err.Error()
		return
	}
	r.TsharkPlainPacketsPerSec = plain
	dpiProgress(pw, "tshark -n -r -T fields -e frame.number")
	fields, fsec, err := run("-n", "-r", path, "-T", "fields", "-e", "frame.number")
	best, bsec := plain, ps
	if err == nil {
		r.TsharkFieldsPacketsPerSec = fields
		if *fields > *plain {
			best, bsec = fields, fsec
		}
	}
	r.TsharkPacketsPerSec, r.TsharkSec = best, &bsec
	if *best > 0 {
		v, c := r.PacketsPerSec / *best, r.CoresPacketsPerSec / *best
		r.VsTshark, r.VsTsharkCores = &v, &c
	}
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func dpiProgress(w io.Writer, f string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, f+"\n", a...)
	}
}

// WriteDPICapture writes a pcap of about n packets: sessions of the eight
// protocols (weighted by protoMix) between many clients and servers,
// interleaved round robin, each TCP session with its handshake and close.
// About one session per 400 packets, at least 16.
func WriteDPICapture(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = writeDPI(bw, n)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeDPI(out io.Writer, n int) error {
	w, err := synth.NewWriter(out)
	if err != nil {
		return err
	}
	w.Step = 10_000 // 10 µs between frames: 100k packets/s on the wire
	nsess := max(16, n/400)
	total := 0
	for _, p := range protoMix {
		total += p.weight
	}
	var sess []session
	for i := range nsess {
		// Spread sessions over protocols by weight, deterministically.
		k, acc := (i*37)%total, 0
		pi := 0
		for j, p := range protoMix {
			acc += p.weight
			if k < acc {
				pi = j
				break
			}
		}
		pm := protoMix[pi]
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i%20000))
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(pi), byte(1 + i%50)}), pm.port)
		if pm.newFn == nil {
			sess = append(sess, &bacnetSess{w: w, cli: netip.AddrPortFrom(cli.Addr(), pm.port), srv: srv})
			continue
		}
		c, err := w.TCP(cli, srv)
		if err != nil {
			return err
		}
		sess = append(sess, pm.newFn(c))
	}
	const closeReserve = 3 // FIN, FIN, ACK per TCP session
	for step := 0; w.Frames()+closeReserve*len(sess) < n; step++ {
		for _, s := range sess {
			if err := s.step(step); err != nil {
				return err
			}
			if w.Frames()+closeReserve*len(sess) >= n {
				break
			}
		}
	}
	for _, s := range sess {
		if err := s.close(); err != nil {
			return err
		}
	}
	return nil
}

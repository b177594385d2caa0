package analyze

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/flow"
)

// Observer receives every PDU with its flow (inventory, detections). The
// PDU is valid only during the call: copy what you keep.
type Observer interface {
	PDU(f *flow.Flow, p *dissect.PDU)
}

// FlowObserver is an Observer that also wants to know when a flow ends
// (it is found by type assertion).
type FlowObserver interface {
	FlowEnd(f *flow.Flow)
}

// Reporter is an Observer that adds assets and alerts to the summary of a
// file once the file is read (found by type assertion).
type Reporter interface {
	Report(fs *FileSummary)
}

// Progress is reported while files are read.
type Progress struct {
	File     string
	Index    int // 0-based index of the file in the list
	Files    int
	Packets  uint64  // packets of this file so far
	Bytes    uint64  // bytes on the wire of this file so far
	Fraction float64 // share of this file read, 0..1
	Done     bool    // this file is finished
}

// Options configure a run. The zero value analyses everything with the
// default flow limits.
type Options struct {
	Filter    string                       // capture filter (see capture.ParseFilter)
	Flow      flow.Config                  // flow table and reassembly limits
	Progress  func(Progress)               // called about every 64k packets and at the end of each file; from several goroutines at once when Workers > 1
	Observers func(file string) []Observer // made per file; with Workers > 1, for several files at once
	// Workers is how many files are analysed at once (each file by one
	// goroutine: a flow's packets must be seen in order). 0 or 1: one
	// after the other. Observers of different files must then share
	// nothing mutable.
	Workers int
	// Pipeline runs each file's observers on a goroutine of their own
	// beside the one that dissects it (see Pipeline): worth it when there
	// are more cores than files analysed at once.
	Pipeline bool
	// Shards dissects one file on this many goroutines at once when there
	// are no Observers: each reads the whole file and follows the
	// conversations of its share of the address pairs (flow.Config.Shards),
	// and their counts are summed. Observers need every PDU of a file in
	// order on one goroutine, so with Observers a file has one shard.
	Shards int
}

// Summary is the JSON document of `otlink analyze --json`.
type Summary struct {
	Files []FileSummary `json:"files"`
}

// FileSummary is the summary of one file.
type FileSummary struct {
	File    string                  `json:"file"`
	Packets uint64                  `json:"packets"`
	Flows   uint64                  `json:"flows"`
	PDUs    map[string]*ProtoCounts `json:"pdus"`
	Assets  []any                   `json:"assets"`
	Alerts  []any                   `json:"alerts"`
	// Suppressed counts the alerts a suppression of the rules file kept
	// out of Alerts (docs/detections.md).
	Suppressed uint64 `json:"suppressed,omitempty"`

	Stats     flow.Stats                    `json:"-"` // decoder, flow and reassembly counters
	Bytes     uint64                        `json:"-"` // bytes on the wire
	Names     map[string]map[NameKey]string `json:"-"` // function names seen, per protocol
	Malformed map[string]uint64             `json:"-"` // malformed PDUs per protocol
	ByFlow    map[string]uint64             `json:"-"` // flows per protocol ("" for none)
}

// NameKey names a code in one of the maps of a protocol.
type NameKey struct {
	Counting dissect.Counting
	Code     uint32
}

// ProtoCounts counts the PDUs of one protocol. Total counts every PDU the
// dissector emitted except EtherNet/IP encapsulation commands; Functions
// counts CODE (see docs/analyze.md), Commands the EtherNet/IP
// encapsulation commands and Unconfirmed the BACnet unconfirmed services.
type ProtoCounts struct {
	Total       uint64            `json:"total"`
	Functions   map[uint32]uint64 `json:"functions"`
	Commands    map[uint32]uint64 `json:"commands,omitempty"`
	Unconfirmed map[uint32]uint64 `json:"unconfirmed,omitempty"`
}

// Add counts one PDU.
func (c *ProtoCounts) Add(counting dissect.Counting, code uint32) { c.addN(counting, code, 1) }

func (c *ProtoCounts) addN(counting dissect.Counting, code uint32, n uint64) {
	switch counting {
	case dissect.CountFunction:
		c.Total += n
		c.Functions[code] += n
	case dissect.CountCommand:
		if c.Commands == nil {
			c.Commands = map[uint32]uint64{}
		}
		c.Commands[code] += n
	case dissect.CountUnconfirmed:
		c.Total += n
		if c.Unconfirmed == nil {
			c.Unconfirmed = map[uint32]uint64{}
		}
		c.Unconfirmed[code] += n
	default:
		c.Total += n
	}
}

func newCounts() *ProtoCounts { return &ProtoCounts{Functions: map[uint32]uint64{}} }

// Files analyses each file in turn, or opts.Workers at a time. A file
// that cannot be opened or read is reported in the returned error
// (errors.Join of coded errors) and the others are still analysed; a file
// damaged or cut short after its header keeps the summary of what was
// read. Summaries and errors come in the order of paths either way.
func Files(ctx context.Context, paths []string, opts Options) (Summary, error) {
	if opts.Workers > 1 && len(paths) > 1 {
		return filesParallel(ctx, paths, opts)
	}
	sum := Summary{Files: []FileSummary{}}
	var errs []error
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		fs, err := file(ctx, p, i, len(paths), opts)
		if !keep(err, &errs) {
			if canceled(err) {
				return sum, errors.Join(errs...)
			}
			continue
		}
		sum.Files = append(sum.Files, fs)
	}
	return sum, errors.Join(errs...)
}

// keep records err, if any, and says whether the file's summary belongs
// in the result: not for a file that could not be opened, was no capture
// or had a bad filter, nor for one cut short by cancellation.
func keep(err error, errs *[]error) bool {
	if err == nil {
		return true
	}
	*errs = append(*errs, err)
	if c := errcode.Of(err); c == errcode.CaptureOpen || c == errcode.CaptureFormat || c == errcode.CaptureFilter {
		return false
	}
	return !canceled(err)
}

func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// filesParallel analyses opts.Workers files at a time; the summaries and
// errors come in the order of paths, as from the sequential loop.
func filesParallel(ctx context.Context, paths []string, opts Options) (Summary, error) {
	type result struct {
		fs  FileSummary
		err error
	}
	res := make([]result, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Workers, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					res[i].err = err
					continue
				}
				res[i].fs, res[i].err = file(ctx, paths[i], i, len(paths), opts)
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	sum := Summary{Files: []FileSummary{}}
	var errs []error
	for _, r := range res {
		if keep(r.err, &errs) {
			sum.Files = append(sum.Files, r.fs)
		} else if canceled(r.err) {
			break
		}
	}
	return sum, errors.Join(errs...)
}

// File analyses one file.
func File(ctx context.Context, path string, opts Options) (FileSummary, error) {
	return file(ctx, path, 0, 1, opts)
}

// handler is the flow.Handler of one file.
type handler struct {
	fs    *FileSummary
	obs   []Observer
	fobs  []FlowObserver
	last  *protoState
	proto []*protoState
}

// dense is the range of codes counted in arrays rather than maps: every
// code of the eight protocols but OPC UA's larger node ids. Maps cost a
// hash per PDU; the arrays go into the summary's maps at the end.
const dense = 1024

// protoState is the running count of one protocol in one file.
type protoState struct {
	name      string
	cnt       *ProtoCounts
	names     map[NameKey]string
	counts    [3][]uint64           // per Counting below CountNone, by code below dense; nil until used
	named     [3][dense / 64]uint64 // bitmap of the codes named already
	malformed uint64
}

func (h *handler) state(proto string) *protoState {
	for _, s := range h.proto {
		if s.name == proto {
			return s
		}
	}
	s := &protoState{name: proto, cnt: h.fs.PDUs[proto], names: h.fs.Names[proto]}
	if s.cnt == nil {
		s.cnt = newCounts()
		h.fs.PDUs[proto] = s.cnt
	}
	if s.names == nil {
		s.names = map[NameKey]string{}
		h.fs.Names[proto] = s.names
	}
	h.proto = append(h.proto, s)
	return s
}

func (h *handler) PDU(f *flow.Flow, p *dissect.PDU) {
	s := h.last
	if s == nil || s.name != p.Proto {
		s = h.state(p.Proto)
		h.last = s
	}
	if c, code := p.Counting, p.Function; c < dissect.CountNone && code < dense {
		if s.counts[c] == nil {
			s.counts[c] = make([]uint64, dense)
		}
		s.counts[c][code]++
		if p.Name != "" && s.named[c][code/64]&(1<<(code%64)) == 0 {
			s.named[c][code/64] |= 1 << (code % 64)
			if k := (NameKey{c, code}); s.names[k] == "" {
				s.names[k] = p.Name
			}
		}
	} else {
		s.cnt.Add(c, code)
		if p.Name != "" && c != dissect.CountNone {
			k := NameKey{c, code}
			if _, ok := s.names[k]; !ok {
				s.names[k] = p.Name
			}
		}
	}
	if p.Malformed != "" {
		s.malformed++
	}
	for _, o := range h.obs {
		o.PDU(f, p)
	}
}

// flush moves the dense counts into the summary's maps.
func (h *handler) flush() {
	for _, s := range h.proto {
		for c, counts := range s.counts {
			for code, n := range counts {
				if n > 0 {
					s.cnt.addN(dissect.Counting(c), uint32(code), n)
				}
			}
			clear(counts)
		}
		if s.malformed > 0 {
			h.fs.Malformed[s.name] += s.malformed
			s.malformed = 0
		}
	}
}

func (h *handler) FlowEnd(f *flow.Flow) {
	h.fs.ByFlow[f.Proto]++
	for _, o := range h.fobs {
		o.FlowEnd(f)
	}
}

const progressEvery = 1 << 16

func newFileSummary(path string) FileSummary {
	return FileSummary{File: path, PDUs: map[string]*ProtoCounts{}, Assets: []any{}, Alerts: []any{},
		Names: map[string]map[NameKey]string{}, Malformed: map[string]uint64{}, ByFlow: map[string]uint64{}}
}

func file(ctx context.Context, path string, idx, n int, opts Options) (FileSummary, error) {
	fs := newFileSummary(path)
	filter, err := capture.ParseFilter(opts.Filter)
	if err != nil {
		return fs, err
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		return fs, err
	}
	if opts.Shards > 1 && opts.Observers == nil {
		return sharded(ctx, path, src, filter, idx, n, opts)
	}
	defer src.Close()
	h := &handler{fs: &fs}
	var obs []Observer
	var pipe *Pipeline
	if opts.Observers != nil {
		obs = opts.Observers(path)
		var fobs []FlowObserver
		for _, o := range obs {
			if fo, ok := o.(FlowObserver); ok {
				fobs = append(fobs, fo)
			}
		}
		h.obs, h.fobs = obs, fobs
		if opts.Pipeline && len(obs) > 0 {
			pipe = NewPipeline(obs, fobs)
			h.obs, h.fobs = []Observer{pipe}, []FlowObserver{pipe}
		}
	}
	t := flow.NewTable(opts.Flow, h)
	rerr := read(ctx, src, filter, t, &fs, progress(opts, idx, n))
	h.flush()
	if pipe != nil {
		pipe.Close()
	}
	fs.Stats = t.Stats()
	fs.Flows = fs.Stats.Flows
	for _, o := range obs {
		if r, ok := o.(Reporter); ok {
			r.Report(&fs)
		}
	}
	if opts.Progress != nil {
		opts.Progress(Progress{File: path, Index: idx, Files: n, Packets: fs.Packets, Bytes: fs.Bytes, Fraction: 1, Done: true})
	}
	return fs, rerr
}

// progress returns the function that reports a file's progress, nil for
// none.
func progress(opts Options, idx, n int) func(fs *FileSummary, fraction float64) {
	if opts.Progress == nil {
		return nil
	}
	return func(fs *FileSummary, fraction float64) {
		opts.Progress(Progress{File: fs.File, Index: idx, Files: n, Packets: fs.Packets, Bytes: fs.Bytes, Fraction: fraction})
	}
}

// read runs every frame of src that passes filter through t, counts them
// in fs and ends the flows at the end. It returns the error that stopped
// it before the end of the file, nil at the end.
func read(ctx context.Context, src *capture.File, filter *capture.Filter, t *flow.Table, fs *FileSummary, report func(*FileSummary, float64)) error {
	var frame uint64
	var rerr error
	for {
		data, ci, err := src.Next()
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
		frame++
		if filter != nil && !filter.Match(data, ci.Link) {
			continue
		}
		fs.Packets++
		fs.Bytes += uint64(ci.Len)
		t.Packet(data, ci, frame)
		if frame%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				rerr = err
				break
			}
			if report != nil {
				report(fs, src.Fraction())
			}
		}
	}
	t.Flush()
	return rerr
}

// sharded dissects the file of src on opts.Shards goroutines, each with
// its own reader of the file and a flow table of one shard, and sums what
// they counted. src is the first shard's reader.
func sharded(ctx context.Context, path string, src *capture.File, filter *capture.Filter, idx, n int, opts Options) (FileSummary, error) {
	parts := make([]FileSummary, opts.Shards)
	errs := make([]error, opts.Shards)
	var wg sync.WaitGroup
	for i := range parts {
		parts[i] = newFileSummary(path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, fl := src, filter
			if i > 0 {
				// A filter compiles itself per link type on use: one per shard.
				var err error
				if fl, err = capture.ParseFilter(opts.Filter); err != nil {
					errs[i] = err
					return
				}
				if s, err = capture.OpenFile(path); err != nil {
					errs[i] = err
					return
				}
			}
			defer s.Close()
			var report func(*FileSummary, float64)
			if i == 0 {
				report = progress(opts, idx, n)
			}
			cfg := opts.Flow
			cfg.Shard, cfg.Shards = i, opts.Shards
			h := &handler{fs: &parts[i]}
			t := flow.NewTable(cfg, h)
			errs[i] = read(ctx, s, fl, t, &parts[i], report)
			h.flush()
			parts[i].Stats = t.Stats()
		}()
	}
	wg.Wait()
	fs := parts[0] // every shard read every frame: its Packets and Bytes are the file's
	for _, p := range parts[1:] {
		fs.merge(&p)
	}
	fs.Flows = fs.Stats.Flows
	if opts.Progress != nil {
		opts.Progress(Progress{File: path, Index: idx, Files: n, Packets: fs.Packets, Bytes: fs.Bytes, Fraction: 1, Done: true})
	}
	for _, err := range errs {
		if err != nil {
			return fs, err // the first shard's, as every shard reads the same bytes
		}
	}
	return fs, nil
}

// merge adds the counts of another shard of the same file.
func (fs *FileSummary) merge(o *FileSummary) {
	fs.Stats.Add(o.Stats)
	for proto, c := range o.PDUs {
		d := fs.PDUs[proto]
		if d == nil {
			d = newCounts()
			fs.PDUs[proto] = d
		}
		d.Total += c.Total
		for _, m := range []struct {
			dst *map[uint32]uint64
			src map[uint32]uint64
		}{{&d.Functions, c.Functions}, {&d.Commands, c.Commands}, {&d.Unconfirmed, c.Unconfirmed}} {
			if len(m.src) > 0 && *m.dst == nil {
				*m.dst = map[uint32]uint64{}
			}
			for code, n := range m.src {
				(*m.dst)[code] += n
			}
		}
	}
	for proto, names := range o.Names {
		d := fs.Names[proto]
		if d == nil {
			d = map[NameKey]string{}
			fs.Names[proto] = d
		}
		for k, v := range names {
			if d[k] == "" {
				d[k] = v
			}
		}
	}
	for proto, n := range o.Malformed {
		fs.Malformed[proto] += n
	}
	for proto, n := range o.ByFlow {
		fs.ByFlow[proto] += n
	}
}

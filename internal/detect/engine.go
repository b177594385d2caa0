package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

// Thresholds tune the windowed indicator detections. Zero fields take the
// defaults documented in docs/detections.md.
type Thresholds struct {
	ScanHosts      int           // identity scan: hosts sent identity requests (default 4)
	ScanWindow     time.Duration // identity scan and diagnostic enumeration window (default 5 min)
	DiagKinds      int           // diagnostic enumeration: distinct identity requests to one host (default 12)
	SweepHosts     int           // address sweep: hosts of one subnet spoken to in one protocol (default 8)
	PortScan       int           // port scan: (host, port) pairs probed without payload (default 20)
	ExceptionStorm int           // exception responses from one server to one client (default 20)
	Window         time.Duration // sweep, port scan and exception storm window (default 60 s)
	RateFactor     float64       // unusual rate: requests per minute above RateFactor × learned peak (default 3)
	RateMin        int           // ... and at least this many per minute (default 30)
	Late           time.Duration // live: how long events are kept past their window for flows that end late (default 5 min, the flow idle time)
	MaxKeys        int           // live: tracked windows and tracked connection rates, each (default 16384); the least recent are evicted
	MaxAlerts      int           // live: alerts kept for aggregation once returned by Evaluate (default 4096)
}

func (t *Thresholds) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ScanHosts, 4)
	def(&t.DiagKinds, 12)
	def(&t.SweepHosts, 8)
	def(&t.PortScan, 20)
	def(&t.ExceptionStorm, 20)
	def(&t.RateMin, 30)
	def(&t.MaxKeys, 16384)
	def(&t.MaxAlerts, 4096)
	if t.Late <= 0 {
		t.Late = 5 * time.Minute
	}
	if t.ScanWindow <= 0 {
		t.ScanWindow = 5 * time.Minute
	}
	if t.Window <= 0 {
		t.Window = time.Minute
	}
	if t.RateFactor <= 0 {
		t.RateFactor = 3
	}
}

// Roles gives the inferred role of a host, for rules that match roles
// (asset.Inventory implements it).
type Roles interface {
	Role(a netip.Addr) asset.Role
}

// Config configures an Engine. The zero value runs the indicator
// detections only.
type Config struct {
	Baseline   *Baseline // baseline detections run when set
	Rules      *Rules    // custom rules, may be nil
	Roles      Roles     // for rules matching roles, may be nil
	Thresholds Thresholds
	File       string // capture the frames refer to, copied into alerts
}

// def is a built-in detection.
type def struct {
	title string
	sev   Severity
	tech  []string
}

// Detections lists the built-in detections by id.
var Detections = map[string]def{
	"plc_stop":         {"PLC stop command", High, []string{"T0858"}},
	"plc_start":        {"PLC start command", Medium, []string{"T0858"}},
	"mode_change":      {"Controller operating mode change", High, []string{"T0858"}},
	"program_download": {"Program download to controller", High, []string{"T0843"}},
	"program_upload":   {"Program upload from controller", Medium, []string{"T0845"}},
	"firmware_update":  {"Firmware update", Critical, []string{"T0857"}},
	"device_restart":   {"Device restart command", High, []string{"T0816"}},
	"time_set":         {"Device clock set", Low, []string{"T0836"}},
	"identity_scan":    {"Identity scan of several hosts", Medium, []string{"T0846", "T0888"}},
	"diag_enum":        {"Diagnostic enumeration of a device", Low, []string{"T0888"}},
	"address_sweep":    {"Address sweep in an industrial protocol", Medium, []string{"T0846"}},
	"port_scan":        {"Port scan", High, []string{"T0846"}},
	"malformed":        {"Malformed industrial protocol PDUs", Low, []string{"T0866"}},
	"exception_storm":  {"Exception response storm", Medium, []string{"T0861", "T0814"}},
	"new_asset":        {"New asset on the network", Medium, []string{"T0864"}},
	"new_connection":   {"New industrial connection", Medium, []string{"T0848"}},
	"new_function":     {"Function not seen while learning", Medium, []string{"T0855"}},
	"new_writer":       {"Write from a host that never wrote", High, []string{"T0855", "T0836"}},
	"address_range":    {"Address outside the learned ranges", Medium, []string{"T0836"}},
	"unusual_rate":     {"Unusual request rate", Medium, []string{"T0814"}},
}

// indicators maps an action to its indicator detection.
var indicators = [...]string{
	dissect.ActStop: "plc_stop", dissect.ActStart: "plc_start", dissect.ActModeChange: "mode_change",
	dissect.ActDownload: "program_download", dissect.ActUpload: "program_upload", dissect.ActFirmware: "firmware_update",
	dissect.ActRestart: "device_restart", dissect.ActTimeSet: "time_set",
}

// Engine runs detections over the PDUs and flows of one capture (or one
// live stream). It is not safe for concurrent use.
type Engine struct {
	cfg    Config
	th     Thresholds
	alerts map[string]*Alert
	order  []*Alert
	seq    map[string]int
	series map[string]*series
	rates  map[connKey]*rate
	done   bool
	byFlow [flowNames]names
	kbuf   []byte            // scratch for map keys
	kinds  map[string]string // diagnostic request kinds, interned

	reported int    // e.order[:reported] were returned by Evaluate
	latest   int64  // newest event time seen, where Alerts evaluates
	evicted  uint64 // windows, rates and alerts dropped by the caps

	// Suppressions (Rules.suppress) apply to the client of the traffic
	// being looked at: curCli is set for each PDU, flow end and rate.
	curCli     netip.Addr
	suppressed uint64 // alerts not raised because of a suppression
	supKeys    int    // suppressed alerts kept in alerts (so later events find them)
}

// New returns an engine; it does no I/O.
func New(cfg Config) *Engine {
	e := &Engine{cfg: cfg, th: cfg.Thresholds, alerts: map[string]*Alert{}, seq: map[string]int{}, series: map[string]*series{}, rates: map[connKey]*rate{}}
	e.th.defaults()
	if cfg.Baseline != nil && cfg.Baseline.idx == nil {
		if err := cfg.Baseline.index(); err != nil {
			e.cfg.Baseline = nil
		}
	}
	return e
}

// alert returns the alert of detection det aggregated under key, making it
// from the built-in definition d when new.
func (e *Engine) alert(det, key string, d def, proto string, assets ...string) *Alert {
	return e.alertSup(det, key, d, proto, e.cfg.Rules.suppresses(det, e.curCli), assets...)
}

// alertSup is alert with the suppression decided by the caller. A
// suppressed alert is kept, so that later events of it still find it, but
// never listed; too many of them are forgotten at once.
func (e *Engine) alertSup(det, key string, d def, proto string, sup bool, assets ...string) *Alert {
	k := det + "|" + key
	if a := e.alerts[k]; a != nil {
		return a
	}
	e.seq[det]++
	a := &Alert{ID: fmt.Sprintf("%s-%d", strings.TrimPrefix(det, "rule:"), e.seq[det]), Detection: det, Title: d.title, Severity: d.sev,
		Techniques: append([]string{}, d.tech...), Proto: proto, Assets: []string{}, Frames: []uint64{}, Evidence: []Evidence{}, File: e.cfg.File}
	for _, s := range assets {
		if s != "" && !containsStr(a.Assets, s) {
			a.Assets = append(a.Assets, s)
		}
	}
	e.alerts[k] = a
	if sup {
		a.suppressed = true
		e.suppressed++
		if e.supKeys++; e.supKeys > e.th.MaxAlerts {
			for k, x := range e.alerts {
				if x.suppressed {
					delete(e.alerts, k)
				}
			}
			e.supKeys = 0
		}
		return a
	}
	e.order = append(e.order, a)
	return a
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (e *Engine) raise(det, key string, proto string, ev Evidence, detail string, assets ...string) *Alert {
	a := e.alert(det, key, Detections[det], proto, assets...)
	for _, s := range assets {
		if s != "" && len(a.Assets) < 64 && !containsStr(a.Assets, s) {
			a.Assets = append(a.Assets, s)
		}
	}
	a.add(ev)
	if a.Detail == "" {
		a.Detail = detail
	}
	return a
}

// names are the addresses of one flow as the engine uses them, made once
// per flow rather than per PDU (formatting addresses was a tenth of
// `otlink analyze`).
type names struct {
	f        *flow.Flow
	id       uint64
	cli, srv netip.Addr // unmapped
	cliS     string     // cli.String()
	srvS     string
	pair     string // "cli>srv"
	client   string // f.Client.String(), with the port
	server   string
}

// flowNames is the number of flows whose names are kept (a power of two).
const flowNames = 1024

func (e *Engine) names(f *flow.Flow) *names {
	n := &e.byFlow[f.ID&(flowNames-1)]
	if n.f != f || n.id != f.ID {
		cli, srv := f.Client.Addr().Unmap(), f.Server.Addr().Unmap()
		cs, ss := cli.String(), srv.String()
		*n = names{f: f, id: f.ID, cli: cli, srv: srv, cliS: cs, srvS: ss, pair: cs + ">" + ss,
			client: f.Client.String(), server: f.Server.String()}
	}
	return n
}

// PDU implements analyze.Observer.
func (e *Engine) PDU(f *flow.Flow, p *dissect.PDU) {
	e.seen(p.Meta.Time)
	req := clientRequest(p) && p.Malformed == ""
	// Most PDUs are ordinary requests and replies: without a baseline or
	// rules they concern no detection, and cost nothing more.
	if p.Malformed == "" && p.Exception == 0 && e.cfg.Baseline == nil && e.cfg.Rules.Len() == 0 &&
		(!req || p.Action != dissect.ActIdentify && (int(p.Action) >= len(indicators) || indicators[p.Action] == "")) {
		return
	}
	n := e.names(f)
	cli, srv := n.cli, n.srv
	e.curCli = cli
	src, dst := n.client, n.server
	if p.Meta.Dir == dissect.ToClient {
		src, dst = dst, src
	}
	ev := func() Evidence { return evidenceOf(src, dst, p) }

	if p.Malformed != "" {
		e.raise("malformed", n.cliS+"|"+p.Proto, p.Proto, ev(), fmt.Sprintf("%s: %s", p.Proto, p.Malformed), hostOf(src), hostOf(dst))
	}
	if p.Exception != 0 && (p.Response || p.Meta.Dir == dissect.ToClient) {
		e.add("exception_storm", n.pair, p.Proto, e.th.Window, e.th.ExceptionStorm, false, p.Meta.Time, "", ev(), n.srvS, n.cliS)
	}
	if req {
		if int(p.Action) < len(indicators) && indicators[p.Action] != "" && p.Exception == 0 {
			// One alert per client and protocol: a host restarting twenty
			// devices is one incident with twenty assets.
			e.raise(indicators[p.Action], n.cliS+"|"+p.Proto, p.Proto, ev(), fmt.Sprintf("%s %s (%s, function %d) from %s", p.Proto, p.Name, p.Action, p.Function, cli), n.cliS, n.srvS)
		}
		if p.Action == dissect.ActIdentify {
			x := ev() // one copy of the PDU for both windows
			e.add("identity_scan", n.cliS, p.Proto, e.th.ScanWindow, e.th.ScanHosts, true, p.Meta.Time, n.srvS, x, n.cliS)
			if p.Proto != "opcua" { // browsing an OPC UA address space is normal client behaviour
				e.add("diag_enum", n.pair, p.Proto, e.th.ScanWindow, e.th.DiagKinds, true, p.Meta.Time, e.kind(p), x, n.cliS, n.srvS)
			}
		}
		if e.cfg.Baseline != nil {
			e.baselinePDU(f, p, n, ev)
		}
	}
	if e.cfg.Rules != nil {
		e.rulesPDU(f, p, cli, srv, ev)
	}
}

// kind names a diagnostic request: "proto/function[/space:start]". The
// names are interned: a client repeats the same few requests.
func (e *Engine) kind(p *dissect.PDU) string {
	b := append(append(e.kbuf[:0], p.Proto...), '/')
	b = strconv.AppendUint(b, uint64(p.Function), 10)
	if len(p.Objects) > 0 {
		b = append(append(append(b, '/'), p.Objects[0].Space...), ':')
		b = strconv.AppendUint(b, uint64(p.Objects[0].Start), 10)
	}
	e.kbuf = b
	if k, ok := e.kinds[string(b)]; ok {
		return k
	}
	if e.kinds == nil || len(e.kinds) >= 4096 {
		e.kinds = map[string]string{}
	}
	k := string(b)
	e.kinds[k] = k
	return k
}

// baselinePDU checks a client request against the allow-list.
func (e *Engine) baselinePDU(f *flow.Flow, p *dissect.PDU, n *names, ev func() Evidence) {
	ix := e.cfg.Baseline.idx
	cli, srv, pair := n.cli, n.srv, n.pair
	k := connKey{cli, srv, p.Proto}
	bc := ix.conns[k]
	if bc == nil {
		e.raise("new_connection", pair+"|"+p.Proto, p.Proto, ev(), fmt.Sprintf("%s from %s to %s not in the baseline", p.Proto, cli, srv), cli.String(), srv.String())
	}
	if writeAction(p.Action) && !ix.writers[cli] {
		e.raise("new_writer", pair, p.Proto, ev(), fmt.Sprintf("%s sent %s (%s) but never wrote while learning", cli, p.Name, p.Action), cli.String(), srv.String())
	}
	if bc != nil {
		fk := fnKey{p.Function, mapName(p.Counting)}
		bf, ok := bc.fns[fk]
		if !ok {
			a := e.raise("new_function", pair+"|"+p.Proto+"|"+fmt.Sprint(fk), p.Proto, ev(),
				fmt.Sprintf("%s function %d (%s) from %s to %s not in the baseline", p.Proto, p.Function, p.Name, cli, srv), cli.String(), srv.String())
			if writeAction(p.Action) && a.Count == 1 {
				a.Severity = High
				a.Techniques = appendTech(a.Techniques, "T0836")
			}
		} else if len(bf.f.Ranges) > 0 {
			for _, o := range p.Objects {
				if o.Count == 0 || inRanges(bf.f.Ranges, o.Space, o.Start, o.Count) {
					continue
				}
				a := e.raise("address_range", pair+"|"+p.Proto+"|"+fmt.Sprint(fk), p.Proto, ev(),
					fmt.Sprintf("%s %s %s %d..%d outside the learned ranges", p.Proto, p.Name, o.Space, o.Start, uint64(o.Start)+uint64(o.Count)-1), cli.String(), srv.String())
				if !writeAction(p.Action) && a.Count == 1 {
					a.Techniques, a.Severity = []string{"T0861"}, Low
				}
				break
			}
		}
	}
	if bc == nil || bc.c.PeakPerMinute <= 0 {
		return // no learned rate to compare with
	}
	r := e.rates[k]
	if r == nil {
		if len(e.rates) >= e.th.MaxKeys {
			e.evictRates()
		}
		r = &rate{learned: bc.c.PeakPerMinute}
		e.rates[k] = r
	}
	r.add(p.Meta.Time, ev, writeAction(p.Action), &e.th)
}

func appendTech(l []string, t string) []string {
	if containsStr(l, t) {
		return l
	}
	return append(l, t)
}

// rate counts the requests of one connection in one-second buckets, so
// the count of the sliding minute ending at any packet is known, and keeps
// the busiest such minute since the detection was (re-)armed, with the
// first frames above the limit as evidence.
type rate struct {
	learned    int
	stamp      [60]int64 // second of each bucket
	cnt        [60]int32
	writes     [60]int32
	newest     int64 // newest second counted
	last       int64 // newest packet time, ns
	over       int64 // last time the sliding minute was above the limit, ns
	fired      bool
	peak       int
	peakWrites int
	ev         []Evidence
}

// exceeds says whether n requests in a minute are unusual.
func (r *rate) exceeds(n int, th *Thresholds) bool {
	return n >= th.RateMin && float64(n) > th.RateFactor*float64(r.learned)
}

func (r *rate) add(t int64, ev func() Evidence, write bool, th *Thresholds) {
	sec := t / int64(time.Second)
	if sec <= r.newest-60 {
		return // older than the buckets: flows of one connection are in time order but for reordering
	}
	r.newest = max(r.newest, sec)
	r.last = max(r.last, t)
	i := ((sec % 60) + 60) % 60
	if r.stamp[i] != sec {
		r.stamp[i], r.cnt[i], r.writes[i] = sec, 0, 0
	}
	r.cnt[i]++
	if write {
		r.writes[i]++
	}
	n, w := r.sum(r.newest)
	if !r.exceeds(n, th) {
		return
	}
	r.over = max(r.over, t)
	if len(r.ev) < 4 {
		r.ev = append(r.ev, ev())
	}
	if n > r.peak {
		r.peak, r.peakWrites = n, w
	}
}

// sum counts the requests and writes of the minute ending at second sec.
func (r *rate) sum(sec int64) (n, w int) {
	for i := range r.stamp {
		if r.stamp[i] > sec-60 && r.stamp[i] <= sec {
			n += int(r.cnt[i])
			w += int(r.writes[i])
		}
	}
	return n, w
}

// FlowEnd implements analyze.FlowObserver: port scans, address sweeps and
// new assets come from flows.
func (e *Engine) FlowEnd(f *flow.Flow) {
	cli, srv := f.Client.Addr().Unmap(), f.Server.Addr().Unmap()
	e.curCli = cli
	ev := Evidence{Frame: f.FirstFrame, Time: time.Unix(0, f.First).UTC(), Src: f.Client.String(), Dst: f.Server.String(), Proto: f.Proto}
	e.seen(f.Last)
	// With a baseline, flows of learned connections are not scan evidence:
	// a historian polling forty controllers is not sweeping them.
	known := false
	if b := e.cfg.Baseline; b != nil {
		_, known = b.idx.conns[connKey{cli, srv, f.Proto}]
	}
	if f.T == dissect.TCP && f.Flags[0]&flow.SYN != 0 && f.Bytes[0]+f.Bytes[1] == 0 && !known {
		switch {
		case f.Flags[1]&flow.RST != 0:
			ev.Note = "SYN answered by RST: port closed"
		case f.Flags[1]&flow.SYN != 0:
			ev.Note = "SYN answered by SYN-ACK, no payload: port open"
		default:
			ev.Note = "SYN not answered"
		}
		e.add("port_scan", cli.String(), "", e.th.Window, e.th.PortScan, true, f.First, f.Server.String(), ev, cli.String())
	}
	if f.Proto != "" && f.Packets[0] > 0 && !skipAddr(srv) && !known {
		ev.Note = f.Proto + " flow"
		e.add("address_sweep", cli.String()+"|"+f.Proto+"|"+subnet(srv), f.Proto, e.th.Window, e.th.SweepHosts, true, f.First, srv.String(), ev, cli.String())
	}
	if b := e.cfg.Baseline; b != nil {
		for d, a := range [2]netip.Addr{cli, srv} {
			if f.Packets[d] == 0 || skipAddr(a) || b.idx.assets[a] {
				continue
			}
			ev.Note = "first flow of the host"
			e.raise("new_asset", a.String(), f.Proto, ev, fmt.Sprintf("%s is not in the baseline", a), a.String())
		}
	}
}

// subnet names the /24 (IPv4) or /64 (IPv6) of a.
func subnet(a netip.Addr) string {
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// Report implements analyze.Reporter: it finishes the windowed detections
// and adds the alerts to the summary.
func (e *Engine) Report(fs *analyze.FileSummary) {
	for _, a := range e.Alerts() {
		fs.Alerts = append(fs.Alerts, a)
	}
	fs.Suppressed += e.suppressed
}

// Alerts finishes the windowed and rate detections once, at the newest
// event seen (the end of a file), and returns every alert, ordered by
// time. It is for files; a live caller uses Evaluate.
func (e *Engine) Alerts() []*Alert {
	if !e.done {
		e.done = true
		e.evalSeries(e.latest, false)
		e.evalRates(e.latest, false)
	}
	out := append([]*Alert(nil), e.order...)
	sortAlerts(out)
	return out
}

var (
	_ analyze.Observer     = (*Engine)(nil)
	_ analyze.FlowObserver = (*Engine)(nil)
	_ analyze.Reporter     = (*Engine)(nil)
)

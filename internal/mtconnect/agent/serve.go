package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/mtconnect"
)

// reqError is an MTConnectError answer.
type reqError struct {
	status int
	code   string
	text   string
}

func errf(status int, code, format string, args ...any) *reqError {
	return &reqError{status: status, code: code, text: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers /probe, /current, /sample, /assets, each optionally
// after a device name (/cnc01/current); / and /<device> are probes.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		a.writeError(w, errf(http.StatusMethodNotAllowed, mtconnect.ErrUnsupported, "method %s is not supported", r.Method))
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	dev := -1
	req := "probe"
	switch len(segs) {
	case 0:
	case 1:
		if isRequest(segs[0]) {
			req = segs[0]
		} else if d, ok := a.byDev[segs[0]]; ok {
			dev = d
		} else {
			a.writeError(w, errf(http.StatusNotFound, mtconnect.ErrNoDevice, "no device %q", clip(segs[0])))
			return
		}
	case 2:
		d, ok := a.byDev[segs[0]]
		if !ok {
			if segs[0] == "asset" || segs[0] == "assets" {
				a.writeError(w, errf(http.StatusNotFound, mtconnect.ErrAssetNotFound, "no asset %q", clip(segs[1])))
				return
			}
			a.writeError(w, errf(http.StatusNotFound, mtconnect.ErrNoDevice, "no device %q", clip(segs[0])))
			return
		}
		if !isRequest(segs[1]) {
			a.writeError(w, errf(http.StatusBadRequest, mtconnect.ErrInvalidURI, "unknown request %q", clip(segs[1])))
			return
		}
		dev, req = d, segs[1]
	default:
		a.writeError(w, errf(http.StatusBadRequest, mtconnect.ErrInvalidURI, "path %q is not an MTConnect request", clip(r.URL.Path)))
		return
	}
	q := r.URL.Query()
	f := filter{dev: dev}
	if q.Has("path") {
		if req != "current" && req != "sample" {
			a.writeError(w, errf(http.StatusBadRequest, mtconnect.ErrInvalidRequest, "path filters apply to current and sample"))
			return
		}
		var rerr *reqError
		if f.items, rerr = a.pathFilter(q.Get("path"), dev); rerr != nil {
			a.writeError(w, rerr)
			return
		}
	}
	switch req {
	case "probe":
		a.serveProbe(w, dev)
	case "current":
		a.serveCurrent(w, r, q, f)
	case "sample":
		a.serveSample(w, r, q, f)
	case "assets", "asset":
		a.serveAssets(w)
	}
}

func isRequest(s string) bool {
	switch s {
	case "probe", "current", "sample", "assets", "asset":
		return true
	}
	return false
}

func (a *Agent) header() mtconnect.Header {
	return mtconnect.Header{
		CreationTime: mtconnect.FormatTime(a.opts.Now()),
		Sender:       a.opts.Sender,
		InstanceID:   a.opts.InstanceID,
		Version:      a.opts.Version + ".0",
		BufferSize:   uint64(len(a.buf)),
	}
}

func (a *Agent) serveProbe(w http.ResponseWriter, dev int) {
	h := a.header()
	h.AssetBufferSize = 1024
	h.AssetCount = 0
	h.DeviceModelChangeTime = mtconnect.FormatTime(a.start)
	doc := &mtconnect.Devices{Header: h}
	devs := a.devices
	if dev >= 0 {
		devs = devs[dev : dev+1]
	}
	list := make([]mtconnect.Component, len(devs))
	copy(list, devs)
	doc.SetList(list)
	var b bytes.Buffer
	if err := mtconnect.WriteDevices(&b, doc); err != nil {
		a.writeError(w, errf(http.StatusInternalServerError, mtconnect.ErrInternal, "write probe"))
		return
	}
	writeXML(w, http.StatusOK, b.Bytes())
}

func (a *Agent) serveAssets(w http.ResponseWriter) {
	h := a.header()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<MTConnectAssets xmlns="urn:mtconnect.org:MTConnectAssets:%s"><Header creationTime="%s" sender="%s" instanceId="%d" version="%s" assetBufferSize="1024" assetCount="0"/><Assets/></MTConnectAssets>`,
		xmlEscape(a.opts.Version), h.CreationTime, xmlEscape(h.Sender), h.InstanceID, xmlEscape(h.Version))
	writeXML(w, http.StatusOK, b.Bytes())
}

func (a *Agent) serveCurrent(w http.ResponseWriter, r *http.Request, q url.Values, f filter) {
	if q.Has("interval") {
		a.writeError(w, errf(http.StatusBadRequest, mtconnect.ErrUnsupported, "streaming current is not supported by this agent; stream sample instead"))
		return
	}
	if q.Has("at") {
		at, err := strconv.ParseUint(q.Get("at"), 10, 64)
		if err != nil {
			a.writeError(w, errf(http.StatusBadRequest, mtconnect.ErrQuery, "at %q is not a sequence number", clip(q.Get("at"))))
			return
		}
		b, rerr := a.atDoc(f, at)
		if rerr != nil {
			a.writeError(w, rerr)
			return
		}
		writeXML(w, http.StatusOK, b)
		return
	}
	b, err := a.currentDoc(f)
	if err != nil {
		a.writeError(w, errf(http.StatusInternalServerError, mtconnect.ErrInternal, "write current"))
		return
	}
	writeXML(w, http.StatusOK, b)
}

// filter selects the data items a request covers: one device or all, and
// the items a path names.
type filter struct {
	dev   int    // -1: every device
	items []bool // by item index; nil: every item of dev
}

func (f filter) has(a *Agent, item int32) bool {
	return (f.dev < 0 || a.items[item].dev == f.dev) && (f.items == nil || f.items[item])
}

// pathFilter returns the data items of dev (-1 = all) that expr selects;
// a path that selects none is an INVALID_XPATH error, as in cppagent.
func (a *Agent) pathFilter(expr string, dev int) ([]bool, *reqError) {
	paths, rerr := parsePaths(expr)
	if rerr != nil {
		return nil, rerr
	}
	sel, _ := selectItems(a.xtree, paths, len(a.items))
	n := 0
	for i := range sel {
		sel[i] = sel[i] && (dev < 0 || a.items[i].dev == dev)
		if sel[i] {
			n++
		}
	}
	if n == 0 {
		return nil, xpathErr("path %q selects no data item", clip(expr))
	}
	return sel, nil
}

// atDoc writes the observation of every item of f that was current at
// sequence at: the state at the buffer's start (base) with the buffer's
// observations up to at applied.
func (a *Agent) atDoc(f filter, at uint64) ([]byte, *reqError) {
	a.mu.Lock()
	first, next := a.firstLocked(), a.next
	if at < first || at >= next {
		a.mu.Unlock()
		return nil, errf(http.StatusNotFound, mtconnect.ErrOutOfRange, "at %d is outside the buffer's %d..%d", at, first, next-1)
	}
	state := append([]entry(nil), a.base...)
	for seq := first; seq <= at; seq++ {
		e := a.buf[seq%uint64(len(a.buf))]
		state[e.item] = e
	}
	es := state[:0]
	for _, e := range state {
		if e.seq != 0 && f.has(a, e.item) {
			es = append(es, e)
		}
	}
	h := a.header()
	h.FirstSequence, h.NextSequence, h.LastSequence = first, at+1, next-1
	a.mu.Unlock()
	b, err := a.streamsDoc(h, es)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, mtconnect.ErrInternal, "write current")
	}
	return b, nil
}

// currentDoc writes the latest observation of every item of f.
func (a *Agent) currentDoc(f filter) ([]byte, error) {
	a.mu.Lock()
	es := make([]entry, 0, len(a.latest))
	for _, e := range a.latest {
		if e.seq != 0 && f.has(a, e.item) {
			es = append(es, e)
		}
	}
	h := a.header()
	h.FirstSequence, h.NextSequence, h.LastSequence = a.firstLocked(), a.next, a.next-1
	a.mu.Unlock()
	return a.streamsDoc(h, es)
}

// params of a sample request.
type sampleParams struct {
	from      uint64
	hasFrom   bool
	count     int
	interval  time.Duration
	streaming bool
	heartbeat time.Duration
}

func (a *Agent) parseSample(q url.Values) (sampleParams, *reqError) {
	p := sampleParams{count: DefaultCount, heartbeat: DefaultHeartbeat}
	if s := q.Get("from"); q.Has("from") {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return p, errf(http.StatusBadRequest, mtconnect.ErrQuery, "from %q is not a sequence number", clip(s))
		}
		p.from, p.hasFrom = n, true
	}
	if s := q.Get("count"); q.Has("count") {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			return p, errf(http.StatusBadRequest, mtconnect.ErrQuery, "count %q is not a number", clip(s))
		case n <= 0:
			return p, errf(http.StatusBadRequest, mtconnect.ErrUnsupported, "count %d: only positive counts are supported", n)
		case n > len(a.buf):
			return p, errf(http.StatusBadRequest, mtconnect.ErrOutOfRange, "count %d is above the buffer size %d", n, len(a.buf))
		}
		p.count = n
	}
	if s := q.Get("interval"); q.Has("interval") {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return p, errf(http.StatusBadRequest, mtconnect.ErrQuery, "interval %q is not a number of milliseconds", clip(s))
		}
		p.interval, p.streaming = time.Duration(n)*time.Millisecond, true
	}
	if s := q.Get("heartbeat"); q.Has("heartbeat") {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil || n < 10 || n > 600000 {
			return p, errf(http.StatusBadRequest, mtconnect.ErrQuery, "heartbeat %q is not 10..600000 milliseconds", clip(s))
		}
		p.heartbeat = time.Duration(n) * time.Millisecond
	}
	return p, nil
}

func (a *Agent) serveSample(w http.ResponseWriter, r *http.Request, q url.Values, f filter) {
	p, rerr := a.parseSample(q)
	if rerr != nil {
		a.writeError(w, rerr)
		return
	}
	if !p.streaming {
		b, _, rerr := a.sampleDoc(f, p)
		if rerr != nil {
			a.writeError(w, rerr)
			return
		}
		writeXML(w, http.StatusOK, b)
		return
	}
	a.stream(w, r, f, p)
}

// sampleDoc writes the observations of f from p.from, at most p.count,
// and returns the next sequence to ask for.
func (a *Agent) sampleDoc(f filter, p sampleParams) ([]byte, uint64, *reqError) {
	a.mu.Lock()
	first, next := a.firstLocked(), a.next
	from := p.from
	if !p.hasFrom {
		from = first
	}
	if from < first || from > next {
		a.mu.Unlock()
		return nil, 0, errf(http.StatusNotFound, mtconnect.ErrOutOfRange, "from %d is outside the buffer's %d..%d", from, first, next)
	}
	es := make([]entry, 0, min(p.count, int(next-from)))
	seq := from
	for ; seq < next && len(es) < p.count; seq++ {
		e := a.buf[seq%uint64(len(a.buf))]
		if f.has(a, e.item) {
			es = append(es, e)
		}
	}
	h := a.header()
	h.FirstSequence, h.NextSequence, h.LastSequence = first, seq, next-1
	a.mu.Unlock()
	b, err := a.streamsDoc(h, es)
	if err != nil {
		return nil, 0, errf(http.StatusInternalServerError, mtconnect.ErrInternal, "write sample")
	}
	return b, seq, nil
}

// stream serves a sample request with an interval as a multipart stream
// until the client goes, the agent closes or the client falls behind the
// buffer (an OUT_OF_RANGE part ends it).
func (a *Agent) stream(w http.ResponseWriter, r *http.Request, f filter, p sampleParams) {
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		a.writeError(w, errf(http.StatusServiceUnavailable, mtconnect.ErrTooMany, "more than %d streams are open", cap(a.streams)))
		return
	}
	if !p.hasFrom {
		_, p.from = a.Sequences()
		p.hasFrom = true
	}
	// Check the start before the 200 goes out, so that a client whose
	// sequence left the buffer gets a plain error document.
	if first, next := a.Sequences(); p.from < first || p.from > next {
		a.writeError(w, errf(http.StatusNotFound, mtconnect.ErrOutOfRange, "from %d is outside the buffer's %d..%d", p.from, first, next))
		return
	}
	a.opened.Add(1)
	boundary := randomBoundary()
	w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary="+boundary)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	ctx := r.Context()
	lastSent := time.Now()
	for {
		a.mu.Lock()
		pending := a.next > p.from
		a.mu.Unlock()
		var part []byte
		if pending {
			b, next, rerr := a.sampleDoc(f, p)
			if rerr != nil {
				part = a.errorDoc(rerr)
			} else {
				part, p.from = b, next
			}
			if rerr != nil {
				_ = writePart(w, rc, boundary, part)
				return
			}
		} else if time.Since(lastSent) >= p.heartbeat {
			h := a.header()
			first, next := a.Sequences()
			h.FirstSequence, h.NextSequence, h.LastSequence = first, next, next-1
			b, err := a.streamsDoc(h, nil)
			if err != nil {
				return
			}
			part = b
		}
		if part != nil {
			if err := writePart(w, rc, boundary, part); err != nil {
				return
			}
			lastSent = time.Now()
			if !a.sleep(ctx, p.interval) {
				return
			}
			continue
		}
		hb := time.NewTimer(p.heartbeat - time.Since(lastSent))
		select {
		case <-a.wait(p.from):
		case <-hb.C:
		case <-ctx.Done():
			hb.Stop()
			return
		case <-a.closed:
			hb.Stop()
			return
		}
		hb.Stop()
	}
}

func writePart(w http.ResponseWriter, rc *http.ResponseController, boundary string, body []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := fmt.Fprintf(w, "--%s\r\nContent-type: text/xml\r\nContent-length: %d\r\n\r\n", boundary, len(body)); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if _, err := w.Write([]byte("\r\n")); err != nil {
		return err
	}
	return rc.Flush()
}

// streamsDoc groups entries by device and component, in sequence order.
func (a *Agent) streamsDoc(h mtconnect.Header, es []entry) ([]byte, error) {
	doc := &mtconnect.Streams{Header: h}
	devIx := map[int]int{}
	compIx := map[int][2]int{}
	for _, e := range es {
		it := &a.items[e.item]
		ci, ok := compIx[it.comp]
		if !ok {
			di, ok := devIx[it.dev]
			if !ok {
				d := &a.devices[it.dev]
				di = len(doc.Devices)
				devIx[it.dev] = di
				doc.Devices = append(doc.Devices, mtconnect.DeviceStream{Name: d.Name, UUID: d.UUID})
			}
			c := &a.comps[it.comp]
			ds := &doc.Devices[di]
			ci = [2]int{di, len(ds.Components)}
			compIx[it.comp] = ci
			ds.Components = append(ds.Components, mtconnect.ComponentStream{Component: c.typ, Name: c.name, ComponentID: c.id})
		}
		cs := &doc.Devices[ci[0]].Components[ci[1]]
		o := mtconnect.Observation{
			DataItemID: it.di.ID, Timestamp: mtconnect.FormatTime(time.Unix(0, e.ts)), Name: it.di.Name,
			Sequence: e.seq, SubType: it.di.SubType, Value: e.value,
		}
		o.XMLName.Local = it.elem
		var l **mtconnect.ObservationList
		switch it.di.Category {
		case mtconnect.Sample:
			l = &cs.Samples
		case mtconnect.Event:
			l = &cs.Events
		default:
			l = &cs.Condition
			o.XMLName.Local = e.level
			o.Type = it.di.Type
			o.NativeCode = e.nativeCode
		}
		if *l == nil {
			*l = &mtconnect.ObservationList{}
		}
		(*l).Items = append((*l).Items, o)
	}
	var b bytes.Buffer
	if err := mtconnect.WriteStreams(&b, doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (a *Agent) errorDoc(e *reqError) []byte {
	doc := &mtconnect.ErrorDoc{Header: a.header(), Errors: []mtconnect.Error{{Code: e.code, Text: e.text}}}
	var b bytes.Buffer
	_ = mtconnect.WriteError(&b, doc)
	return b.Bytes()
}

func (a *Agent) writeError(w http.ResponseWriter, e *reqError) {
	writeXML(w, e.status, a.errorDoc(e))
}

func writeXML(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

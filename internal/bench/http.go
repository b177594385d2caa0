package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/tlsca"
	"github.com/otlink/otlink/internal/web"
)

// HTTPOptions configure `otlink bench http`.
type HTTPOptions struct {
	Tags       int           // tags in all, over Devices simulated Modbus devices
	Devices    int           // default 10
	Interval   time.Duration // poll interval of the devices; default 1s (every value changes at each poll)
	Clients    int           // concurrent keep-alive clients of the request measurements; default 200
	SSEClients int           // event stream clients; default 200
	Duration   time.Duration // measuring time of each measurement; default 5s
	PageLimit  int           // limit of the paged /api/v1/tags measurement; default 500
	Dir        string        // scratch folder (auth.db, tls); "" = a temporary one
	Progress   io.Writer     // a line per measurement; nil = none
	// AtEnd, when set, is called after the measurements while everything
	// still runs (a heap profile).
	AtEnd func()
}

func (o *HTTPOptions) defaults() {
	if o.Tags <= 0 {
		o.Tags = 10_000
	}
	if o.Devices <= 0 {
		o.Devices = 10
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Clients <= 0 {
		o.Clients = 200
	}
	if o.SSEClients < 0 {
		o.SSEClients = 0
	} else if o.SSEClients == 0 {
		o.SSEClients = 200
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.PageLimit <= 0 {
		o.PageLimit = 500
	}
}

// Load is one closed-loop request measurement: Clients goroutines, each on
// its own keep-alive TLS connection, sending the next request when the
// previous answer was read to the end.
type Load struct {
	Path           string  `json:"path"`
	Requests       uint64  `json:"requests"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50MS          float64 `json:"p50_ms"`
	P99MS          float64 `json:"p99_ms"`
	BytesPerReply  float64 `json:"bytes_per_reply"`
	Errors         uint64  `json:"errors"`
}

// SSEResult is the event stream fan-out measurement. A change's delay is
// from the sample's source time (when the engine read the value from the
// device) to the event carrying it being read by a client; it includes up
// to one stream poll period (500 ms) by design of the streams.
type SSEResult struct {
	Clients          int     `json:"clients"`
	Connected        int     `json:"connected"`
	EventsPerSec     float64 `json:"events_per_sec"`      // events read, all clients
	TagUpdatesPerSec float64 `json:"tag_updates_per_sec"` // tag values delivered, all clients
	MBPerSec         float64 `json:"mb_per_sec"`          // event payload read, all clients
	// Per (event, client): delay of the oldest change in the event.
	DelayP50MS float64 `json:"delay_p50_ms"`
	DelayP99MS float64 `json:"delay_p99_ms"`
	// Per change of the probe tag (the source's first) that reached every
	// client: until the last client read it.
	AllClientsP50MS float64 `json:"all_clients_p50_ms"`
	AllClientsP99MS float64 `json:"all_clients_p99_ms"`
	EventsAtAll     int     `json:"events_at_all_clients"`
}

// HTTPResult is what one run measured. JSON keys are stable.
type HTTPResult struct {
	Tags       int     `json:"tags"`
	Devices    int     `json:"devices"`
	Clients    int     `json:"clients"`
	IntervalMS float64 `json:"interval_ms"`
	// The baseline: GET /healthz with the same bearer token (TLS, HTTP,
	// token authentication: the server's floor cost per request).
	Healthz Load `json:"healthz"`
	Tags10k Load `json:"tags_all"`
	Paged   Load `json:"tags_page"`
	// Ratio of tags_all to healthz requests/s.
	TagsToHealthz  float64   `json:"tags_to_healthz"`
	PagedToHealthz float64   `json:"page_to_healthz"`
	SSE            SSEResult `json:"sse"`
	CPUSec         float64   `json:"cpu_sec"`
	RSSMB          float64   `json:"rss_mb"`
}

// nullSink drops batches: the bench measures the web server, which reads
// the engine's snapshot, not the bus.
type nullSink struct{}

func (nullSink) PublishBatch(context.Context, *model.Batch) error { return nil }

// HTTP runs the HTTP benchmark: simulated devices, the acquisition engine,
// the auth store and the web server over HTTPS from the local CA, in one
// process with the clients.
func HTTP(ctx context.Context, o HTTPOptions) (HTTPResult, error) {
	o.defaults()
	res := HTTPResult{Tags: o.Tags, Devices: o.Devices, Clients: o.Clients, IntervalMS: float64(o.Interval) / 1e6}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "otlink-bench-http-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	perDev := max(o.Tags/o.Devices, 1)
	_, _, regs := layout(perDev)
	plant, err := sim.Start(ctx, sim.PlantConfig{Lines: 1, Machines: o.Devices, Bench: regs, Seed: 1, MaxConns: 8})
	if err != nil {
		return res, err
	}
	defer plant.Close()
	cfg, _, _ := benchConfig(plant, perDev, o.Interval, 16)
	cfg.Data = dir
	if err := config.Validate(cfg); err != nil {
		return res, err
	}
	eng, err := acquire.New(cfg, acquire.Options{Sink: nullSink{}, Logger: quiet, DataDir: filepath.Join(dir, "acquire")})
	if err != nil {
		return res, err
	}
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()
	defer func() { cancel(); <-engDone }()

	// Real authentication: a viewer and its API token.
	svc, err := auth.Open(ctx, filepath.Join(dir, "auth.db"), auth.Options{Logger: quiet})
	if err != nil {
		return res, err
	}
	defer svc.Close()
	if _, err := svc.CreateUser(ctx, "bench", "load generator "+fmt.Sprint(time.Now().UnixNano()), []string{auth.RoleViewer}, nil); err != nil {
		return res, err
	}
	token, _, err := svc.CreateToken(ctx, "bench", "bench", []string{auth.PermTagsRead}, nil, time.Hour)
	if err != nil {
		return res, err
	}
	// HTTPS from the local CA, as otlink run serves it.
	rl, files, err := tlsca.OpenLocal(filepath.Join(dir, "tls"), nil, tlsca.ReloadOptions{Logger: quiet})
	if err != nil {
		return res, err
	}
	pool, err := tlsca.Pool(files.CA)
	if err != nil {
		return res, err
	}
	srv := web.New(web.Options{Listen: "127.0.0.1:0", Source: app.EngineSource(eng), Auth: svc, TLS: rl.Config(), Logger: quiet})
	if err := srv.Start(); err != nil {
		return res, err
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	base := srv.URL()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConns:        o.Clients + o.SSEClients + 16,
		MaxIdleConnsPerHost: o.Clients + o.SSEClients + 16,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	// Wait until every tag has a value.
	for i := 0; ; i++ {
		if n := countGood(eng); n >= perDev*o.Devices {
			break
		}
		if i > 200 {
			return res, errcode.New(errcode.BenchHTTP, "tags not all good after 20s")
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	progress := func(l Load) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%-40s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %9.0f B/reply  errors %d\n",
				l.Path, l.RequestsPerSec, l.P50MS, l.P99MS, l.BytesPerReply, l.Errors)
		}
	}
	cpu0 := cpuTime()
	res.Healthz, err = load(ctx, client, base, "/healthz", token, o.Clients, o.Duration)
	if err != nil {
		return res, err
	}
	progress(res.Healthz)
	res.Tags10k, err = load(ctx, client, base, "/api/v1/tags", token, o.Clients, o.Duration)
	if err != nil {
		return res, err
	}
	progress(res.Tags10k)
	res.Paged, err = load(ctx, client, base, fmt.Sprintf("/api/v1/tags?limit=%d", o.PageLimit), token, o.Clients, o.Duration)
	if err != nil {
		return res, err
	}
	progress(res.Paged)
	if res.Healthz.RequestsPerSec > 0 {
		res.TagsToHealthz = res.Tags10k.RequestsPerSec / res.Healthz.RequestsPerSec
		res.PagedToHealthz = res.Paged.RequestsPerSec / res.Healthz.RequestsPerSec
	}
	if o.SSEClients > 0 {
		probe := app.EngineSource(eng).Tags()[0].Path
		res.SSE, err = fanOut(ctx, client, base, token, probe, o.SSEClients, o.Duration)
		if err != nil {
			return res, err
		}
		if o.Progress != nil {
			s := res.SSE
			fmt.Fprintf(o.Progress, "SSE %d/%d clients: %.0f events/s, %.0f tag updates/s, %.1f MB/s; delay p50 %.0f ms p99 %.0f ms; at all clients p50 %.0f ms p99 %.0f ms (%d events)\n",
				s.Connected, s.Clients, s.EventsPerSec, s.TagUpdatesPerSec, s.MBPerSec, s.DelayP50MS, s.DelayP99MS, s.AllClientsP50MS, s.AllClientsP99MS, s.EventsAtAll)
		}
	}
	if o.AtEnd != nil {
		o.AtEnd()
	}
	res.CPUSec = (cpuTime() - cpu0).Seconds()
	res.RSSMB = peakRSSMB()
	return res, nil
}

func countGood(e *acquire.Engine) int {
	n := 0
	for _, t := range e.Snapshot() {
		if t.Quality == model.Good {
			n++
		}
	}
	return n
}

// load measures path with n closed-loop clients for d.
func load(ctx context.Context, c *http.Client, base, path, token string, n int, d time.Duration) (Load, error) {
	l := Load{Path: path}
	// Warm up: open every connection (the TLS handshakes are not what is
	// measured) and check the answer once.
	if err := get(ctx, c, base+path, token, nil); err != nil {
		return l, err
	}
	var (
		wg       sync.WaitGroup
		measure  atomic.Bool
		stop     atomic.Bool
		reqs     atomic.Uint64
		errs     atomic.Uint64
		bytesIn  atomic.Uint64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var cnt countWriter
			for !stop.Load() && ctx.Err() == nil {
				t := time.Now()
				cnt.n = 0
				err := get(ctx, c, base+path, token, &cnt)
				if !measure.Load() {
					continue
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				mine = append(mine, time.Since(t))
				reqs.Add(1)
				bytesIn.Add(uint64(cnt.n))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	warm := time.NewTimer(min(time.Second, d))
	select {
	case <-warm.C:
	case <-ctx.Done():
	}
	measure.Store(true)
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	measure.Store(false)
	el := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	l.Requests = reqs.Load()
	l.RequestsPerSec = float64(l.Requests) / el.Seconds()
	l.Errors = errs.Load()
	l.P50MS, l.P99MS = percentile(lat, 0.5), percentile(lat, 0.99)
	if l.Requests > 0 {
		l.BytesPerReply = float64(bytesIn.Load()) / float64(l.Requests)
	}
	if l.Requests == 0 && firstErr != nil {
		return l, errcode.Wrap(errcode.BenchHTTP, firstErr, "GET %s", path)
	}
	return l, ctx.Err()
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// getAuth sends a GET with the bearer token.
func getAuth(ctx context.Context, c *http.Client, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return c.Do(req)
}

// get reads the answer to its end (so the connection is reused) and fails
// on a status other than 200.
func get(ctx context.Context, c *http.Client, url, token string, w io.Writer) error {
	resp, err := getAuth(ctx, c, url, token)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if w == nil {
		w = io.Discard
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errcode.New(errcode.BenchHTTP, "GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// sseEvent is one event as a client read it: its key (the first tag's
// path and time), when it arrived and the oldest change it carried.
// Events list tags in the source's order, so an event holding a change of
// the source's first tag (the probe) starts with it: the probe's changes
// are followed to every client.
type sseEvent struct {
	key     string
	arrived time.Time
	oldest  time.Time
	probe   bool // the event starts with the source's first tag
}

// fanOut opens n event streams, lets them receive their first (full)
// event, then measures d of live updates.
func fanOut(ctx context.Context, c *http.Client, base, token, probe string, n int, d time.Duration) (SSEResult, error) {
	r := SSEResult{Clients: n}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg        sync.WaitGroup
		measure   atomic.Bool // rates: the window only
		record    atomic.Bool // delays: the window and a tail for late arrivals
		connected atomic.Int64
		ready     sync.WaitGroup
		events    atomic.Uint64
		updates   atomic.Uint64
		bytesIn   atomic.Uint64
		mu        sync.Mutex
		perClient = make([][]sseEvent, n)
		firstErr  error
	)
	ready.Add(n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			once := sync.OnceFunc(ready.Done)
			defer once()
			err := stream(sctx, c, base+"/api/v1/events/tags", token, func(data []byte, at time.Time) {
				once()
				if measure.Load() {
					events.Add(1)
					updates.Add(uint64(bytes.Count(data, []byte(`"path":`))))
					bytesIn.Add(uint64(len(data)))
				}
				if !record.Load() {
					return
				}
				if ev, ok := eventOf(data, at, probe); ok {
					perClient[i] = append(perClient[i], ev)
				}
			}, func() { connected.Add(1) })
			if err != nil && sctx.Err() == nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
	}
	waited := make(chan struct{})
	go func() { ready.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	r.Connected = int(connected.Load())
	record.Store(true)
	measure.Store(true)
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	measure.Store(false)
	el := time.Since(t0)
	end := time.Now()
	// Changes sampled in the window still travel: give them time to arrive.
	select {
	case <-time.After(min(3*time.Second, 2*d)):
	case <-ctx.Done():
	}
	record.Store(false)
	cancel()
	wg.Wait()
	if r.Connected == 0 && firstErr != nil {
		return r, errcode.Wrap(errcode.BenchHTTP, firstErr, "event streams")
	}
	r.EventsPerSec = float64(events.Load()) / el.Seconds()
	r.TagUpdatesPerSec = float64(updates.Load()) / el.Seconds()
	r.MBPerSec = float64(bytesIn.Load()) / el.Seconds() / 1e6
	var delays, all []time.Duration
	type agg struct {
		last   time.Time
		oldest time.Time
		n      int
	}
	byKey := map[string]*agg{}
	for _, evs := range perClient {
		for _, e := range evs {
			if e.oldest.Before(t0) || !e.oldest.Before(end) {
				continue // sampled outside the window
			}
			delays = append(delays, e.arrived.Sub(e.oldest))
			if !e.probe {
				continue
			}
			a := byKey[e.key]
			if a == nil {
				a = &agg{oldest: e.oldest}
				byKey[e.key] = a
			}
			a.n++
			if e.arrived.After(a.last) {
				a.last = e.arrived
			}
		}
	}
	for _, a := range byKey {
		if a.n == r.Connected {
			all = append(all, a.last.Sub(a.oldest))
		}
	}
	r.EventsAtAll = len(all)
	r.DelayP50MS, r.DelayP99MS = percentile(delays, 0.5), percentile(delays, 0.99)
	r.AllClientsP50MS, r.AllClientsP99MS = percentile(all, 0.5), percentile(all, 0.99)
	return r, nil
}

// stream reads an event stream until ctx ends, calling onData with each
// event's data and the time it was read.
func stream(ctx context.Context, c *http.Client, url, token string, onData func([]byte, time.Time), onOpen func()) error {
	resp, err := getAuth(ctx, c, url, token)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errcode.New(errcode.BenchHTTP, "GET %s: status %d", url, resp.StatusCode)
	}
	onOpen()
	br := bufio.NewReaderSize(resp.Body, 1<<16)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long data line: gather it whole.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			return err
		}
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			onData(data, time.Now())
		}
	}
}

// eventOf finds an event's key and the oldest of its first and last
// tags' times, without decoding the whole event (the clients share the
// machine with the server).
func eventOf(data []byte, at time.Time, probe string) (sseEvent, bool) {
	const tk = `"time":"`
	i := bytes.Index(data, []byte(tk))
	j := bytes.LastIndex(data, []byte(tk))
	if i < 0 {
		return sseEvent{}, false
	}
	first, ok1 := timeAt(data, i+len(tk))
	last, ok2 := timeAt(data, j+len(tk))
	if !ok1 || !ok2 {
		return sseEvent{}, false
	}
	e := sseEvent{key: string(data[:min(i+len(tk)+40, len(data))]), arrived: at, oldest: first,
		probe: bytes.HasPrefix(data, []byte(`[{"path":"`+probe+`"`))}
	if last.Before(first) {
		e.oldest = last
	}
	return e, true
}

func timeAt(b []byte, at int) (time.Time, bool) {
	end := bytes.IndexByte(b[at:], '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[at:at+end]))
	return t, err == nil
}

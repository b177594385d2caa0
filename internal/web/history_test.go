package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/web"
)

// Responses as a client decodes them: model.Value and integrity.Hash
// encode to JSON but do not decode.
type point struct {
	T time.Time `json:"t"`
	V any       `json:"v"`
	Q string    `json:"q"`
}

type series struct {
	Tag    string  `json:"tag"`
	Points []point `json:"points"`
}

type latestResp struct {
	Values []struct {
		Tag string `json:"tag"`
		point
	} `json:"values"`
}

type rawResp struct {
	Series     []series `json:"series"`
	NextCursor string   `json:"next_cursor"`
}

type aggResp struct {
	Series []struct {
		Buckets []struct {
			Values []point `json:"values"`
		} `json:"buckets"`
	} `json:"series"`
}

type atResp struct {
	Values []point `json:"values"`
}

type report struct {
	OK         bool `json:"ok"`
	Recomputed bool `json:"recomputed"`
	Ranges     []struct {
		Status string `json:"status"`
		Tag    string `json:"tag"`
	} `json:"ranges"`
	Summary integrity.Summary `json:"summary"`
}

type noSource struct{}

func (noSource) Tags() []web.Tag { return nil }
func (noSource) Devices() any    { return nil }

// t0 is the start of the test data: 1000 samples per tag, one per second.
var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

const perTag = 1000

// openHistory writes two tags into a real embedded store with an
// integrity log (chunks of 100 samples, so most of it is sealed).
func openHistory(t *testing.T) *app.History {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Historian{Backend: config.HistorianEmbedded, TimePrecision: config.Duration(time.Millisecond), Sync: "batch"}
	h, err := app.OpenHistory(context.Background(), dir, cfg, app.HistoryOptions{Log: app.LogWrite, MaxChunkSamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	var batch []model.Sample
	for i := 0; i < perTag; i++ {
		ts := t0.Add(time.Duration(i) * time.Second).UnixNano()
		batch = append(batch,
			model.Sample{Tag: "acme/l1/press/temp", Source: ts, Server: ts, Quality: model.Good, Value: model.FloatValue(model.Float64, 20+float64(i%50)/10)},
			model.Sample{Tag: "acme/l1/press/count", Source: ts, Server: ts, Quality: model.Good, Value: model.IntValue(model.Int64, int64(i))})
	}
	if err := h.Store.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(t *testing.T, h *app.History) *httptest.Server {
	t.Helper()
	opts := web.Options{Listen: "127.0.0.1:0", Source: noSource{}, Auth: testAuth().svc}
	if h != nil {
		opts.History, opts.Integrity = h.Query, h
	}
	srv := httptest.NewServer(web.New(opts).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string, q url.Values, out any) (int, map[string]string) {
	t.Helper()
	u := srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := authGet(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: status %d with a body that is not a JSON error: %s", u, resp.StatusCode, body)
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v: %s", u, err, body)
		}
	}
	return resp.StatusCode, nil
}

func TestHistoryRoutes(t *testing.T) {
	h := openHistory(t)
	srv := serve(t, h)
	from, to := t0.Format(time.RFC3339), t0.Add(perTag*time.Second).Format(time.RFC3339)

	var latest latestResp
	if st, e := get(t, srv, "/api/v1/history/latest", url.Values{"tags": {"acme/l1/*/*"}}, &latest); st != 200 {
		t.Fatalf("latest: %d %v", st, e)
	}
	if len(latest.Values) != 2 {
		t.Fatalf("latest: %+v", latest)
	}
	for _, v := range latest.Values {
		if !v.T.Equal(t0.Add((perTag - 1) * time.Second)) {
			t.Errorf("latest of %s at %s", v.Tag, v.T)
		}
	}

	// Raw, paged: every sample once, in order, over pages of 300.
	got, cursor := 0, ""
	for page := 0; page < 20; page++ {
		q := url.Values{"tags": {"acme/l1/press/temp,acme/l1/press/count"}, "from": {from}, "to": {to}, "limit": {"300"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var raw rawResp
		if st, e := get(t, srv, "/api/v1/history/raw", q, &raw); st != 200 {
			t.Fatalf("raw: %d %v", st, e)
		}
		for _, s := range raw.Series {
			got += len(s.Points)
		}
		if cursor = raw.NextCursor; cursor == "" {
			break
		}
	}
	if got != 2*perTag {
		t.Fatalf("raw pages held %d samples, want %d", got, 2*perTag)
	}

	var agg aggResp
	q := url.Values{"tags": {"acme/l1/press/count"}, "from": {from}, "to": {to}, "buckets": {"10"}, "aggregates": {"count,min,max"}}
	if st, e := get(t, srv, "/api/v1/history/aggregate", q, &agg); st != 200 {
		t.Fatalf("aggregate: %d %v", st, e)
	}
	if len(agg.Series) != 1 || len(agg.Series[0].Buckets) != 10 {
		t.Fatalf("aggregate: %+v", agg)
	}
	b := agg.Series[0].Buckets[3]
	if b.Values[0].V != 100.0 || b.Values[1].V != 300.0 || b.Values[2].V != 399.0 {
		t.Errorf("bucket 3: count %v min %v max %v, want 100 300 399", b.Values[0].V, b.Values[1].V, b.Values[2].V)
	}

	var at atResp
	if st, e := get(t, srv, "/api/v1/history/at", url.Values{"tags": {"acme/l1/press/count"}, "time": {t0.Add(10500 * time.Millisecond).Format(time.RFC3339Nano)}}, &at); st != 200 {
		t.Fatalf("at: %d %v", st, e)
	}
	if len(at.Values) != 1 || at.Values[0].V != 10.0 {
		t.Errorf("at 10.5 s: %+v", at)
	}

	var plot rawResp
	if st, e := get(t, srv, "/api/v1/history/plot", url.Values{"tags": {"acme/l1/press/temp"}, "from": {from}, "to": {to}, "width": {"50"}, "method": {"lttb"}}, &plot); st != 200 {
		t.Fatalf("plot: %d %v", st, e)
	}
	if len(plot.Series) != 1 || len(plot.Series[0].Points) == 0 || len(plot.Series[0].Points) > 50 {
		t.Errorf("plot: %d points", len(plot.Series[0].Points))
	}

	// POST with the JSON request.
	resp, err := authPost(srv.URL+"/api/v1/history/latest", "application/json", strings.NewReader(`{"tags":["acme/l1/press/count"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var pl latestResp
	json.NewDecoder(resp.Body).Decode(&pl)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(pl.Values) != 1 || pl.Values[0].V != float64(perTag-1) {
		t.Errorf("POST latest: %d %+v", resp.StatusCode, pl)
	}
}

func TestHistoryErrors(t *testing.T) {
	h := openHistory(t)
	srv := serve(t, h)
	for _, c := range []struct {
		path string
		q    url.Values
		code string
		st   int
	}{
		{"/api/v1/history/raw", url.Values{"tags": {"acme/l1/press/temp"}, "from": {"yesterday"}}, "OTL-5200", 400},
		{"/api/v1/history/raw", url.Values{"tags": {"acme/l1/press/temp"}, "from": {"now"}, "to": {"now-1h"}}, "OTL-5201", 400},
		{"/api/v1/history/aggregate", url.Values{"tags": {"acme/l1/press/temp"}, "aggregates": {"median"}}, "OTL-5202", 400},
		{"/api/v1/history/latest", url.Values{"tags": {"nomatch/*"}}, "OTL-5205", 400},
		{"/api/v1/history/raw", url.Values{"tags": {"acme/l1/press/temp"}, "limit": {"ten"}}, "OTL-5207", 400},
		{"/api/v1/integrity", url.Values{"from": {"bad time"}}, "OTL-5200", 400},
	} {
		st, e := get(t, srv, c.path, c.q, nil)
		if st != c.st || e["code"] != c.code || e["message"] == "" {
			t.Errorf("%s?%s: %d %v, want %d %s", c.path, c.q.Encode(), st, e, c.st, c.code)
		}
	}
	resp, _ := authPost(srv.URL+"/api/v1/history/raw", "application/json", strings.NewReader(`{"tags":`))
	if resp.StatusCode != 400 {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// A failing backend is a 500 with 5208.
	h.Store.Close()
	st, e := get(t, srv, "/api/v1/history/raw", url.Values{"tags": {"acme/l1/press/temp"}, "from": {t0.Format(time.RFC3339)}, "to": {"now"}}, nil)
	if st != 500 || e["code"] != "OTL-5208" {
		t.Errorf("closed store: %d %v", st, e)
	}

	// No historian: 503.
	off := serve(t, nil)
	if st, e := get(t, off, "/api/v1/history/latest", url.Values{"tags": {"x"}}, nil); st != 503 || e["code"] != "OTL-6010" {
		t.Errorf("history off: %d %v", st, e)
	}
	if st, e := get(t, off, "/api/v1/integrity", nil, nil); st != 503 || e["code"] != "OTL-6010" {
		t.Errorf("integrity off: %d %v", st, e)
	}
}

// TestIntegrityRoute verifies a clean store: the chunks re-read through
// Raw hash to what the store logged, so every range is verified.
func TestIntegrityRoute(t *testing.T) {
	h := openHistory(t)
	srv := serve(t, h)
	var rep report
	if st, e := get(t, srv, "/api/v1/integrity", nil, &rep); st != 200 {
		t.Fatalf("integrity: %d %v", st, e)
	}
	if !rep.OK || !rep.Recomputed || rep.Summary.Chunks < 18 || rep.Summary.Tampered != 0 {
		t.Fatalf("clean store: %+v", rep)
	}
	// Selected by tag and time: only that tag's chunks in range.
	var part report
	q := url.Values{"tags": {"acme/l1/press/count"}, "from": {t0.Add(200 * time.Second).Format(time.RFC3339)}, "to": {t0.Add(450 * time.Second).Format(time.RFC3339)}}
	if st, e := get(t, srv, "/api/v1/integrity", q, &part); st != 200 {
		t.Fatalf("integrity: %d %v", st, e)
	}
	if !part.OK || part.Summary.Chunks < 2 || part.Summary.Chunks > 4 {
		t.Errorf("selected: %d chunks, ok %v", part.Summary.Chunks, part.OK)
	}
	for _, r := range part.Ranges {
		if r.Tag != "acme/l1/press/count" {
			t.Errorf("range of %s selected", r.Tag)
		}
	}

	// Checkpoint and bundle; the bundle verifies offline.
	resp, err := authGet(srv.URL + "/api/v1/integrity/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	note, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := integrity.ParseCheckpoint(note, h.Log.VerifierKey()); err != nil {
		t.Fatalf("checkpoint: %v: %s", err, note)
	}
	resp, err = authGet(srv.URL + "/api/v1/integrity/bundle?tags=acme/l1/press/temp")
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	brep, err := integrity.VerifyBundle(strings.NewReader(string(bundle)), h.Log.VerifierKey())
	if err != nil || !brep.OK || brep.Summary.Chunks < 9 {
		t.Fatalf("bundle: %v %+v", err, brep)
	}
}

// TestRecomputeMatchesLedger checks that re-reading an entry's chunk by
// its key gives the hash the store logged, and that another chunk does not.
func TestRecomputeMatchesLedger(t *testing.T) {
	h := openHistory(t)
	n := h.Log.Size()
	if n < 18 {
		t.Fatalf("%d entries", n)
	}
	for i := uint64(0); i < n; i++ {
		e, err := h.Log.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.Recompute(context.Background(), e)
		if err != nil || got != e.DataHash {
			t.Fatalf("entry %d (%s %s..%s): %v, hash %s want %s", i, e.Tag, e.From, e.To, err, got, e.DataHash)
		}
		other, err := h.Log.Entry((i + 1) % n)
		if err != nil {
			t.Fatal(err)
		}
		e.Key = other.Key // the same tag and range cannot save a swapped chunk
		if got, _ := h.Recompute(context.Background(), e); got == e.DataHash {
			t.Fatalf("entry %d: another chunk hashes the same", i)
		}
	}
}

// TestWitness sends node A's signed checkpoint to node B, which anchors it
// in its own log after checking A's signature; a forged or unsigned
// checkpoint is refused.
func TestWitness(t *testing.T) {
	a, b := openHistory(t), openHistory(t)
	srvA, srvB := serve(t, a), serve(t, b)
	resp, err := authGet(srvA.URL + "/api/v1/integrity/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	note, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	post := func(body []byte, key string) (int, map[string]any) {
		u := srvB.URL + "/api/v1/integrity/witness"
		if key != "" {
			u += "?key=" + url.QueryEscape(key)
		}
		resp, err := authPost(u, "text/plain", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	before := b.Log.Size()
	if st, m := post(note, a.Log.VerifierKey()); st != 200 || m["origin"] != a.Log.Origin() {
		t.Fatalf("witness: %d %v", st, m)
	}
	if b.Log.Size() != before+1 {
		t.Fatalf("B's log grew from %d to %d, want one witness entry", before, b.Log.Size())
	}
	if st, m := post(note, ""); st != 400 || m["code"] != "OTL-6012" {
		t.Fatalf("no key: %d %v", st, m)
	}
	if st, _ := post(note, b.Log.VerifierKey()); st != 400 {
		t.Fatalf("checkpoint accepted with the wrong key: %d", st)
	}
	forged := []byte(strings.Replace(string(note), "\n", "\n\n", 1))
	if st, _ := post(forged, a.Log.VerifierKey()); st != 400 {
		t.Fatalf("forged checkpoint accepted: %d", st)
	}
}

// testAuth is one auth store for the package's tests, with an admin token
// that every request of these tests carries.
var testAuth = sync.OnceValue(func() (a struct {
	svc   *auth.Service
	token string
}) {
	dir, err := os.MkdirTemp("", "otlink-web-test-")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	a.svc, err = auth.Open(ctx, filepath.Join(dir, "auth.db"), auth.Options{Argon2: auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	if _, err := a.svc.CreateUser(ctx, "root", "correct horse battery staple", []string{auth.RoleAdmin}, nil); err != nil {
		panic(err)
	}
	if a.token, _, err = a.svc.CreateToken(ctx, "root", "test", auth.AllPerms, nil, time.Hour); err != nil {
		panic(err)
	}
	return a
})

func authGet(u string) (*http.Response, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testAuth().token)
	return http.DefaultClient.Do(req)
}

func authPost(u, ct string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest("POST", u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+testAuth().token)
	return http.DefaultClient.Do(req)
}

// TestHistoryScoped: a principal with history.read and history.export on a
// part of the plant queries and exports the tags under its scope only; a
// tag outside is not found, patterns keep only what it may read, and the
// plant-wide integrity report stays refused.
func TestHistoryScoped(t *testing.T) {
	h := openHistory(t)
	ctx := context.Background()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	const scope = "acme/l1/press/temp"
	if _, err := svc.CreateUser(ctx, "erin", "correct horse battery staple", []string{auth.RoleEngineer}, []string{scope}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, "erin", "scoped", []string{auth.PermHistoryRead, auth.PermHistoryExport, auth.PermIntegrityRead}, []string{scope}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Options{Listen: "127.0.0.1:0", Source: noSource{}, Auth: svc, History: h.Query, Integrity: h}).Handler())
	t.Cleanup(srv.Close)
	getAs := func(path string, q url.Values, out any) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			var e map[string]string
			json.Unmarshal(body, &e)
			return resp.StatusCode, e["code"]
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return 200, ""
	}
	from, to := t0.Format(time.RFC3339), t0.Add(perTag*time.Second).Format(time.RFC3339)

	// The tag in scope.
	var latest latestResp
	if st, code := getAs("/api/v1/history/latest", url.Values{"tags": {scope}}, &latest); st != 200 || len(latest.Values) != 1 || latest.Values[0].V != 20+float64((perTag-1)%50)/10 {
		t.Fatalf("latest in scope: %d %s %+v", st, code, latest)
	}
	// Outside, alone or next to one in scope, existing or not: not found.
	for _, tags := range []string{"acme/l1/press/count", scope + ",acme/l1/press/count", "acme/l2/nosuch/tag"} {
		for _, route := range []string{"latest", "raw", "at", "plot"} {
			if st, code := getAs("/api/v1/history/"+route, url.Values{"tags": {tags}, "from": {from}, "to": {to}}, nil); st != 404 || code != "OTL-6001" {
				t.Errorf("%s of %s: %d %s, want 404 OTL-6001", route, tags, st, code)
			}
		}
	}
	// Patterns over the plant keep only the tag in scope.
	var agg struct {
		Series []struct {
			Tag string `json:"tag"`
		} `json:"series"`
	}
	if st, code := getAs("/api/v1/history/aggregate", url.Values{"tags": {"acme/*/*/*"}, "from": {from}, "to": {to}, "aggregates": {"count"}}, &agg); st != 200 || len(agg.Series) != 1 || agg.Series[0].Tag != scope {
		t.Fatalf("aggregate over acme/*/*/*: %d %s %+v", st, code, agg)
	}
	if st, code := getAs("/api/v1/history/latest", url.Values{"tags": {"acme/l1/press/c*"}}, nil); st != 404 {
		t.Errorf("pattern matching only outside the scope: %d %s", st, code)
	}
	// POST narrows the same way.
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/history/latest", strings.NewReader(`{"tags":["acme/l1/press/count"]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("POST outside the scope: %v %v", err, resp.StatusCode)
	} else {
		resp.Body.Close()
	}

	// Exports: a bundle of the tag in scope; of a pattern reaching out of
	// it, or of the whole plant, not found.
	if st, code := getAs("/api/v1/integrity/bundle", url.Values{"tags": {scope}}, nil); st != 200 {
		t.Errorf("bundle in scope: %d %s", st, code)
	}
	for _, g := range []string{"acme/l1/*/*", ""} {
		if st, code := getAs("/api/v1/integrity/bundle", url.Values{"tags": {g}}, nil); st != 404 {
			t.Errorf("bundle of %q: %d %s", g, st, code)
		}
	}
	// The integrity report covers the whole log: plant-wide only.
	if st, _ := getAs("/api/v1/integrity", url.Values{}, nil); st != 403 {
		t.Errorf("integrity report for a scoped principal: %d", st)
	}
}

// mutSource is a source whose values a test changes.
type mutSource struct {
	mu   sync.Mutex
	tags []web.Tag
}

func (m *mutSource) Tags() []web.Tag {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]web.Tag(nil), m.tags...)
}
func (m *mutSource) Devices() any { return nil }

// TestTagsPages: /api/v1/tags pages in path order with limit and after,
// "next" until the last page, within the principal's scope; the full list
// keeps its shape and a changed value shows in the next request.
func TestTagsPages(t *testing.T) {
	src := &mutSource{}
	for i := 0; i < 25; i++ { // 15 under line a, 10 under line b, out of path order
		line := "a"
		if i%5 >= 3 {
			line = "b"
		}
		src.tags = append(src.tags, web.Tag{Path: fmt.Sprintf("acme/%s/m%02d/x", line, 24-i), Value: model.IntValue(model.Int64, int64(i)), Quality: model.Good})
	}
	ctx := context.Background()
	svc, err := auth.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), auth.Options{Argon2: auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	toks := map[string]string{}
	for _, u := range []struct{ name, scope string }{{"vera", auth.ScopeAll}, {"liam", "acme/a"}} {
		if _, err := svc.CreateUser(ctx, u.name, "correct horse battery staple", []string{auth.RoleViewer}, []string{u.scope}); err != nil {
			t.Fatal(err)
		}
		if toks[u.name], _, err = svc.CreateToken(ctx, u.name, "t", []string{auth.PermTagsRead}, []string{u.scope}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(web.New(web.Options{Listen: "127.0.0.1:0", Source: src, Auth: svc}).Handler())
	t.Cleanup(srv.Close)
	type page struct {
		Tags []struct {
			Path  string `json:"path"`
			Value any    `json:"value"`
		} `json:"tags"`
		Next *string `json:"next"`
	}
	getPage := func(tok, q string) (int, page) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/tags?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p page
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, p
	}
	walk := func(tok string, limit int) []string {
		var paths []string
		q := fmt.Sprintf("limit=%d", limit)
		for i := 0; i < 30; i++ {
			st, p := getPage(tok, q)
			if st != 200 || len(p.Tags) > limit {
				t.Fatalf("page %q: %d, %d tags", q, st, len(p.Tags))
			}
			for _, tg := range p.Tags {
				paths = append(paths, tg.Path)
			}
			if p.Next == nil {
				return paths
			}
			if *p.Next != p.Tags[len(p.Tags)-1].Path {
				t.Fatalf("next %q is not the page's last path", *p.Next)
			}
			q = fmt.Sprintf("limit=%d&after=%s", limit, url.QueryEscape(*p.Next))
		}
		t.Fatal("pages do not end")
		return nil
	}
	all := walk(toks["vera"], 10)
	if len(all) != 25 || !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != 25 {
		t.Fatalf("pages of 10 over 25 tags: %v", all)
	}
	if got := walk(toks["vera"], 25); len(got) != 25 {
		t.Errorf("one exact page: %d tags", len(got))
	}
	scoped := walk(toks["liam"], 4)
	if len(scoped) != 15 {
		t.Errorf("scoped pages: %d tags, want the 15 under acme/a", len(scoped))
	}
	for _, p := range scoped {
		if !strings.HasPrefix(p, "acme/a/") {
			t.Errorf("scoped page shows %s", p)
		}
	}
	for _, q := range []string{"limit=0", "limit=x", "after=acme", "limit=10001"} {
		if st, _ := getPage(toks["vera"], q); st != 400 {
			t.Errorf("%s: %d, want 400", q, st)
		}
	}
	// The full list: every tag, the source's order, no next.
	st, p := getPage(toks["vera"], "")
	if st != 200 || len(p.Tags) != 25 || p.Tags[0].Path != src.tags[0].Path || p.Next != nil {
		t.Fatalf("full list: %d %+v", st, p)
	}
	// A change is seen by the next request (the shared snapshot is read
	// after the request arrived).
	src.mu.Lock()
	src.tags[0].Value = model.IntValue(model.Int64, 4242)
	src.mu.Unlock()
	if _, p = getPage(toks["vera"], "prefix="+url.QueryEscape(src.tags[0].Path)); len(p.Tags) != 1 || p.Tags[0].Value != 4242.0 {
		t.Errorf("changed value: %+v", p.Tags)
	}
}

package web

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// liveSource is a Source whose tags a test changes.
type liveSource struct {
	mu   sync.Mutex
	tags []Tag
}

func (l *liveSource) Tags() []Tag {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Tag(nil), l.tags...)
}
func (l *liveSource) Devices() any { return nil }

func (l *liveSource) set(path string, v float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.tags {
		if l.tags[i].Path == path {
			l.tags[i].Value = model.FloatValue(model.Float64, v)
			l.tags[i].Time = l.tags[i].Time.Add(time.Second)
		}
	}
}

// wireTag is Tag as a client decodes it.
type wireTag struct {
	Path    string    `json:"path"`
	Value   any       `json:"value"`
	Quality string    `json:"quality"`
	Time    time.Time `json:"time"`
	Unit    string    `json:"unit"`
	Code    string    `json:"code"`
}

func liveServer(t *testing.T, f *authFixture, src Source) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Options{Source: src, Auth: f.svc, Logger: slog.New(slog.DiscardHandler)})
	s.ssePoll = 10 * time.Millisecond
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// stream opens the event stream and returns a function reading its next
// tags event.
func stream(t *testing.T, ts *httptest.Server, path, tok string) (*http.Response, func() []wireTag) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	br := bufio.NewReader(resp.Body)
	next := func() []wireTag {
		t.Helper()
		event := ""
		for range 1000 {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if event != "tags" {
					t.Fatalf("data of event %q", event)
				}
				var tags []wireTag
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &tags); err != nil {
					t.Fatalf("event data %q: %v", line, err)
				}
				return tags
			}
		}
		t.Fatal("no event in 1000 lines")
		return nil
	}
	return resp, next
}

func TestTagEvents(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	t0 := time.Unix(1700000000, 0).UTC()
	src := &liveSource{tags: []Tag{
		{Path: "acme/a/m1/x", Value: model.FloatValue(model.Float64, 1), Quality: model.Good, Time: t0},
		{Path: "acme/a/m1/y", Value: model.FloatValue(model.Float64, 2), Quality: model.Good, Time: t0},
		{Path: "acme/b/m2/z", Value: model.FloatValue(model.Float64, 3), Quality: model.Good, Time: t0},
	}}
	s, ts := liveServer(t, f, src)

	resp, next := stream(t, ts, "/api/v1/events/tags", f.scopedV)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	first := next()
	if len(first) != 2 || first[0].Path != "acme/a/m1/x" || first[1].Path != "acme/a/m1/y" {
		t.Fatalf("initial set of a viewer scoped to acme/a: %+v", first)
	}
	// A change out of scope is not sent; the one in scope is, alone.
	src.set("acme/b/m2/z", 30)
	src.set("acme/a/m1/y", 20)
	got := next()
	if len(got) != 1 || got[0].Path != "acme/a/m1/y" || got[0].Value != 20.0 || !got[0].Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("change event: %+v", got)
	}

	// The prefix narrows the stream.
	_, nextP := stream(t, ts, "/api/v1/events/tags?prefix=acme/b/", f.viewer)
	if got := nextP(); len(got) != 1 || got[0].Path != "acme/b/m2/z" {
		t.Fatalf("prefix acme/b/: %+v", got)
	}

	// The bound: with one slot taken (two streams are open), the next
	// stream is refused with a code.
	s.streams = make(streamLimit, 1)
	s.streams <- struct{}{}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/events/tags", nil)
	req.Header.Set("Authorization", "Bearer "+f.viewer)
	r, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code string }
	json.NewDecoder(r.Body).Decode(&e)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable || e.Code != codeStreamsFull.String() {
		t.Fatalf("over the bound: %d %+v", r.StatusCode, e)
	}
}

// TestTagEventsEndWithClient: a stream whose client goes frees its slot.
func TestTagEventsEndWithClient(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	src := &liveSource{tags: []Tag{{Path: "acme/a/m1/x", Quality: model.Good}}}
	s, ts := liveServer(t, f, src)
	resp, next := stream(t, ts, "/api/v1/events/tags", f.viewer)
	next()
	if len(s.streams) != 1 {
		t.Fatalf("%d streams counted while one is open", len(s.streams))
	}
	resp.Body.Close()
	for i := 0; len(s.streams) != 0; i++ {
		if i == 500 {
			t.Fatal("the stream's slot was not freed after its client went")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pageBody(t *testing.T, ts *httptest.Server, path, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMachinePage(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	src := &liveSource{tags: []Tag{
		{Path: "acme/a/m1/speed", Value: model.FloatValue(model.Float64, 12.5), Quality: model.Good, Unit: "rpm", Time: time.Unix(1700000000, 0)},
		// A path segment cannot hold "/": the script goes in the unit.
		{Path: `acme/a/m1/"><img src=x onerror=alert(2)>`, Quality: model.BadTimeout, Code: "OTL-2102", Unit: "<script>alert(1)</script>"},
		{Path: "acme/a/m1/sub/deeper", Quality: model.Good},
		{Path: "acme/b/m2/secret", Quality: model.Good},
	}}
	_, ts := liveServer(t, f, src)

	code, body := pageBody(t, ts, "/machines/acme/a/m1", f.scopedV)
	if code != 200 {
		t.Fatalf("machine page: %d %s", code, body)
	}
	for _, want := range []string{`data-path="acme/a/m1/speed"`, "12.5", "rpm", "BadTimeout", "OTL-2102",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;", `src="/static/machine.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("machine page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "acme/a/m1/sub/deeper", "secret"} {
		if strings.Contains(body, bad) {
			t.Errorf("machine page contains %q", bad)
		}
	}
	// Every script is a file of the server: the CSP forbids inline ones.
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(m, `src="/static/`) {
			t.Errorf("inline script %s", m)
		}
	}
	// Out of the viewer's scope: not found, like a machine that is not.
	for _, p := range []string{"/machines/acme/b/m2", "/machines/acme/nosuch", "/machines/acme/a"} {
		if code, _ := pageBody(t, ts, p, f.scopedV); code != 404 {
			t.Errorf("%s for a viewer scoped to acme/a: %d, want 404", p, code)
		}
	}
	if code, _ := pageBody(t, ts, "/machines/acme/b/m2", f.viewer); code != 200 {
		t.Errorf("acme/b/m2 for a plant-wide viewer: %d", code)
	}
	// The home page links the machines, escaped.
	code, body = pageBody(t, ts, "/", f.scopedV)
	if code != 200 || !strings.Contains(body, `href="/machines/acme/a/m1"`) || strings.Contains(body, "acme/b/m2") {
		t.Errorf("home: %d %s", code, body)
	}
	// The script the page loads is served.
	if code, js := pageBody(t, ts, "/static/machine.js", f.viewer); code != 200 || !strings.Contains(js, "EventSource") {
		t.Errorf("machine.js: %d", code)
	}
}

// TestOpenAPI checks the document against the route table: the same
// /api/v1 routes and methods both ways, references that resolve, and
// examples that decode into what the server sends.
func TestOpenAPI(t *testing.T) {
	f := newAuthFixture(t, auth.Options{LoginBurst: 1000})
	s := New(Options{Source: fakeSource{}, Auth: f.svc})
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	routes := map[string]bool{}
	for _, rt := range s.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		routes[strings.ToLower(method)+" "+path] = true
		item, _ := paths[path].(map[string]any)
		op, ok := item[strings.ToLower(method)].(map[string]any)
		if !ok {
			t.Errorf("%s is not documented", rt.Pattern)
			continue
		}
		resp, _ := op["responses"].(map[string]any)
		if resp["200"] == nil || resp["401"] == nil || resp["403"] == nil {
			t.Errorf("%s: responses 200, 401 and 403 are required, have %v", rt.Pattern, resp)
		}
	}
	for path, item := range paths {
		for method := range item.(map[string]any) {
			if !routes[method+" "+path] {
				t.Errorf("documented %s %s is not a route", method, path)
			}
		}
	}
	if len(routes) < 15 {
		t.Fatalf("only %d api routes", len(routes))
	}
	// Every $ref resolves; every error example has a registered code;
	// the tags example decodes into the server's type.
	codeRE := regexp.MustCompile(`^OTL-[0-9]{4}$`)
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					cur, _ = cur.(map[string]any)[seg]
				}
				if cur == nil {
					t.Errorf("%s: $ref %s does not resolve", where, ref)
				}
			}
			if ex, ok := v["example"].(map[string]any); ok {
				if c, ok := ex["code"].(string); ok {
					n, ok := errcode.Parse(c)
					if _, known := errcode.Lookup(n); !ok || !codeRE.MatchString(c) || !known {
						t.Errorf("%s: example code %s is not a registered code", where, c)
					}
				}
			}
			for k, x := range v {
				walk(x, where+"/"+k)
			}
		case []any:
			for _, x := range v {
				walk(x, where)
			}
		}
	}
	walk(doc, "#")
	ex := paths["/api/v1/tags"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["example"]
	b, _ := json.Marshal(ex)
	var tags struct {
		Tags []wireTag
		Next string // the page cursor, with limit
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tags); err != nil || len(tags.Tags) == 0 || tags.Tags[0].Quality != model.Good.String() {
		t.Errorf("tags example does not decode into Tag: %v %+v", err, tags)
	}
	// Served to a reader, as the embedded file.
	code, body := pageBody(t, f.srv, "/api/v1/openapi.json", f.viewer)
	if code != 200 || body != string(openAPIDoc) {
		t.Errorf("GET /api/v1/openapi.json: %d", code)
	}
}

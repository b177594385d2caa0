package agent

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/mtconnect"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func testDevice() mtconnect.Component {
	d := mtconnect.NewComponent("Device", "d1", "mill")
	d.UUID = "u-mill"
	d.SetItems([]mtconnect.DataItem{{ID: "avail", Category: mtconnect.Event, Type: "AVAILABILITY"}})
	c := mtconnect.NewComponent("Controller", "ctrl", "controller")
	c.SetItems([]mtconnect.DataItem{
		{ID: "speed", Category: mtconnect.Sample, Type: "ROTARY_VELOCITY", Units: "REVOLUTION/MINUTE"},
		{ID: "exec", Category: mtconnect.Event, Type: "EXECUTION"},
		{ID: "sys", Category: mtconnect.Condition, Type: "SYSTEM"},
	})
	d.SetChildren([]mtconnect.Component{c})
	return d
}

func newAgent(t *testing.T, size int) (*Agent, *httptest.Server) {
	t.Helper()
	a, err := New([]mtconnect.Component{testDevice()}, Options{BufferSize: size, InstanceID: 42, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { a.Close(); srv.Close() })
	return a, srv
}

func get(t *testing.T, url string) (int, *mtconnect.Doc) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, err := mtconnect.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v\n%s", url, err, b)
	}
	return resp.StatusCode, doc
}

func TestSequencesDenseAndBounded(t *testing.T) {
	a, srv := newAgent(t, 8)
	// Four items start UNAVAILABLE: sequences 1..4.
	if first, next := a.Sequences(); first != 1 || next != 5 {
		t.Fatalf("start %d %d", first, next)
	}
	for i := 0; i < 10; i++ {
		if err := a.Add(Update{ID: "speed", Value: fmt.Sprint(i * 100), Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Add(Update{ID: "speed", Value: "900", Time: t0}) // unchanged: not repeated
	if err := a.Add(Update{ID: "nope", Value: "1"}); errcode.Of(err) != errcode.MTConnectAgentOverflow || a.Dropped() != 1 {
		t.Fatalf("unknown item: %v", err)
	}
	first, next := a.Sequences()
	if next != 15 || first != 7 {
		t.Fatalf("after 10 adds to a buffer of 8: first %d next %d, want 7 15", first, next)
	}
	// A sample from first returns every sequence once, in order.
	_, doc := get(t, srv.URL+"/sample?from=7&count=8")
	var seqs []uint64
	doc.Streams.Each(func(_ *mtconnect.DeviceStream, _ string, o *mtconnect.Observation) { seqs = append(seqs, o.Sequence) })
	if len(seqs) != 8 || doc.Streams.Header.NextSequence != 15 || doc.Streams.Header.FirstSequence != 7 {
		t.Fatalf("seqs %v header %+v", seqs, doc.Streams.Header)
	}
	seen := map[uint64]bool{}
	for _, s := range seqs {
		seen[s] = true
	}
	for s := uint64(7); s < 15; s++ {
		if !seen[s] {
			t.Fatalf("sequence %d missing from %v", s, seqs)
		}
	}
	// From before the buffer: OUT_OF_RANGE.
	st, doc := get(t, srv.URL+"/sample?from=3")
	if doc.Kind != mtconnect.KindError || !doc.Error.Has(mtconnect.ErrOutOfRange) || st != http.StatusNotFound {
		t.Fatalf("from=3: %d %+v", st, doc)
	}
	// Current has every item, the latest value of speed.
	_, doc = get(t, srv.URL+"/mill/current")
	n := 0
	doc.Streams.Each(func(_ *mtconnect.DeviceStream, cat string, o *mtconnect.Observation) {
		n++
		if o.DataItemID == "speed" && (o.Value != "900" || o.Sequence != 14) {
			t.Errorf("current speed %+v", o)
		}
		if o.DataItemID == "sys" && (cat != mtconnect.Condition || o.Element() != "Unavailable" || o.Type != "SYSTEM") {
			t.Errorf("condition %s %+v", cat, o)
		}
	})
	if n != 4 {
		t.Fatalf("current has %d observations, want 4", n)
	}
}

func TestRequestErrors(t *testing.T) {
	_, srv := newAgent(t, 16)
	for path, code := range map[string]string{
		"/nodev/current":         mtconnect.ErrNoDevice,
		"/mill/bogus":            mtconnect.ErrInvalidURI,
		"/a/b/c":                 mtconnect.ErrInvalidURI,
		"/sample?from=x":         mtconnect.ErrQuery,
		"/sample?count=0":        mtconnect.ErrUnsupported,
		"/sample?count=17":       mtconnect.ErrOutOfRange,
		"/sample?from=99":        mtconnect.ErrOutOfRange,
		"/sample?heartbeat=1":    mtconnect.ErrQuery,
		"/current?at=x":          mtconnect.ErrQuery,
		"/current?at=0":          mtconnect.ErrOutOfRange,
		"/current?at=99":         mtconnect.ErrOutOfRange,
		"/current?path=//Axes":   mtconnect.ErrInvalidXPath, // selects nothing
		"/current?path=count(/)": mtconnect.ErrInvalidXPath,
		"/sample?path=//*[1]":    mtconnect.ErrInvalidXPath,
		"/probe?path=//Device":   mtconnect.ErrInvalidRequest,
	} {
		st, doc := get(t, srv.URL+path)
		if doc.Kind != mtconnect.KindError || !doc.Error.Has(code) || st < 400 {
			t.Errorf("%s: status %d, %+v; want %s", path, st, doc.Error, code)
		}
	}
	resp, err := http.Post(srv.URL+"/current", "text/xml", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	_, doc := get(t, srv.URL+"/probe")
	if doc.Kind != mtconnect.KindDevices || doc.Devices.Header.InstanceID != 42 || len(doc.Devices.List()) != 1 {
		t.Fatalf("probe %+v", doc)
	}
	if _, doc := get(t, srv.URL+"/assets"); doc.Kind != mtconnect.KindAssets {
		t.Fatalf("assets %+v", doc)
	}
}

func TestStream(t *testing.T) {
	a, srv := newAgent(t, 1024)
	resp, err := http.Get(srv.URL + "/sample?from=5&interval=0&heartbeat=50")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	boundary, ok := mtconnect.Boundary(resp.Header.Get("Content-Type"))
	if !ok {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	pr := mtconnect.NewPartReader(resp.Body, boundary, 1<<20)
	// Nothing new: a heartbeat (a document without observations).
	b, err := pr.Next()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := mtconnect.Parse(b)
	if err != nil || doc.Kind != mtconnect.KindStreams || len(doc.Streams.Devices) != 0 || doc.Streams.Header.NextSequence != 5 {
		t.Fatalf("heartbeat %+v %v", doc, err)
	}
	for i := 0; i < 3; i++ {
		_ = a.Add(Update{ID: "exec", Value: fmt.Sprint("V", i)})
	}
	var got []string
	for len(got) < 3 {
		b, err := pr.Next()
		if err != nil {
			t.Fatal(err)
		}
		doc, err := mtconnect.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		doc.Streams.Each(func(_ *mtconnect.DeviceStream, _ string, o *mtconnect.Observation) {
			got = append(got, fmt.Sprint(o.Sequence, o.Value))
		})
	}
	if strings.Join(got, ",") != "5V0,6V1,7V2" {
		t.Fatalf("streamed %v", got)
	}
	a.Close()
	for i := 0; i < 100; i++ {
		if _, err := pr.Next(); err != nil {
			return // the stream ended with the agent
		}
	}
	t.Fatal("stream did not end after Close")
}

func TestNewRejects(t *testing.T) {
	dup := testDevice()
	if _, err := New([]mtconnect.Component{testDevice(), dup}, Options{}); errcode.Of(err) != errcode.MTConnectConfig {
		t.Fatalf("duplicate device: %v", err)
	}
	if _, err := New(nil, Options{BufferSize: 3}); errcode.Of(err) != errcode.MTConnectConfig {
		t.Fatalf("small buffer: %v", err)
	}
}

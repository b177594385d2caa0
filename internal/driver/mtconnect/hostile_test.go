package mtconnect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/mtconnect/agent"
)

const probeDoc = `<MTConnectDevices xmlns="urn:mtconnect.org:MTConnectDevices:2.0"><Header instanceId="1" bufferSize="10"/><Devices><Device id="d" name="m"><DataItems><DataItem id="x" category="SAMPLE" type="POSITION"/></DataItems></Device></Devices></MTConnectDevices>`

func TestHostileAgents(t *testing.T) {
	cases := map[string]struct {
		h    http.HandlerFunc
		code errcode.Code
		opts map[string]string
		sub  bool // the error shows in Subscribe, not Connect
	}{
		"huge probe": {func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<MTConnectDevices>"))
			for i := 0; i < 2000; i++ {
				w.Write([]byte(strings.Repeat("<x/>", 256)))
			}
		}, errcode.MTConnectTooLarge, map[string]string{"max_document": "65536"}, false},
		"malformed":    {func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<MTConnectDevices><Header")) }, errcode.MTConnectMalformed, nil, false},
		"not an agent": {func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 404) }, errcode.MTConnectHTTPStatus, nil, false},
		"no device": {func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.Write([]byte(`<MTConnectError><Errors><Error errorCode="NO_DEVICE">no m2</Error></Errors></MTConnectError>`))
		}, errcode.MTConnectNoDevice, nil, false},
		"stalled stream": {func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/probe"):
				w.Write([]byte(probeDoc))
			case strings.HasSuffix(r.URL.Path, "/current"):
				w.Write([]byte(`<MTConnectStreams><Header instanceId="1" nextSequence="3" firstSequence="1" lastSequence="2"/></MTConnectStreams>`))
			default:
				w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary=B")
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}
		}, errcode.MTConnectStalled, map[string]string{"heartbeat": "50ms"}, true},
		"huge part": {func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/probe"):
				w.Write([]byte(probeDoc))
			case strings.HasSuffix(r.URL.Path, "/current"):
				w.Write([]byte(`<MTConnectStreams><Header instanceId="1" nextSequence="3" firstSequence="1" lastSequence="2"/></MTConnectStreams>`))
			default:
				w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary=B")
				fmt.Fprintf(w, "--B\r\nContent-length: %d\r\n\r\n", 1<<40)
			}
		}, errcode.MTConnectTooLarge, nil, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			d := New()
			spec := driver.DeviceSpec{Name: "m", Endpoint: srv.URL + "/m", Timeout: 200 * time.Millisecond, Options: c.opts}
			cn, err := d.Open(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			err = cn.Connect(context.Background())
			if c.sub {
				if err != nil {
					t.Fatal(err)
				}
				its := items(t, d, spec, driver.TagSpec{Name: "x", Address: "x", Type: model.Float64})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = cn.(driver.Subscriber).Subscribe(ctx, its, func(driver.Update) {})
			}
			if errcode.Of(err) != c.code {
				t.Fatalf("want %s, got %v", c.code, err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestAgainstOwnAgent is the round trip: otlink's agent serves a machine
// built from a config, and the client reads it back.
func TestAgainstOwnAgent(t *testing.T) {
	cfg := &config.Config{Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "tc", Areas: []config.Area{{Name: "mach",
		Lines: []config.Line{{Name: "l1", Machines: []config.Machine{{Name: "cnc01", Device: "plc", Tags: []config.Tag{
			{Name: "state", Type: "uint16"},
			{Name: "feed", Type: "float32", Unit: "mm/min"},
			{Name: "good_count", Type: "uint32"},
			{Name: "alarm_word", Type: "uint16"},
			{Name: "program", Type: "string", Length: 8},
		}}}}}}}}}}}
	config.Defaults(cfg)
	plant := agent.FromConfig(cfg, nil)
	ag, err := agent.New(plant.Devices, agent.Options{BufferSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ag)
	defer srv.Close()
	defer ag.Close()
	feed := func(tag string, v model.Value) {
		s := model.Sample{Tag: "acme/tc/mach/l1/cnc01/" + tag, Value: v, Source: time.Now().UnixNano()}
		u, ok := plant.Update(&s)
		if !ok {
			t.Fatalf("tag %s not served", tag)
		}
		if err := ag.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	feed("state", model.UintValue(model.Uint16, 2))
	feed("feed", model.FloatValue(model.Float32, 1200))
	feed("good_count", model.UintValue(model.Uint32, 17))
	feed("alarm_word", model.UintValue(model.Uint16, 0))

	d := New()
	spec := driver.DeviceSpec{Name: "own", Endpoint: srv.URL + "/cnc01", Timeout: time.Second}
	c := open(t, d, spec)
	defer c.Close()
	its := items(t, d, spec,
		driver.TagSpec{Name: "exec", Address: agent.ID("cnc01", "state"), Type: model.String},
		driver.TagSpec{Name: "feed", Address: "feed", Type: model.Float64}, // by name
		driver.TagSpec{Name: "good", Address: agent.ID("cnc01", "good_count"), Type: model.Uint32},
		driver.TagSpec{Name: "alarm", Address: agent.ID("cnc01", "alarm_word"), Type: model.String},
		driver.TagSpec{Name: "prog", Address: agent.ID("cnc01", "program"), Type: model.String},
	)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(ctx, its, rec.report) }()
	last := func(us []driver.Update) map[int]driver.Update {
		m := map[int]driver.Update{}
		for _, u := range us {
			m[u.Item] = u
		}
		return m
	}
	rec.waitFor(t, "current", func(us []driver.Update) bool { return len(last(us)) == len(its) })
	m := last(rec.all())
	if m[0].Value.Str() != "ACTIVE" || m[1].Value.Float() != 20 || m[2].Value.Uint() != 17 || m[3].Value.Str() != "NORMAL" {
		t.Fatalf("current: %+v", m)
	}
	if m[4].Quality != model.BadNoCommunication || m[4].Code != uint16(errcode.MTConnectUnavailable) {
		t.Fatalf("a never-fed tag is UNAVAILABLE: %+v", m[4])
	}
	feed("alarm_word", model.UintValue(model.Uint16, 8))
	feed("program", model.StringValue("O1234"))
	rec.waitFor(t, "stream", func(us []driver.Update) bool {
		m := last(us)
		return m[3].Value.Str() == "FAULT" && m[4].Value.Str() == "O1234"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

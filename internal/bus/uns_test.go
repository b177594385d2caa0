package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

const unsPrefix = "acme/taichung/machining/line1/cnc01/"

func unsBatch() *model.Batch {
	return &model.Batch{Device: "cnc01", Class: "fast", Seq: 1, Start: t0, End: t0 + 1000, Samples: []model.Sample{
		{Tag: unsPrefix + "spindle_speed", Value: model.FloatValue(model.Float32, 1500.5), Quality: model.Good, Source: t0 + 123456789},
		{Tag: unsPrefix + "program", Value: model.StringValue(`O12 "rough" <a&b>`), Quality: model.Good, Source: t0},
		{Tag: unsPrefix + "temp.c", Quality: model.BadTimeout, Source: t0, Code: 2102}, // "." in a name becomes "_"
	}}
}

// wantUNS is what an MQTT client must receive for unsBatch: topic → payload.
var wantUNS = map[string]string{
	unsPrefix + "spindle_speed": `{"v":1500.5,"q":"Good","t":1700000000123456789,"ts":"2023-11-14T22:13:20.123456789Z"}`,
	unsPrefix + "program":       `{"v":"O12 \"rough\" \u003ca\u0026b\u003e","q":"Good","t":1700000000000000000,"ts":"2023-11-14T22:13:20Z"}`,
	unsPrefix + "temp_c":        `{"v":null,"q":"BadTimeout","t":1700000000000000000,"ts":"2023-11-14T22:13:20Z","code":"OTL-2102"}`,
}

func TestUNSPayload(t *testing.T) {
	for _, c := range []struct {
		v    model.Value
		want string
	}{
		{model.BoolValue(true), "true"},
		{model.IntValue(model.Int16, -7), "-7"},
		{model.UintValue(model.Uint64, math.MaxUint64), "18446744073709551615"},
		{model.FloatValue(model.Float64, math.NaN()), `"NaN"`},
		{model.FloatValue(model.Float64, math.Inf(-1)), `"-Inf"`},
		{model.FloatValue(model.Float64, 1e300), "1e+300"},
		{model.FloatValue(model.Float32, 0.1), "0.1"},
		{model.StringValue("a\x01\n\u2028\xff"), `"a\u0001\n\u2028\ufffd"`},
		{model.Value{}, "null"},
	} {
		s := model.Sample{Value: c.v, Quality: model.UncertainLastUsableValue, Source: t0}
		got := AppendUNSPayload(nil, &s)
		want := `{"v":` + c.want + `,"q":"UncertainLastUsableValue","t":1700000000000000000,"ts":"2023-11-14T22:13:20Z"}`
		if string(got) != want {
			t.Errorf("%v: got %s, want %s", c.v, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%v: invalid JSON %s", c.v, got)
		}
		// Same value as model.Value's own JSON encoding.
		mj, _ := c.v.MarshalJSON()
		var a, b any
		json.Unmarshal(mj, &a)
		var p struct{ V any }
		json.Unmarshal(got, &p)
		b = p.V
		if aj, bj := mustJSON(a), mustJSON(b); aj != bj {
			t.Errorf("%v: payload value %s, model.Value JSON %s", c.v, bj, aj)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestUNSOverMQTT(t *testing.T) {
	b := openBus(t, testOptions(t, ""))
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + b.MQTTAddr()).SetClientID("otlink-test").
		SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect to %s: %v", b.MQTTAddr(), tok.Error())
	}
	defer c.Disconnect(100)
	var mu sync.Mutex
	got := map[string]string{}
	done := make(chan struct{})
	tok := c.Subscribe("acme/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		got[m.Topic()] = string(m.Payload())
		if len(got) == len(wantUNS) {
			close(done)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	// Not under the subscription: must not arrive.
	other := &model.Batch{Device: "x", Samples: []model.Sample{{Tag: "globex/x/y", Value: model.BoolValue(true)}}}
	if err := b.PublishUNS(other); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishUNS(unsBatch()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %d of %d topics: %v", len(got), len(wantUNS), got)
	}
	mu.Lock()
	defer mu.Unlock()
	for topic, want := range wantUNS {
		if got[topic] != want {
			t.Errorf("topic %s: got %s, want %s", topic, got[topic], want)
		}
	}
	if len(got) != len(wantUNS) {
		t.Errorf("extra topics: %v", got)
	}
	if s := b.Stats(); s.UNS != 4 || s.UNSFailed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestUNSBadPath(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT = ""
	b := openBus(t, o)
	bad := &model.Batch{Device: "x", Samples: []model.Sample{
		{Tag: "acme//x"}, {Tag: "/acme/x"}, {Tag: ""}, {Tag: "acme/\x01"}, {Tag: "acme/ok"},
	}}
	err := b.PublishUNS(bad)
	if errcode.Of(err) != errcode.BusPublishFailed {
		t.Fatalf("got %v", err)
	}
	if s := b.Stats(); s.UNS != 1 || s.UNSFailed != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// TestUNSMosquittoSub checks the listener against an independent MQTT
// client, Debian's mosquitto_sub.
func TestUNSMosquittoSub(t *testing.T) {
	path, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub not installed (Debian package mosquitto-clients)")
	}
	b := openBus(t, testOptions(t, ""))
	_, port, _ := strings.Cut(b.MQTTAddr(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-h", "127.0.0.1", "-p", port, "-t", "acme/#", "-v", "-C", "3", "-W", "10", "-i", "otlink-mosquitto-sub")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// mosquitto_sub says nothing when its subscription is in place, so
	// publish the batch every 100 ms until it has its three messages. Any
	// three in a row are the batch's three topics.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var werr error
loop:
	for range 150 {
		select {
		case werr = <-exited:
			break loop
		case <-tick.C:
			if err := b.PublishUNS(unsBatch()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if werr != nil {
		t.Fatalf("mosquitto_sub: %v: %s", werr, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("mosquitto_sub printed %d lines: %q", len(lines), out.String())
	}
	seen := map[string]bool{}
	for _, l := range lines {
		topic, payload, _ := strings.Cut(l, " ")
		if want, ok := wantUNS[topic]; !ok || payload != want {
			t.Errorf("mosquitto_sub got %s %s", topic, payload)
		}
		seen[topic] = true
	}
	if len(seen) != 3 {
		t.Errorf("topics %v", seen)
	}
}

package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/mosquitto"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// TestNorthService wires two north entries (UNS with a tag filter, and a
// Sparkplug edge node) to a real bus and Debian's mosquitto; a subscriber
// sees the UNS JSON and the Sparkplug births and data. While the service
// is stopped, batches wait in the bus (durable consumers) and arrive after
// it starts again.
func TestNorthService(t *testing.T) {
	if !mosquitto.Installed() {
		t.Skip("mosquitto not installed (apt-get install mosquitto): skipping the broker interoperability test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mq, err := mosquitto.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Stop()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := bus.Open(ctx, bus.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var mu sync.Mutex
	got := map[string][]byte{} // last payload per topic
	so := paho.NewClientOptions().AddBroker(mq.URL()).SetClientID("app-sub")
	so.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got[m.Topic()] = append([]byte(nil), m.Payload()...)
		mu.Unlock()
	})
	sub := paho.NewClient(so)
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.SubscribeMultiple(map[string]byte{"plant/#": 1, "spBv1.0/#": 1}, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	waitTopic := func(topic string, ok func([]byte) bool) []byte {
		t.Helper()
		for i := 0; i < 500; i++ {
			mu.Lock()
			p, seen := got[topic]
			mu.Unlock()
			if seen && ok(p) {
				return p
			}
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		topics := make([]string, 0, len(got))
		for k := range got {
			topics = append(topics, k)
		}
		t.Fatalf("no message on %s within 10s; topics seen: %v", topic, topics)
		return nil
	}

	data := t.TempDir()
	cfg := &config.Config{Data: data, North: []config.North{
		{Name: "uns", Broker: mq.URL(), TopicPrefix: "plant/", Tags: []string{"acme/*/*/*/press/*"}},
		{Name: "scada", Broker: mq.URL(), Mode: config.NorthSparkplug, Group: "g", EdgeNode: "e"},
	}}
	a := &App{log: quiet, bus: b}
	start := func() stopper {
		t.Helper()
		s, err := startNorth(ctx, a, cfg, nil)
		if err != nil || s == nil {
			t.Fatalf("start north: %v", err)
		}
		return s
	}
	publish := func(seq uint64, v float64) {
		t.Helper()
		ts := time.Now().UnixNano()
		if err := b.PublishBatch(ctx, &model.Batch{Device: "plc1", Class: "fast", Seq: seq, Samples: []model.Sample{
			{Tag: "acme/s/a/l/press/temp", Value: model.FloatValue(model.Float64, v), Quality: model.Good, Source: ts, Server: ts},
			{Tag: "acme/s/a/l/oven/temp", Value: model.FloatValue(model.Float64, v), Quality: model.Good, Source: ts, Server: ts},
		}}); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s := start()
	publish(1, 21.5)
	p := waitTopic("plant/acme/s/a/l/press/temp", func([]byte) bool { return true })
	var uns struct {
		V float64 `json:"v"`
		Q string  `json:"q"`
		T int64   `json:"t"`
	}
	if err := json.Unmarshal(p, &uns); err != nil || uns.V != 21.5 || uns.Q != "Good" || uns.T == 0 {
		t.Fatalf("uns payload %s: %+v %v", p, uns, err)
	}
	birth := waitTopic("spBv1.0/g/DBIRTH/e/plc1", func([]byte) bool { return true })
	bp, err := sparkplug.Unmarshal(birth)
	if err != nil || len(bp.Metrics) != 2 {
		t.Fatalf("DBIRTH: %+v %v", bp, err)
	}
	for _, m := range bp.Metrics {
		if !strings.HasSuffix(m.Name, "/temp") || m.Value.Float() != 21.5 || !m.HasAlias {
			t.Fatalf("DBIRTH metric %+v", m)
		}
	}

	// Stopped: batches wait in the bus for the durable consumers.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	publish(2, 22.5)
	publish(3, 23.5)
	s = start()
	defer s.Stop(context.Background())
	waitTopic("plant/acme/s/a/l/press/temp", func(p []byte) bool { return strings.Contains(string(p), `"v":23.5`) })
	// The restarted node was born again (DBIRTH with 22.5), then 23.5 came
	// as DDATA.
	waitTopic("spBv1.0/g/DDATA/e/plc1", func(p []byte) bool {
		bp, err := sparkplug.Unmarshal(p)
		return err == nil && len(bp.Metrics) > 0 && bp.Metrics[0].Value.Float() == 23.5
	})
	mu.Lock()
	defer mu.Unlock()
	if _, leaked := got["plant/acme/s/a/l/oven/temp"]; leaked {
		t.Error("the UNS publisher published a tag its globs exclude")
	}
}

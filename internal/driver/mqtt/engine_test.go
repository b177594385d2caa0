package mqtt

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
)

type batchSink struct {
	mu   sync.Mutex
	last map[string]model.Sample
}

func (s *batchSink) PublishBatch(_ context.Context, b *model.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range b.Samples {
		s.last[x.Tag] = x
	}
	return nil
}

func (s *batchSink) get(tag string) model.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[tag]
}

// TestEngineIngest runs the acquisition engine on a config with an mqtt
// device: mosquitto_pub's JSON reaches the tag's samples scaled by the
// engine, and after the broker is stopped and started the engine's
// reconnect brings values again.
func TestEngineIngest(t *testing.T) {
	b := broker(t)
	yaml := fmt.Sprintf(`version: 1
devices:
  - name: broker
    driver: mqtt
    endpoint: %s
    timeout: 2s
    poll: [{name: fast, interval: 50ms}]
plant:
  enterprise: acme
  sites:
    - name: s
      areas:
        - name: a
          lines:
            - name: l
              machines:
                - name: press
                  device: broker
                  tags:
                    - {name: temp, address: "factory/press#$.temp", type: float64, scale: {gain: 0.1, offset: 0}}
                    - {name: count, address: "factory/press#$.count", type: uint32}
`, b.URL())
	cfg, err := config.Parse("mqtt.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	sink := &batchSink{last: map[string]model.Sample{}}
	eng, err := acquire.New(cfg, acquire.Options{Sink: sink, BackoffBase: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const temp, count = "acme/s/a/l/press/temp", "acme/s/a/l/press/count"
	// Publish until the engine's subscription delivers (bounded).
	pubUntil := func(payload string, ok func() bool) {
		t.Helper()
		for i := 0; i < 100; i++ {
			if err := b.Pub(ctx, "factory/press", payload, false); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 5; j++ {
				if ok() {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		t.Fatalf("%s never reached the engine: temp %+v count %+v", payload, sink.get(temp), sink.get(count))
	}
	pubUntil(`{"temp": 215, "count": 7}`, func() bool {
		s := sink.get(temp)
		return s.Quality == model.Good && s.Value.Float() == 21.5 && sink.get(count).Value.Uint() == 7
	})
	b.Stop()
	// The engine notices: the tags turn bad while the broker is away.
	for i := 0; i < 250 && !sink.get(temp).Quality.IsBad(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if q := sink.get(temp).Quality; !q.IsBad() {
		t.Fatalf("quality %s while the broker is down", q)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	pubUntil(`{"temp": 300, "count": 8}`, func() bool {
		s := sink.get(temp)
		return s.Quality == model.Good && s.Value.Float() == 30
	})
	if s := sink.get(count); !strings.Contains(s.Value.String(), "8") {
		t.Fatalf("count %+v", s)
	}
}

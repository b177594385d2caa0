package mqtt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/mosquitto"
)

func startBroker(t testing.TB) *mosquitto.Broker {
	t.Helper()
	if !mosquitto.Installed() {
		t.Skip("mosquitto not installed (apt-get install mosquitto): skipping the broker interoperability test")
	}
	b, err := mosquitto.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// TestMosquittoRestarts publishes at QoS 1 while the broker is killed and
// started twice; a persistent QoS 1 subscriber must see every sample.
func TestMosquittoRestarts(t *testing.T) {
	broker := startBroker(t)
	dir := broker.Dir
	url := broker.URL()
	brokerLog := broker.Log

	var mu sync.Mutex
	seen := map[string]bool{}
	received := 0 // with duplicates
	count := func() (int, int) { mu.Lock(); defer mu.Unlock(); return len(seen), received }
	so := paho.NewClientOptions().AddBroker(url).SetClientID("sub-test").SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
	so.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		mu.Lock()
		seen[string(m.Payload())] = true
		received++
		mu.Unlock()
	})
	sub := paho.NewClient(so)
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscriber connect", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("test/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe", tok.Error())
	}

	p, err := New(Options{Broker: url, ClientID: "pub-test", TopicPrefix: "test/", QueueDir: filepath.Join(dir, "q"), AckTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const batches, per = 300, 10
	start := time.Now()
	for i := 0; i < batches; i++ {
		b := &model.Batch{Device: "d", Seq: uint64(i)}
		for j := 0; j < per; j++ {
			b.Samples = append(b.Samples, model.Sample{Tag: fmt.Sprintf("t%d", j), Value: model.IntValue(model.Int64, int64(i*per+j)), Source: int64(i)})
		}
		if err := p.Publish(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if i == 100 || i == 200 {
			n, _ := count()
			t.Logf("kill at batch %d: %d samples queued, publisher acked up to %+v, subscriber has %d", i, (i+1)*per, p.q.ackPos(), n)
			broker.Stop()
			// The broker's own record of the sessions: without it the
			// subscriber's subscription does not survive the restart.
			if _, err := os.Stat(filepath.Join(dir, "m.db")); err != nil {
				t.Fatalf("mosquitto saved no persistence file: %v\n%s", err, brokerLog())
			}
			time.Sleep(300 * time.Millisecond)
			if err := broker.Restart(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Millisecond)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if n, _ := count(); n == batches*per && !p.Pending() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, all := count()
	if n != batches*per {
		t.Fatalf("subscriber saw %d distinct samples, want %d (publisher pending %v, ack %+v)\n%s", n, batches*per, p.Pending(), p.q.ackPos(), brokerLog())
	}
	t.Logf("%d samples through two broker kills in %s (%d deliveries, %d duplicates)", n, time.Since(start), all, all-n)
}

// BenchmarkPublishMosquitto measures publish throughput to a local
// mosquitto: 100-sample batches in UNS mode (100 QoS 1 messages each),
// from Publish until the last PUBACK.
func BenchmarkPublishMosquitto(b *testing.B) {
	broker := startBroker(b)
	p, err := New(Options{Broker: broker.URL(), ClientID: "pub-bench", TopicPrefix: "bench/", QueueDir: filepath.Join(b.TempDir(), "q")})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const per = 100
	batch := &model.Batch{Device: "d"}
	for j := 0; j < per; j++ {
		batch.Samples = append(batch.Samples, model.Sample{Tag: fmt.Sprintf("line1/m1/t%d", j), Value: model.FloatValue(model.Float64, float64(j)), Source: time.Now().UnixNano()})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.Seq = uint64(i)
		if err := p.Publish(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); p.Pending(); {
		if time.Now().After(deadline) {
			b.Fatal("publisher did not drain its queue within 2 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "samples/s")
}

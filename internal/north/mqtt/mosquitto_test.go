package mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/model"
)

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// mosquittoConf writes a broker config with persistence in dir.
//
// The "user" line matters: mosquitto started as root drops to the
// "mosquitto" user, which cannot write into a 0700 root test folder, so it
// silently fails to save m.db ("Error saving in-memory database ...
// Permission denied" in its log) and every persistent session - the
// subscriber's subscription and its queued messages - is gone after a
// restart. That, not the publisher, was why the restart test saw ~850 of
// 3000 samples. Naming the current user keeps root as root; for a non-root
// user mosquitto ignores the line.
func mosquittoConf(t testing.TB, dir string, port int) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\n"+
		"persistence true\npersistence_location %s/\npersistence_file m.db\n"+
		"max_queued_messages 0\nmax_inflight_messages 0\n"+
		"log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
		port, u.Username, dir, filepath.Join(dir, "mosquitto.log"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

func needMosquitto(t testing.TB) {
	if _, err := exec.LookPath("mosquitto"); err != nil {
		t.Skip("mosquitto not installed (apt-get install mosquitto): skipping the broker interoperability test")
	}
}

func startBroker(t testing.TB, conf string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("mosquitto", "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("mosquitto did not start")
	return nil
}

// stopBroker kills the broker with SIGTERM (what kill and systemd send);
// mosquitto saves its persistence file before it exits. A SIGKILL loses
// whatever mosquitto acknowledged but had not saved yet, on any client.
func stopBroker(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// TestMosquittoRestarts publishes at QoS 1 while the broker is killed and
// started twice; a persistent QoS 1 subscriber must see every sample.
func TestMosquittoRestarts(t *testing.T) {
	needMosquitto(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := mosquittoConf(t, dir, port)
	broker := startBroker(t, conf, port)
	defer func() { stopBroker(broker) }()
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	brokerLog := func() string { b, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log")); return string(b) }

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
			stopBroker(broker)
			// The broker's own record of the sessions: without it the
			// subscriber's subscription does not survive the restart.
			if _, err := os.Stat(filepath.Join(dir, "m.db")); err != nil {
				t.Fatalf("mosquitto saved no persistence file: %v\n%s", err, brokerLog())
			}
			time.Sleep(300 * time.Millisecond)
			broker = startBroker(t, conf, port)
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
	needMosquitto(b)
	dir := b.TempDir()
	port := freePort(b)
	broker := startBroker(b, mosquittoConf(b, dir, port), port)
	defer stopBroker(broker)
	p, err := New(Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", port), ClientID: "pub-bench", TopicPrefix: "bench/", QueueDir: filepath.Join(dir, "q")})
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

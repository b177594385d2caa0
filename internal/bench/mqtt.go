package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/driver"
	mqttdrv "github.com/otlink/otlink/internal/driver/mqtt"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/mosquitto"
	northmqtt "github.com/otlink/otlink/internal/north/mqtt"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// MQTTOptions configure the MQTT benchmark.
type MQTTOptions struct {
	Broker    string // "" starts Debian's mosquitto on a free loopback port
	Samples   int    // samples per run; default 200,000
	BatchSize int    // samples per batch (one device poll cycle); default 100
	Progress  io.Writer
}

// MQTTResult are the figures of one `otlink bench mqtt`. Each otlink
// figure has a baseline measured in the same run against the same broker:
// a bare paho client publishing (or receiving) the same payloads at QoS 1
// with as many messages in flight, and no queue, no bus, no decoding.
type MQTTResult struct {
	Broker    string `json:"broker"`
	Samples   int    `json:"samples"`
	BatchSize int    `json:"batch_size"`

	// North, UNS: one QoS 1 message per sample, through the disk queue.
	UNSSamplesPerSec float64 `json:"uns_samples_per_sec"`
	RawUNSMsgsPerSec float64 `json:"raw_uns_msgs_per_sec"`
	UNSRatio         float64 `json:"uns_ratio"`
	// North, Sparkplug B: one DDATA per batch.
	SparkplugSamplesPerSec    float64 `json:"sparkplug_samples_per_sec"`
	RawSparkplugSamplesPerSec float64 `json:"raw_sparkplug_samples_per_sec"`
	SparkplugRatio            float64 `json:"sparkplug_ratio"`
	// South: JSON messages from a paho publisher into the mqtt driver
	// (decode, JSON path, conversion) vs a paho subscriber that counts.
	IngestValuesPerSec    float64 `json:"ingest_values_per_sec"`
	RawIngestMsgsPerSec   float64 `json:"raw_ingest_msgs_per_sec"`
	IngestRatio           float64 `json:"ingest_ratio"`
	DurationSec           float64 `json:"duration_sec"`
	MosquittoStartedByRun bool    `json:"mosquitto_started_by_run"`
}

const mqttWindow = 64 // batches in flight, as the publisher's default

// MQTT runs the benchmark.
func MQTT(ctx context.Context, o MQTTOptions) (*MQTTResult, error) {
	if o.Samples <= 0 {
		o.Samples = 200000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	o.Samples -= o.Samples % o.BatchSize
	if o.Samples == 0 {
		o.Samples = o.BatchSize
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "otlink-bench-mqtt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r := &MQTTResult{Broker: o.Broker, Samples: o.Samples, BatchSize: o.BatchSize}
	if r.Broker == "" {
		mq, err := mosquitto.Start(tmp)
		if err != nil {
			return nil, errcode.Wrap(errcode.NorthConnectFailed, err, "start mosquitto (or give --broker)")
		}
		defer mq.Stop()
		r.Broker, r.MosquittoStartedByRun = mq.URL(), true
	}
	began := time.Now()
	batches := makeBatches(o.Samples, o.BatchSize)

	progress("raw paho, UNS payloads ...")
	var msgs []sparkplug.Message
	for _, b := range batches {
		for i := range b.Samples {
			msgs = append(msgs, sparkplug.Message{Topic: "bench/raw/" + b.Samples[i].Tag, Payload: bus.AppendUNSPayload(nil, &b.Samples[i])})
		}
	}
	d, err := rawPublish(ctx, r.Broker, "bench-raw-uns", msgs, mqttWindow*o.BatchSize)
	if err != nil {
		return nil, err
	}
	r.RawUNSMsgsPerSec = float64(len(msgs)) / d.Seconds()

	progress("otlink north, UNS ...")
	d, err = northPublish(ctx, northmqtt.Options{Broker: r.Broker, ClientID: "bench-uns", TopicPrefix: "bench/uns/",
		QueueDir: filepath.Join(tmp, "uns")}, batches)
	if err != nil {
		return nil, err
	}
	r.UNSSamplesPerSec = float64(o.Samples) / d.Seconds()
	r.UNSRatio = r.UNSSamplesPerSec / r.RawUNSMsgsPerSec

	progress("raw paho, Sparkplug payloads ...")
	node := sparkplug.NewNode("bench", "raw", 0)
	node.Connect(1)
	msgs = msgs[:0]
	for _, b := range batches {
		msgs = append(msgs, node.Data(b, uint64(time.Now().UnixMilli()))...)
	}
	d, err = rawPublish(ctx, r.Broker, "bench-raw-spb", msgs, mqttWindow)
	if err != nil {
		return nil, err
	}
	r.RawSparkplugSamplesPerSec = float64(o.Samples) / d.Seconds()

	progress("otlink north, Sparkplug ...")
	d, err = northPublish(ctx, northmqtt.Options{Broker: r.Broker, ClientID: "bench-spb", Sparkplug: true, Group: "bench", EdgeNode: "otlink",
		QueueDir: filepath.Join(tmp, "spb")}, batches)
	if err != nil {
		return nil, err
	}
	r.SparkplugSamplesPerSec = float64(o.Samples) / d.Seconds()
	r.SparkplugRatio = r.SparkplugSamplesPerSec / r.RawSparkplugSamplesPerSec

	progress("south ingest ...")
	if err := ingest(ctx, r, o); err != nil {
		return nil, err
	}
	r.DurationSec = time.Since(began).Seconds()
	return r, nil
}

func makeBatches(samples, per int) []*model.Batch {
	base := time.Now().UnixNano()
	out := make([]*model.Batch, 0, samples/per)
	for i := 0; i < samples/per; i++ {
		b := &model.Batch{Device: "m1", Class: "fast", Seq: uint64(i)}
		for j := 0; j < per; j++ {
			ts := base + int64(i)*int64(time.Second)
			b.Samples = append(b.Samples, model.Sample{Tag: fmt.Sprintf("acme/s/a/line1/m1/t%03d", j),
				Value: model.FloatValue(model.Float64, float64(i*per+j)*0.25), Quality: model.Good, Source: ts, Server: ts})
		}
		out = append(out, b)
	}
	return out
}

func connect(ctx context.Context, broker, id string, clean bool, h paho.MessageHandler) (paho.Client, error) {
	co := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(clean).SetAutoReconnect(false).
		SetWriteTimeout(10 * time.Second).SetMaxResumePubInFlight(mqttWindow)
	if h != nil {
		co.SetDefaultPublishHandler(h)
	}
	c := paho.NewClient(co)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, errcode.Wrap(errcode.NorthConnectFailed, tok.Error(), "connect %s", broker)
	}
	return c, nil
}

// rawPublish publishes msgs at QoS 1 with up to window unacknowledged,
// and returns the time until the last PUBACK.
func rawPublish(ctx context.Context, broker, id string, msgs []sparkplug.Message, window int) (time.Duration, error) {
	c, err := connect(ctx, broker, id, true, nil)
	if err != nil {
		return 0, err
	}
	defer c.Disconnect(100)
	toks := make([]paho.Token, 0, window)
	start := time.Now()
	wait := func(t paho.Token) error {
		if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			return errcode.Wrap(errcode.NorthPublishFailed, t.Error(), "raw publish")
		}
		return nil
	}
	for _, m := range msgs {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if len(toks) == window {
			if err := wait(toks[0]); err != nil {
				return 0, err
			}
			toks = toks[1:]
		}
		toks = append(toks, c.Publish(m.Topic, 1, false, m.Payload))
	}
	for _, t := range toks {
		if err := wait(t); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// northPublish runs otlink's publisher from the first Publish to the last
// PUBACK, and returns that time.
func northPublish(ctx context.Context, o northmqtt.Options, batches []*model.Batch) (time.Duration, error) {
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := northmqtt.New(o)
	if err != nil {
		return 0, err
	}
	if err := p.Start(ctx); err != nil {
		return 0, err
	}
	defer p.Close()
	start := time.Now()
	for _, b := range batches {
		if err := p.Publish(ctx, b); err != nil {
			return 0, err
		}
	}
	for i := 0; p.Pending(); i++ {
		if ctx.Err() != nil || i > 600000 {
			return 0, errcode.New(errcode.NorthPublishFailed, "the publisher did not drain its queue within 10 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start), nil
}

// ingest publishes JSON payloads on 100 topics and measures how fast the
// mqtt driver turns them into values, against a paho subscriber that only
// counts messages.
func ingest(ctx context.Context, r *MQTTResult, o MQTTOptions) error {
	const topics = 100
	n := o.Samples
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"value": %g, "ts": %d, "unit": "degC"}`, float64(i)*0.5, 1700000000000+int64(i))
	}
	send := func(prefix string) error {
		msgs := make([]sparkplug.Message, n)
		for i := range msgs {
			msgs[i] = sparkplug.Message{Topic: fmt.Sprintf("%s/t%03d", prefix, i%topics), Payload: payloads[i]}
		}
		_, err := rawPublish(ctx, r.Broker, "bench-ingest-pub", msgs, mqttWindow*o.BatchSize)
		return err
	}
	waitCount := func(count *atomic.Int64) error {
		for i := 0; count.Load() < int64(n); i++ {
			if ctx.Err() != nil || i > 600000 {
				return errcode.New(errcode.MQTTConnectionLost, "ingest: %d of %d values within 10 minutes", count.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}

	// Baseline: a bare subscriber.
	var raw atomic.Int64
	sub, err := connect(ctx, r.Broker, "bench-ingest-raw", true, func(paho.Client, paho.Message) { raw.Add(1) })
	if err != nil {
		return err
	}
	if tok := sub.Subscribe("bench/raw-in/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		sub.Disconnect(100)
		return errcode.Wrap(errcode.MQTTConnectFailed, tok.Error(), "subscribe")
	}
	start := time.Now()
	if err := send("bench/raw-in"); err != nil {
		sub.Disconnect(100)
		return err
	}
	err = waitCount(&raw)
	r.RawIngestMsgsPerSec = float64(n) / time.Since(start).Seconds()
	sub.Disconnect(100)
	if err != nil {
		return err
	}

	// otlink's driver, one float64 tag per topic with value and time paths.
	dev := driver.DeviceSpec{Name: "bench", Endpoint: r.Broker, Timeout: 10 * time.Second, Options: map[string]string{"clean_session": "true", "client_id": "bench-ingest-otlink"}}
	items := make([]driver.Item, topics)
	for i := range items {
		addr := fmt.Sprintf("bench/in/t%03d#$.value#$.ts", i)
		p, err := mqttdrv.Driver{}.Resolve(dev, driver.TagSpec{Name: fmt.Sprint(i), Address: addr, Type: model.Float64})
		if err != nil {
			return err
		}
		items[i] = driver.Item{Point: p, Address: addr, Tag: addr}
	}
	conn, err := mqttdrv.Driver{}.Open(dev, r.Broker)
	if err != nil {
		return err
	}
	if err := conn.Connect(ctx); err != nil {
		return err
	}
	defer conn.Close()
	var got, bad atomic.Int64
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- conn.(driver.Subscriber).Subscribe(sctx, items, func(u driver.Update) {
			if !u.Quality.IsGood() {
				bad.Add(1)
			}
			got.Add(1)
		})
	}()
	// The subscription is in place once a probe arrives.
	probe := []sparkplug.Message{{Topic: "bench/in/t000", Payload: []byte(`{"value": 0, "ts": 1700000000000}`)}}
	for i := 0; got.Load() == 0; i++ {
		if i > 100 {
			return errcode.New(errcode.MQTTConnectFailed, "ingest: the driver's subscription did not start")
		}
		if _, err := rawPublish(ctx, r.Broker, "bench-ingest-probe", probe, 1); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got.Store(0)
	start = time.Now()
	if err := send("bench/in"); err != nil {
		return err
	}
	err = waitCount(&got)
	r.IngestValuesPerSec = float64(n) / time.Since(start).Seconds()
	cancel()
	<-done
	if err != nil {
		return err
	}
	if bad.Load() > 0 {
		return errcode.New(errcode.MQTTBadValue, "ingest: %d values were bad", bad.Load())
	}
	r.IngestRatio = r.IngestValuesPerSec / r.RawIngestMsgsPerSec
	return nil
}

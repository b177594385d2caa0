package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testOptions(t testing.TB, dir string) Options {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return Options{Listen: "127.0.0.1:0", MQTT: "127.0.0.1:0", DataDir: dir, Logger: quiet}
}

func openBus(t testing.TB, o Options) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func batchN(dev string, seq uint64, n int) *model.Batch {
	b := &model.Batch{Device: dev, Class: "fast", Seq: seq, Start: t0 + int64(seq)*1e6, End: t0 + int64(seq)*1e6 + 5e5}
	for i := range n {
		b.Samples = append(b.Samples, model.Sample{
			Tag:     "acme/taichung/machining/line1/" + dev + "/tag" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)),
			Value:   model.FloatValue(model.Float64, float64(seq)*1000+float64(i)),
			Quality: model.Good, Source: b.Start + int64(i), Server: b.End,
		})
	}
	return b
}

func TestOpenEmbedded(t *testing.T) {
	b := openBus(t, testOptions(t, ""))
	if !b.Embedded() || !strings.HasPrefix(b.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(b.ClientURL(), ":0") {
		t.Fatalf("ClientURL %q", b.ClientURL())
	}
	if h, p, err := net.SplitHostPort(b.MQTTAddr()); err != nil || h != "127.0.0.1" || p == "0" || p == "-1" {
		t.Fatalf("MQTTAddr %q", b.MQTTAddr())
	}
	// Another process can reach the embedded server at ClientURL and sees the stream.
	nc, err := nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatalf("connect to %s: %v", b.ClientURL(), err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctxT(t), SamplesStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if cfg.MaxAge != DefaultMaxAge || cfg.MaxBytes != DefaultMaxBytes || cfg.Duplicates != DefaultDuplicateWindow || cfg.Subjects[0] != "otl.v1.samples.>" || cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream config %+v", cfg)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishBatch(ctxT(t), batchN("cnc01", 1, 1)); errcode.Of(err) != errcode.BusClosed {
		t.Fatalf("publish after close: %v", err)
	}
	if err := b.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestOpenMQTTOff(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT = "off"
	b := openBus(t, o)
	if b.MQTTAddr() != "" {
		t.Fatalf("MQTTAddr %q with mqtt off", b.MQTTAddr())
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		o    Options
		code errcode.Code
	}{
		{"all interfaces", Options{Listen: "0.0.0.0:0", DataDir: dir}, errcode.BusRemoteListen},
		{"empty host", Options{Listen: ":4222", DataDir: dir}, errcode.BusRemoteListen},
		{"lan mqtt", Options{Listen: "127.0.0.1:0", MQTT: "192.168.1.10:1883", DataDir: dir}, errcode.BusRemoteListen},
		{"no data dir", Options{Listen: "127.0.0.1:0"}, errcode.BusBadOptions},
		{"no port", Options{Listen: "127.0.0.1", DataDir: dir}, errcode.BusBadOptions},
		{"bad port", Options{Listen: "127.0.0.1:99999", DataDir: dir}, errcode.BusBadOptions},
		{"negative age", Options{Listen: "127.0.0.1:0", DataDir: dir, MaxAge: -1}, errcode.BusBadOptions},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.Logger = quiet
			b, err := Open(ctx, c.o)
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			if errcode.Of(err) != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
}

func TestOpenPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	for _, which := range []string{"nats", "mqtt"} {
		o := testOptions(t, "")
		if which == "nats" {
			o.Listen = taken
		} else {
			o.MQTT = taken
		}
		b, err := Open(ctxT(t), o)
		if err == nil {
			b.Close()
			t.Fatalf("%s: opened on a taken port", which)
		}
		if errcode.Of(err) != errcode.BusPortInUse || !strings.Contains(err.Error(), taken) || !strings.Contains(err.Error(), which) {
			t.Fatalf("%s: got %v, want %s naming %s", which, err, errcode.BusPortInUse, taken)
		}
	}
}

func TestExternal(t *testing.T) {
	a := openBus(t, testOptions(t, ""))
	// A second Bus on the first one's server, as with an external NATS.
	b := openBus(t, Options{URL: a.ClientURL(), Logger: quiet})
	if b.Embedded() || b.MQTTAddr() != "" {
		t.Fatal("external bus claims to be embedded")
	}
	if err := b.PublishBatch(ctxT(t), batchN("press-1", 1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Acked != 1 || s.Samples != 3 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}

	// Nothing listens: connect fails with its code.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "nats://" + l.Addr().String()
	l.Close()
	if _, err := Open(ctxT(t), Options{URL: dead, Logger: quiet}); errcode.Of(err) != errcode.BusConnectFailed {
		t.Fatalf("dead url: %v", err)
	}
	// A server without JetStream: JetStream unavailable.
	plain, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go plain.Start()
	defer plain.Shutdown()
	if !plain.ReadyForConnections(10 * time.Second) {
		t.Fatal("plain server not ready")
	}
	if _, err := Open(ctxT(t), Options{URL: plain.ClientURL(), Logger: quiet}); errcode.Of(err) != errcode.BusJetStreamDown {
		t.Fatalf("no jetstream: %v", err)
	}
}

func TestSyncSettings(t *testing.T) {
	for _, c := range []struct {
		always   bool
		interval time.Duration
	}{{false, 0}, {false, 5 * time.Second}, {true, 0}} {
		o := testOptions(t, "")
		o.SyncAlways, o.SyncInterval, o.MQTT = c.always, c.interval, ""
		b := openBus(t, o)
		jc := b.srv.JetStreamConfig()
		want := c.interval
		if want == 0 {
			want = 2 * time.Minute // the server's default, documented in docs/bus.md
		}
		if jc.SyncAlways != c.always || jc.SyncInterval != want {
			t.Errorf("always=%v interval=%v: server has always=%v interval=%v", c.always, c.interval, jc.SyncAlways, jc.SyncInterval)
		}
		// Publishing works under each setting.
		if err := b.PublishBatch(ctxT(t), batchN("cnc01", 1, 10)); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
}

func TestPublishConsumeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.MQTT = ""
	const n = 40
	var sent []*model.Batch
	b := openBus(t, o)
	for i := range n {
		dev := []string{"cnc01", "press.3"}[i%2]
		bt := batchN(dev, uint64(i/2+1), 1+i*7)
		sent = append(sent, bt)
		if err := b.PublishBatch(ctxT(t), bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	if s := b.Stats(); s.Published != n || s.Acked != n || s.Failed != 0 || s.Pending != 0 {
		t.Fatalf("stats after close: %+v", s)
	}

	b = openBus(t, o) // same data folder
	ctx, cancel := context.WithCancel(ctxT(t))
	var got []model.Batch
	err := b.ConsumeSamples(ctx, "historian", func(bt *model.Batch) error {
		c := *bt
		c.Samples = append([]model.Sample(nil), bt.Samples...) // fn must copy what it keeps
		got = append(got, c)
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("consumed %d batches, want %d", len(got), n)
	}
	for i := range sent {
		equalBatch(t, &got[i], sent[i])
	}
	// Everything was acknowledged: nothing pending, nothing left.
	cons, err := b.js.Consumer(ctxT(t), SamplesStream, "historian")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := cons.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 || ci.AckFloor.Stream != n {
		t.Fatalf("consumer after consume: pending %d, ack pending %d, ack floor %d", ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream)
	}

	// A republished batch (same Nats-Msg-Id) is stored once.
	if err := b.PublishBatch(ctxT(t), sent[3]); err != nil {
		t.Fatal(err)
	}
	// The same device, class and seq after a restart of acquisition (new
	// start time) is a new batch.
	fresh := batchN(sent[3].Device, sent[3].Seq, 2)
	fresh.Start += 1e9
	if err := b.PublishBatch(ctxT(t), fresh); err != nil {
		t.Fatal(err)
	}
	// The second part of a cycle (same device, class, seq and start) is a
	// message of its own; republished, it too is stored once.
	part := batchN(fresh.Device, fresh.Seq, 2)
	part.Start, part.Part = fresh.Start, 1
	for range 2 {
		if err := b.PublishBatch(ctxT(t), part); err != nil {
			t.Fatal(err)
		}
	}
	if MsgID(part) == MsgID(fresh) {
		t.Fatalf("parts 0 and 1 of a cycle share the id %s", MsgID(part))
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.Duplicates != 2 || s.Acked != 4 {
		t.Fatalf("stats after republish: %+v", s)
	}
	si, err := b.js.Stream(ctxT(t), SamplesStream)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := si.CachedInfo().State.Msgs; msgs != n+2 {
		t.Fatalf("stream holds %d messages, want %d", msgs, n+2)
	}
	// The consumer resumes after its last ack: only the fresh batch and
	// its second part.
	ctx, cancel = context.WithCancel(ctxT(t))
	got = got[:0]
	if err := b.ConsumeSamples(ctx, "historian", func(bt *model.Batch) error {
		got = append(got, *bt)
		if len(got) == 2 {
			cancel()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Start != fresh.Start || got[1].Start != fresh.Start || got[1].Seq != fresh.Seq {
		t.Fatalf("resumed consumer got %d batches (%+v)", len(got), got)
	}
}

func TestConsumeRetriesInOrder(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT = ""
	b := openBus(t, o)
	for i := uint64(1); i <= 3; i++ {
		if err := b.PublishBatch(ctxT(t), batchN("cnc01", i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign message on the samples subject is skipped, not fatal.
	if _, err := b.js.Publish(ctxT(t), "otl.v1.samples.junk", []byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishBatch(ctxT(t), batchN("cnc01", 4, 2)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	var seqs []uint64
	failed := false
	err := b.ConsumeSamples(ctx, "alarms", func(bt *model.Batch) error {
		seqs = append(seqs, bt.Seq)
		if bt.Seq == 2 && !failed {
			failed = true
			return errors.New("disk full")
		}
		if bt.Seq == 4 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2, 2, 3, 4}; !equalU64(seqs, want) {
		t.Fatalf("handled seqs %v, want %v", seqs, want)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPublishBackPressure(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT, o.MaxPending = "", 2
	b := openBus(t, o)
	// Take every slot as if two batches awaited acks.
	b.sem <- struct{}{}
	b.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := b.PublishBatch(ctx, batchN("cnc01", 1, 1))
	if errcode.Of(err) != errcode.BusPublishTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish with no free slot: %v", err)
	}
	<-b.sem
	<-b.sem
	if err := b.PublishBatch(ctxT(t), batchN("cnc01", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestBatchTooLarge(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT = ""
	b := openBus(t, o)
	big := &model.Batch{Device: "cnc01"}
	for range 9 {
		big.Samples = append(big.Samples, model.Sample{Tag: "a/b", Value: model.StringValue(strings.Repeat("x", 1<<20))})
	}
	if err := b.PublishBatch(ctxT(t), big); errcode.Of(err) != errcode.BusBatchTooLarge {
		t.Fatalf("got %v", err)
	}
	if s := b.Stats(); s.Pending != 0 || s.Published != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPublishFailureIsReported(t *testing.T) {
	o := testOptions(t, "")
	o.MQTT = ""
	o.MaxBytes = 64 << 10
	b := openBus(t, o)
	// A stream that refuses new messages when full: publishes fail with
	// an error ack, counted and returned by Flush.
	st, err := b.js.Stream(ctxT(t), SamplesStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Discard = jetstream.DiscardNew
	if _, err := b.js.UpdateStream(ctxT(t), cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := b.PublishBatch(ctxT(t), batchN("cnc01", uint64(i+1), 200)); err != nil {
			t.Fatal(err)
		}
	}
	err = b.Flush(ctxT(t))
	if errcode.Of(err) != errcode.BusPublishFailed {
		t.Fatalf("flush: %v", err)
	}
	s := b.Stats()
	if s.Failed == 0 || s.Acked+s.Failed != 20 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatalf("second flush reports the old failure again: %v", err)
	}
}

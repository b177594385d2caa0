package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/model"
)

const (
	crashTags    = 20
	crashPerTag  = 5
	crashBatches = 400
	crashDurable = "historian"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// crashBatch is batch i of the deterministic feed: crashPerTag samples of
// each tag, every value distinct so that a duplicate would show.
func crashBatch(i int) *model.Batch {
	base := int64(1_700_000_000) * sec
	b := &model.Batch{Device: "plc", Class: "fast", Seq: uint64(i + 1), Start: base + int64(i)*sec}
	for k := range crashTags {
		for j := range crashPerTag {
			ts := base + int64(i*crashPerTag+j)*int64(time.Millisecond)*10
			b.Samples = append(b.Samples, model.Sample{Tag: fmt.Sprintf("crash/t%02d", k),
				Value: model.FloatValue(model.Float64, float64(i*crashPerTag+j)+float64(k)/100), Source: ts, Server: ts})
		}
	}
	return b
}

// crashChild runs the historian: it connects to the parent's bus and
// ingests until killed.
func crashChild(url, dir string) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{URL: url, Logger: quiet, AckWait: 2 * time.Second})
	if err != nil {
		fmt.Println("bus:", err)
		os.Exit(2)
	}
	s, err := Open(dir, Options{MaxSamples: 64, SegmentSize: 64 << 10, MaxSegments: 4, Logger: quiet})
	if err != nil {
		fmt.Println("store:", err)
		os.Exit(2)
	}
	err = Ingest(ctx, b, s, crashDurable)
	fmt.Println("ingest:", err)
	os.Exit(2)
}

// TestCrashIngest is the acceptance test of issue 3: a child process
// ingests from the bus and is SIGKILLed at random moments, repeatedly,
// while batches are being published; after the last restart has caught
// up, every sample the bus holds is stored exactly once.
func TestCrashIngest(t *testing.T) {
	if url := os.Getenv("OTL_STORE_CRASH_URL"); url != "" {
		crashChild(url, os.Getenv("OTL_STORE_CRASH_DIR"))
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashIngest$")
		cmd.Env = append(os.Environ(), "OTL_STORE_CRASH_URL="+b.ClientURL(), "OTL_STORE_CRASH_DIR="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	// Publish while the historian is killed and restarted.
	pubDone := make(chan error, 1)
	go func() {
		for i := range crashBatches {
			if err := b.PublishBatch(ctx, crashBatch(i)); err != nil {
				pubDone <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		pubDone <- b.Flush(ctx)
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const kills = 6
	for range kills {
		cmd := start()
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond)
		kill(cmd)
	}
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	cmd := start()
	cons, err := b.JetStream().Consumer(ctx, bus.SamplesStream, crashDurable)
	if err != nil {
		kill(cmd)
		t.Fatal(err)
	}
	for {
		ci, err := cons.Info(ctx)
		if err != nil {
			kill(cmd)
			t.Fatalf("consumer never caught up: %v", err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream == crashBatches {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill(cmd) // acknowledged means durable: a last kill loses nothing
	s := open(t, dir, Options{})
	defer s.Close()
	want := map[string][]model.Sample{}
	for i := range crashBatches {
		for _, smp := range crashBatch(i).Samples {
			want[smp.Tag] = append(want[smp.Tag], smp)
		}
	}
	for tag, ws := range want {
		got := collect(t, s, tag, -1<<62, 1<<62)
		if len(got) != len(ws) {
			t.Fatalf("%s: %d samples stored, want %d (each exactly once)", tag, len(got), len(ws))
		}
		for i := range got {
			if !sameSample(&got[i], &ws[i]) || got[i].Server != ws[i].Server {
				t.Fatalf("%s sample %d = %+v, want %+v", tag, i, got[i], ws[i])
			}
		}
	}
	t.Logf("%d kills, %d samples verified, replayed %d at the last open", kills, crashBatches*crashTags*crashPerTag, s.Stats().Replayed)
}

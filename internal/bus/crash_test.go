package bus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
)

// TestKilledPublisherLosesNothing checks the first row of the durability
// table in docs/bus.md: with the default sync interval, batches that were
// acknowledged survive a SIGKILL of the process, because they are in the
// page cache. A child process (this test binary) publishes and flushes,
// says so, and is killed before it can close anything.
func TestKilledPublisherLosesNothing(t *testing.T) {
	const n = 200
	if dir := os.Getenv("OTL_BUS_CRASH_CHILD"); dir != "" {
		o := Options{Listen: "127.0.0.1:0", DataDir: dir, Logger: quiet}
		b, err := Open(context.Background(), o)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for i := range n {
			if err := b.PublishBatch(context.Background(), batchN("cnc01", uint64(i+1), 50)); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.Flush(ctx); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("acked", b.Stats().Acked)
		time.Sleep(30 * time.Second) // killed long before
		os.Exit(1)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledPublisherLosesNothing$")
	cmd.Env = append(os.Environ(), "OTL_BUS_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if strings.TrimSpace(line) != fmt.Sprintf("acked %d", n) {
		t.Fatalf("child said %q", line)
	}

	o := testOptions(t, dir)
	o.MQTT = ""
	b := openBus(t, o)
	st, err := b.js.Stream(ctxT(t), SamplesStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != n {
		t.Fatalf("after SIGKILL the stream holds %d batches, %d were acked", got, n)
	}
	cctx, ccancel := context.WithCancel(ctxT(t))
	var seq uint64
	if err := b.ConsumeSamples(cctx, "check", func(bt *model.Batch) error {
		seq++
		if bt.Seq != seq || len(bt.Samples) != 50 {
			t.Errorf("batch %d: seq %d with %d samples", seq, bt.Seq, len(bt.Samples))
		}
		if seq == n {
			ccancel()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seq != n {
		t.Fatalf("consumed %d of %d", seq, n)
	}
}

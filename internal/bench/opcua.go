package bench

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/driver/opcua"
	"github.com/otlink/otlink/internal/driver/opcua/nodepeer"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/uatrust"
)

// OPCUAOptions configure `otlink bench opcua`.
type OPCUAOptions struct {
	Items    int           // changing variables on the server, all monitored
	Change   time.Duration // how often the server changes every variable
	Duration time.Duration // measuring time of each strategy
	Policy   string        // security policy (None, Basic256Sha256, ...), SignAndEncrypt unless None
}

// OPCUAResult is what `otlink bench opcua` measured. JSON keys are stable.
type OPCUAResult struct {
	Items                 int     `json:"items"`
	Policy                string  `json:"security_policy"`
	ServerChangesPerSec   float64 `json:"server_changes_per_sec"`
	SetupSec              float64 `json:"subscribe_setup_sec"`
	DurationSec           float64 `json:"duration_sec"`
	SubscribeValuesPerSec float64 `json:"subscribe_values_per_sec"`
	PollValuesPerSec      float64 `json:"poll_values_per_sec"` // baseline: back-to-back Reads of all nodes
	PollCyclesPerSec      float64 `json:"poll_cycles_per_sec"`
	Ratio                 float64 `json:"subscribe_to_poll_ratio"`
	// Coverage: the share of the server's changes each strategy saw
	// (polling sees at most one change per node per cycle).
	SubscribeCoverage float64 `json:"subscribe_change_coverage"`
	PollCoverage      float64 `json:"poll_change_coverage"`
	NodesPerRead      int     `json:"nodes_per_read"`
}

// OPCUA measures values/s delivered by a subscription with Items monitored
// items on the node-opcua peer, and, in the same run as the baseline, the
// values/s of polling the same nodes with Reads of many nodes each.
func OPCUA(ctx context.Context, o OPCUAOptions) (OPCUAResult, error) {
	if o.Items <= 0 {
		o.Items = 10000
	}
	if o.Change <= 0 {
		o.Change = 100 * time.Millisecond
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Policy == "" {
		o.Policy = "None"
	}
	r := OPCUAResult{Items: o.Items, Policy: o.Policy, ServerChangesPerSec: float64(o.Items) / o.Change.Seconds(), DurationSec: o.Duration.Seconds()}
	tmp, err := os.MkdirTemp("", "otlink-bench-opcua-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	srv, err := nodepeer.Start(ctx, tmp+"/server-pki", fmt.Sprintf("BENCH=%d", o.Items), fmt.Sprintf("BENCH_MS=%d", o.Change.Milliseconds()))
	if err != nil {
		return r, err
	}
	defer srv.Stop()

	opts := map[string]string{"security_policy": o.Policy, "data_dir": tmp, "queue_size": "1"}
	d := opcua.New()
	dev := driver.DeviceSpec{Name: "bench", Endpoint: srv.Endpoint(), Timeout: 30 * time.Second, Options: opts}
	items := make([]driver.Item, o.Items)
	for i := range items {
		addr := fmt.Sprintf("ns=1;s=Bench.%d", i)
		p, err := d.Resolve(dev, driver.TagSpec{Address: addr, Type: model.Float64})
		if err != nil {
			return r, err
		}
		items[i] = driver.Item{Point: p, Address: addr, Interval: o.Change}
	}
	connect := func() (*opcua.Conn, error) {
		c, err := d.Open(dev, "")
		if err != nil {
			return nil, err
		}
		err = c.Connect(ctx)
		if errcode.Of(err) == errcode.UACertUntrusted {
			// The bench trusts the peer it started itself.
			st, serr := uatrust.Open(tmp)
			if serr != nil {
				return nil, serr
			}
			l, _ := st.List()
			for _, e := range l {
				if e.State == uatrust.DirRejected {
					_, _ = st.Trust(e.Thumbprint)
				}
			}
			err = c.Connect(ctx)
		}
		if err != nil {
			return nil, err
		}
		return c.(*opcua.Conn), nil
	}

	// Subscriptions.
	c, err := connect()
	if err != nil {
		return r, err
	}
	var good, seen atomic.Int64
	initial := make(chan struct{})
	var closed atomic.Bool
	sctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		errc <- c.Subscribe(sctx, items, func(u driver.Update) {
			if u.Quality.IsGood() {
				good.Add(1)
			}
			if seen.Add(1) >= int64(o.Items) && closed.CompareAndSwap(false, true) {
				close(initial)
			}
		})
	}()
	select {
	case <-initial:
	case err := <-errc:
		stop()
		c.Close()
		return r, fmt.Errorf("subscribe: %w", err)
	case <-time.After(2 * time.Minute):
		stop()
		c.Close()
		return r, fmt.Errorf("initial values of %d items did not arrive in 2 minutes", o.Items)
	}
	r.SetupSec = time.Since(start).Seconds()
	g0 := good.Load()
	time.Sleep(o.Duration)
	r.SubscribeValuesPerSec = float64(good.Load()-g0) / o.Duration.Seconds()
	stop()
	if err := <-errc; err != nil {
		c.Close()
		return r, fmt.Errorf("subscribe: %w", err)
	}
	c.Close()

	// Baseline: poll the same nodes as fast as one connection can, with
	// reads of as many nodes as the driver allows per request.
	c, err = connect()
	if err != nil {
		return r, err
	}
	defer c.Close()
	per := int(d.MaxCount(0))
	r.NodesPerRead = per
	var values, cycles int64
	var buf []byte
	deadline := time.Now().Add(o.Duration)
	pstart := time.Now()
	for time.Now().Before(deadline) {
		for s := 0; s < o.Items; s += per {
			n := min(per, o.Items-s)
			buf, err = c.Read(ctx, items[s].Point.Space, items[s].Point.Start, uint32(n), buf)
			if err != nil {
				return r, fmt.Errorf("poll: %w", err)
			}
			values += int64(n)
		}
		cycles++
	}
	el := time.Since(pstart).Seconds()
	r.PollValuesPerSec = float64(values) / el
	r.PollCyclesPerSec = float64(cycles) / el
	if r.PollValuesPerSec > 0 {
		r.Ratio = r.SubscribeValuesPerSec / r.PollValuesPerSec
	}
	r.SubscribeCoverage = r.SubscribeValuesPerSec / r.ServerChangesPerSec
	r.PollCoverage = min(r.PollCyclesPerSec*o.Change.Seconds(), 1)
	return r, nil
}

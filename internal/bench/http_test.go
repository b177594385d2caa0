package bench

import (
	"context"
	"testing"
	"time"
)

// TestHTTPBench runs the HTTP benchmark small: it must measure every part
// without errors (figures are reported, not asserted).
func TestHTTPBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts devices, engine, auth and an HTTPS server")
	}
	r, err := HTTP(context.Background(), HTTPOptions{Tags: 200, Devices: 2, Interval: 200 * time.Millisecond, Clients: 4, SSEClients: 4, Duration: time.Second, PageLimit: 50, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Load{r.Healthz, r.Tags10k, r.Paged} {
		if l.Requests == 0 || l.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors", l.Path, l.Requests, l.Errors)
		}
	}
	// 200 tags of some 100 bytes each; a page of 50 is a quarter of it.
	if r.Tags10k.BytesPerReply < 200*80 || r.Paged.BytesPerReply > r.Tags10k.BytesPerReply/2 {
		t.Errorf("reply sizes: all %.0f, page %.0f", r.Tags10k.BytesPerReply, r.Paged.BytesPerReply)
	}
	if r.SSE.Connected != 4 || r.SSE.TagUpdatesPerSec == 0 {
		t.Errorf("event streams: %+v", r.SSE)
	}
	t.Logf("%+v", r)
}

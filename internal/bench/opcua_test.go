package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver/opcua/nodepeer"
)

// TestOPCUASmall runs the OPC UA benchmark on 200 items: both strategies
// must deliver values. It asserts behaviour, not speed.
func TestOPCUASmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node-opcua server")
	}
	if _, err := nodepeer.Install(); errors.Is(err, nodepeer.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	r, err := OPCUA(ctx, OPCUAOptions{Items: 200, Change: 200 * time.Millisecond, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.SubscribeValuesPerSec <= 0 || r.PollValuesPerSec <= 0 || r.PollCyclesPerSec <= 0 {
		t.Fatalf("no values: %+v", r)
	}
	t.Logf("%+v", r)
}

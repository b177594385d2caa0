package opcua

import (
	"context"
	"errors"
	"testing"

	"github.com/otlink/otlink/internal/driver/opcua/nodepeer"
)

// peer is the independent node-opcua server of scripts/node-opcua.
type peer struct {
	t testing.TB
	s *nodepeer.Server
}

func startPeer(t testing.TB, env ...string) *peer {
	t.Helper()
	s, err := nodepeer.Start(context.Background(), t.TempDir(), env...)
	if errors.Is(err, nodepeer.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &peer{t: t, s: s}
}

func (p *peer) endpoint() string { return p.s.Endpoint() }

func (p *peer) restart() {
	p.t.Helper()
	if err := p.s.Restart(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

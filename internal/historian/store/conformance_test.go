package store

import (
	"testing"
	"time"

	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/historiantest"
)

// TestConformance runs the suite every historian backend passes, so the
// embedded store and PostgreSQL answer alike.
func TestConformance(t *testing.T) {
	historiantest.Run(t, func(t *testing.T) historian.Store {
		s, err := Open(t.TempDir(), Options{TimePrecision: time.Nanosecond, MaxSamples: 64})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

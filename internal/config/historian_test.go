package config

import (
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

const historianBase = "version: 1\nplant:\n  enterprise: acme\n"

func TestHistorianDefaults(t *testing.T) {
	c, err := Parse("h.yaml", []byte(historianBase))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Historian
	if h.Backend != HistorianEmbedded || h.Sync != "batch" || h.TimePrecision.D() != time.Millisecond || h.CheckpointInterval.D() != 10*time.Second {
		t.Fatalf("defaults: %+v", h)
	}
}

func TestHistorianValidation(t *testing.T) {
	for _, c := range []struct {
		yaml string
		code errcode.Code
	}{
		{"historian:\n  backend: sqlite\n", errcode.ConfigBadChoice},
		{"historian:\n  backend: postgres\n", errcode.ConfigMissing},
		{"historian:\n  dsn: postgres://x@127.0.0.1/db\n", errcode.ConfigHistorianDSN},
		{"historian:\n  sync: never\n", errcode.ConfigBadChoice},
		{"historian:\n  time_precision: 7ms\n", errcode.ConfigOutOfRange},
		{"historian:\n  time_precision: 2s\n", errcode.ConfigOutOfRange},
		{"historian:\n  checkpoint_interval: 1ms\n", errcode.ConfigOutOfRange},
		{"historian:\n  checkpoint_interval: 0s\n", errcode.ConfigOutOfRange},
	} {
		_, err := Parse("h.yaml", []byte(historianBase+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.code.String()) || !strings.Contains(err.Error(), "historian") {
			t.Errorf("%q: %v, want %s", c.yaml, err, c.code)
		}
	}
	for _, ok := range []string{
		"historian:\n  backend: off\n",
		"historian:\n  backend: postgres\n  dsn: postgres://otlink@127.0.0.1/otlink\n  sync: always\n",
		"historian:\n  time_precision: 1ns\n  checkpoint_interval: 1h\n",
	} {
		if _, err := Parse("h.yaml", []byte(historianBase+ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

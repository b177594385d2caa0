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

func TestHistorianRetentionAndLossy(t *testing.T) {
	c, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := c.Historian
	if h.RetentionInterval.D() != 30*time.Minute || h.Rollups == nil || !*h.Rollups || len(h.Retention) != 2 {
		t.Fatalf("historian: %+v", h)
	}
	r := h.Retention[0]
	if r.Name != "fast" || r.Match != "acme/*/*/*/*/speed" || r.Raw.D() != 90*24*time.Hour || r.Rollup1m.D() != 730*24*time.Hour || r.Rollup1h != 0 {
		t.Fatalf("rule: %+v", r)
	}
	var lossyTags int
	walkMachines(c, func(m *Machine, _ string, _ []string) {
		for _, tg := range m.Tags {
			if tg.Lossy != nil {
				lossyTags++
				if tg.Lossy.ExcDev != 0.05 || tg.Lossy.CompDev != 0.1 || time.Duration(tg.Lossy.CompMax) != 8*time.Hour || time.Duration(tg.Lossy.ExcMax) != 10*time.Minute {
					t.Errorf("lossy of %s: %+v", tg.Path, *tg.Lossy)
				}
			}
		}
	})
	if lossyTags != 1 {
		t.Fatalf("%d lossy tags, want 1", lossyTags)
	}
	// The settings survive WriteYAML and a second Parse.
	var b strings.Builder
	if err := WriteYAML(&b, c); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("again.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(c2.Historian.Retention) != 2 || c2.Historian.Retention[0] != r || c2.Historian.RetentionInterval != h.RetentionInterval {
		t.Fatalf("round trip: %+v", c2.Historian)
	}
}

func TestHistorianRollupsDefault(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want bool
	}{
		{"", true},
		{"historian:\n  rollups: false\n", false},
		{"historian:\n  backend: postgres\n  dsn: postgres://x@127.0.0.1/db\n", false},
	} {
		cfg, err := Parse("h.yaml", []byte(historianBase+c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Historian.Rollups == nil || *cfg.Historian.Rollups != c.want || cfg.Historian.RetentionInterval != DefaultRetentionInterval {
			t.Errorf("%q: rollups %v, interval %v", c.yaml, cfg.Historian.Rollups, cfg.Historian.RetentionInterval)
		}
	}
}

func TestParseDurationDays(t *testing.T) {
	for s, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1d12h": 36 * time.Hour, "-1d": -24 * time.Hour, "0": 0, "5s": 5 * time.Second} {
		got, err := parseDuration(s)
		if err != nil || got.D() != want {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"d", "1.5d", "xd", "1d-5h", "2y"} {
		if _, err := parseDuration(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

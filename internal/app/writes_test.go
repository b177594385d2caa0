package app

import (
	"testing"

	"github.com/otlink/otlink/internal/config"
)

// The write dialog's view of the config: writable tags with limits, in
// lines and in cells; a reload that drops writable drops the tag.
func TestWritableTagsFollowReload(t *testing.T) {
	mk := func(writable bool) *config.Config {
		lim := &config.Limits{Min: 0, Max: 100, MaxStep: 10}
		return &config.Config{Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "s", Areas: []config.Area{{Name: "a",
			Lines: []config.Line{{Name: "l",
				Machines: []config.Machine{{Name: "m", Tags: []config.Tag{
					{Name: "sp", Type: "float32", Writable: writable, Limits: lim, Unit: "rpm"},
					{Name: "nolimits", Type: "float32", Writable: true},
					{Name: "ro", Type: "float32"},
				}}},
				Cells: []config.Cell{{Name: "c", Machines: []config.Machine{{Name: "m2", Tags: []config.Tag{
					{Name: "sp", Type: "int16", Writable: true, Limits: lim},
				}}}}},
			}}}}}}}}
	}
	w := newEngineWrites(nil, mk(true))
	sp, ok := w.Writable("acme/s/a/l/m/sp")
	if !ok || sp.Max != 100 || sp.MaxStep != 10 || sp.Unit != "rpm" {
		t.Fatalf("acme/s/a/l/m/sp: %+v %v", sp, ok)
	}
	if _, ok := w.Writable("acme/s/a/l/c/m2/sp"); !ok {
		t.Error("a writable tag in a cell is missing")
	}
	for _, p := range []string{"acme/s/a/l/m/nolimits", "acme/s/a/l/m/ro", "acme/s/a/l/m/none"} {
		if _, ok := w.Writable(p); ok {
			t.Errorf("%s is writable", p)
		}
	}
	w.update(mk(false))
	if _, ok := w.Writable("acme/s/a/l/m/sp"); ok {
		t.Error("still writable after a reload made it read-only")
	}
}

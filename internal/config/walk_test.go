package config

import (
	"strings"
	"testing"
)

// EachMachine visits a line's machines before its cells', with the names
// above each machine.
func TestEachMachine(t *testing.T) {
	c := &Config{Plant: Plant{Enterprise: "acme", Sites: []Site{{Name: "s", Areas: []Area{{Name: "a", Lines: []Line{
		{Name: "l1", Machines: []Machine{{Name: "m1"}}, Cells: []Cell{{Name: "c1", Machines: []Machine{{Name: "m2"}, {Name: "m3"}}}}},
		{Name: "l2", Machines: []Machine{{Name: "m4"}}},
	}}}}}}}
	var got []string
	EachMachine(c, func(m *Machine, prefix []string) {
		got = append(got, strings.Join(prefix, "/")+"/"+m.Name)
	})
	want := "acme/s/a/l1/m1 acme/s/a/l1/c1/m2 acme/s/a/l1/c1/m3 acme/s/a/l2/m4"
	if strings.Join(got, " ") != want {
		t.Errorf("walk %v, want %s", got, want)
	}
	EachMachine(&Config{}, func(*Machine, []string) { t.Error("a machine in an empty plant") })
}

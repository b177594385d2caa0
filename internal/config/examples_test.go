package config

import (
	"path/filepath"
	"testing"

	// The examples use every driver of the binary (the virtual plant has an
	// MTConnect CNC and an OPC UA press).
	_ "github.com/otlink/otlink/internal/driver/mtconnect"
	_ "github.com/otlink/otlink/internal/driver/opcua"
)

// TestExamples checks that every config in examples/ loads without a
// problem. Without the Modbus driver linked in, testbus stands in for it;
// modbus_test.go links the real one.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("\n%v", err)
			}
			n := 0
			walkMachines(c, func(m *Machine, _ string, _ []string) { n += len(m.Tags) })
			if n == 0 {
				t.Errorf("no tags")
			}
		})
	}
}

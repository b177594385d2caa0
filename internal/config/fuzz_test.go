package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

// FuzzParse: any bytes give either a config or Errors whose problems have
// a registered code and a place; never a panic.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "../../examples"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("version: 1\nplant: {enterprise: acme}\ndevices: [{<<: *nope}]\n"))
	f.Add([]byte("\t\x00: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without error")
			}
			var b bytes.Buffer
			if err := WriteYAML(&b, c); err != nil {
				t.Fatal(err)
			}
			return
		}
		if c != nil {
			t.Fatal("config returned with an error")
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not Errors: %T %v", err, err)
		}
		for _, p := range errs {
			// Sections own their codes (north, opcua, mtconnect, monitor):
			// any registered code will do, never none.
			if _, known := errcode.Lookup(p.Code); !known || p.Msg == "" {
				t.Fatalf("bad problem %#v", p)
			}
		}
	})
}

// FuzzImportCSV: any bytes give a config or an error, never a panic.
func FuzzImportCSV(f *testing.F) {
	files, _ := filepath.Glob("testdata/csv/*.csv")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := ImportCSV(bytes.NewReader(data), ImportOptions{Name: "fuzz.csv"})
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

var update = flag.Bool("update", false, "rewrite golden files")

func importFile(t *testing.T, path string) (*Config, Errors) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, probs, err := ImportCSV(f, ImportOptions{Name: path, Enterprise: "acme", Site: "taichung", Area: "machining",
		Line: "line1", Machine: "cnc01", Device: "cnc01-plc", Driver: "testbus", Endpoint: "tcp://10.0.0.21:502"})
	if err != nil {
		t.Fatal(err)
	}
	return c, probs
}

func problemKeys(ps Errors) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%d:%s", p.Line, p.Code))
	}
	return strings.Join(s, " ")
}

func TestImportKepware(t *testing.T) {
	c, probs := importFile(t, "testdata/csv/kepware.csv")
	want := "6:OTL-1055 7:OTL-1055 11:OTL-1055 12:OTL-1052 13:OTL-1053 14:OTL-1054 15:OTL-1051 16:OTL-1051"
	if got := problemKeys(probs); got != want {
		t.Errorf("problems\ngot  %s\nwant %s\n%v", got, want, probs)
	}
	for _, p := range probs {
		if !strings.Contains(p.Msg, "row ") || p.Col == 0 {
			t.Errorf("problem without row or column: %v", p)
		}
	}
	tags := c.Plant.Sites[0].Areas[0].Lines[0].Machines[0].Tags
	byName := map[string]Tag{}
	for _, tg := range tags {
		byName[tg.Name] = tg
	}
	if len(tags) != 11 {
		t.Fatalf("imported %d tags, want 11: %v", len(tags), tags)
	}
	check := func(name, addr, typ, poll string) {
		t.Helper()
		tg, ok := byName[name]
		if !ok {
			t.Errorf("no tag %s", name)
			return
		}
		if tg.Address != addr || tg.Type != typ || tg.Poll != poll {
			t.Errorf("%s: got %s %s %s, want %s %s %s", name, tg.Address, tg.Type, tg.Poll, addr, typ, poll)
		}
	}
	check("Spindle_Speed", "hr:0", "uint16", "p100ms")
	check("Coolant_Temp", "ir:9", "float32", "p1s")
	check("Door_Open", "di:2", "bool", "p500ms")
	check("Cycle_Start", "coil:4", "bool", "p500ms")
	check("Status_Alarm", "hr:10.3", "bool", "p500ms")
	check("Program", "hr:99", "string", "p5s")
	check("PartCount", "hr:199", "uint32", "default")
	check("Energy", "hr:799", "int64", "p1m")
	if tg := byName["Program"]; tg.Length != 20 || tg.ByteOrder != "big" {
		t.Errorf("string: %+v", tg)
	}
	if tg := byName["Coolant_Temp"]; tg.Scale == nil || tg.Scale.Gain != 0.1 || tg.Scale.Offset != -40 || tg.Range == nil || tg.Range.Min != -40 || tg.Range.Max != 60 || tg.Unit != "degC" {
		t.Errorf("linear scaling: %+v %+v %+v", tg, tg.Scale, tg.Range)
	}
	if tg := byName["Torque"]; tg.Scale == nil || tg.Scale.Gain != -1 {
		t.Errorf("negated unscaled tag: %+v", tg.Scale)
	}
	if tg := byName["Energy"]; tg.Scale == nil || tg.Scale.Gain != -0.001 || tg.Range.Min != -1 || tg.Range.Max != 0 {
		t.Errorf("negated linear: %+v %+v", tg.Scale, tg.Range)
	}
	for _, tg := range tags {
		if tg.Writable {
			t.Errorf("%s imported writable", tg.Name)
		}
	}
	var names []string
	for _, pc := range c.Devices[0].Poll {
		names = append(names, pc.Name+"="+pc.Interval.String())
	}
	if got := strings.Join(names, " "); got != "default=1s p100ms=100ms p500ms=500ms p1s=1s p5s=5s p1m=1m" {
		t.Errorf("poll classes %s", got)
	}
	roundTrip(t, c, "testdata/csv/kepware.golden.yaml")
}

// roundTrip writes c as YAML, compares it with a golden file, loads it
// back (it must validate) and writes it again: the output must not change.
func roundTrip(t *testing.T, c *Config, golden string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteYAML(&b, c); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(want, b.Bytes()) {
		t.Errorf("YAML differs from %s (run with -update to accept)\n%s", golden, b.String())
	}
	back, err := Parse("written.yaml", b.Bytes())
	if err != nil {
		t.Fatalf("written YAML does not load: %v\n%s", err, b.String())
	}
	var b2 bytes.Buffer
	if err := WriteYAML(&b2, back); err != nil {
		t.Fatal(err)
	}
	// Loading adds defaults; writing the defaulted original must match.
	Defaults(c)
	var b3 bytes.Buffer
	if err := WriteYAML(&b3, c); err != nil {
		t.Fatal(err)
	}
	if b2.String() != b3.String() {
		t.Errorf("write-load-write changed the config\nfirst\n%s\nsecond\n%s", b3.String(), b2.String())
	}
}

func TestImportGeneric(t *testing.T) {
	c, probs := importFile(t, "testdata/csv/generic.csv")
	if got, want := problemKeys(probs), "5:OTL-1055 6:OTL-1052"; got != want {
		t.Errorf("problems got %s want %s\n%v", got, want, probs)
	}
	tags := c.Plant.Sites[0].Areas[0].Lines[0].Machines[0].Tags
	if len(tags) != 5 {
		t.Fatalf("%d tags", len(tags))
	}
	if tags[1].Address != "ir:9" || tags[1].Unit != "degC" || tags[3].Address != "hr:200" || tags[4].Address != "hr:300" || tags[0].Poll != "p100ms" || tags[2].Poll != "default" {
		t.Errorf("tags %+v", tags)
	}
	roundTrip(t, c, "testdata/csv/generic.golden.yaml")
}

func TestImportUnknownHeader(t *testing.T) {
	f, err := os.Open("testdata/csv/unknown.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, err = ImportCSV(f, ImportOptions{Name: "unknown.csv"})
	if errcode.Of(err) != errcode.ConfigCSVHeader {
		t.Fatalf("want OTL-1050, got %v", err)
	}
}

func TestConvertAddress(t *testing.T) {
	cases := []struct{ in, typ, want string }{
		{"400001", "uint16", "hr:0"}, {"40001", "uint16", "hr:0"}, {"300010", "float32", "ir:9"},
		{"000005", "bool", "coil:4"}, {"00005", "bool", "coil:4"}, {"100003", "bool", "di:2"},
		{"400010.3", "bool", "hr:9.3"}, {"465536", "uint16", "hr:65535"}, {"hr:7", "int16", "hr:7"},
		{"465537", "uint16", "error"}, {"400000", "uint16", "error"}, {"200001", "uint16", "error"},
		{"4001", "uint16", "error"}, {"000001.2", "bool", "error"}, {"400001.16", "bool", "error"},
	}
	for _, c := range cases {
		typ, _ := importType(c.typ)
		got, _, _, err := convertAddress(c.in, typ)
		if err != nil {
			got = "error"
		}
		if got != c.want {
			t.Errorf("%s: got %s want %s (%v)", c.in, got, c.want, err)
		}
	}
}

func TestWriteYAMLQuoting(t *testing.T) {
	for _, s := range []string{"40001", "true", "off", "a: b", "x #y", "", "-5", "0x10", "1e5", "it's", "é", "tcp://h:502", "a\nb", "000005", "1_000"} {
		c := &Config{Version: 1, Plant: Plant{Enterprise: "acme"}, Data: s}
		var b bytes.Buffer
		if err := WriteYAML(&b, c); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("q.yaml", b.Bytes())
		if err != nil {
			t.Fatalf("%q: %v\n%s", s, err, b.String())
		}
		if back.Data != s {
			t.Errorf("%q came back as %q\n%s", s, back.Data, b.String())
		}
	}
}

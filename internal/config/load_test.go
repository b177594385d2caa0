package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	d0, d1 := c.Devices[0], c.Devices[1]
	if d0.Unit != 0 {
		t.Errorf("explicit unit 0 became %d", d0.Unit)
	}
	if d1.Unit != 1 || d1.Timeout.D() != time.Second || d1.Budget.MaxInFlight != 1 || d1.Coalesce.MaxGap != 16 || d1.Report != "change" {
		t.Errorf("device defaults not applied: %+v", d1)
	}
	if d0.Coalesce.MaxGap != 0 {
		t.Errorf("explicit max_gap 0 became %d", d0.Coalesce.MaxGap)
	}
	if len(d1.Poll) != 1 || d1.Poll[0].Name != "default" || d1.Poll[0].Interval.D() != time.Second {
		t.Errorf("default poll class: %+v", d1.Poll)
	}
	if d0.Poll[1].Interval.D() != 90*time.Second || d0.Budget.MinGap.D() != 10*time.Millisecond {
		t.Errorf("durations: %+v", d0)
	}
	if c.Bus.MQTT != "off" || c.Bus.Listen != "127.0.0.1:14222" || c.HTTP.Listen != ":8080" {
		t.Errorf("bus/http: %+v %+v", c.Bus, c.HTTP)
	}
	m := c.Plant.Sites[0].Areas[0].Lines[0].Machines[0]
	if got := m.Tags[0].Path; got != "acme/taichung/machining/line1/cnc01/spindle_speed" {
		t.Errorf("path %q", got)
	}
	if s := m.Tags[1].Scale; s == nil || s.Gain != 0.1 || s.Offset != -40 {
		t.Errorf("scale %+v", s)
	}
	if l := m.Tags[5].Limits; l == nil || l.MinInterval.D() != 2*time.Second || l.MaxStep != 50 {
		t.Errorf("limits %+v", l)
	}
	cellTag := c.Plant.Sites[0].Areas[0].Lines[1].Cells[0].Machines[0].Tags[1]
	if cellTag.Path != "acme/taichung/machining/line2/cell_a/press01/door_open" {
		t.Errorf("cell path %q", cellTag.Path)
	}
	if c.File != "testdata/valid/full.yaml" || d0.Options["retries"] != "2" {
		t.Errorf("file %q options %v", c.File, d0.Options)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if errcode.Of(err) != errcode.ConfigRead {
		t.Fatalf("want OTL-1000, got %v", err)
	}
}

func TestErrorsFormat(t *testing.T) {
	_, err := Parse("plant.yaml", []byte("version: 1\nplant:\n  enterprize: acme\n"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	want := "plant.yaml:3:3: OTL-1002 unknown key \"enterprize\" in plant (hint: did you mean \"enterprise\"?)"
	if first := strings.Split(err.Error(), "\n")[0]; first != want {
		t.Errorf("got  %s\nwant %s", first, want)
	}
	if errcode.Of(err) != errcode.ConfigUnknownKey {
		t.Errorf("errcode.Of = %v", errcode.Of(err))
	}
	if !errors.Is(err, errcode.ConfigMissing) {
		t.Errorf("errors.Is should find the missing enterprise: %v", err)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `version: 1
plant:
  enterprise: acme
devices:
  - &base
    name: a
    driver: testbus
    endpoint: tcp://127.0.0.1:502
    budget: {max_in_flight: 2}
  - <<: *base
    name: b
    endpoint: tcp://127.0.0.1:503
`
	c, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Devices[1]
	if b.Name != "b" || b.Driver != "testbus" || b.Endpoint != "tcp://127.0.0.1:503" || b.Budget.MaxInFlight != 2 {
		t.Errorf("merged device %+v", b)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"100ms": 100 * time.Millisecond, "5s": 5 * time.Second, "1m30s": 90 * time.Second, "0": 0} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%q: %v %v", in, d, err)
		}
	}
	var d Duration
	err := d.UnmarshalText([]byte("5"))
	if err == nil || !strings.Contains(err.Error(), "no unit") {
		t.Errorf("5 without unit: %v", err)
	}
	if err := d.UnmarshalYAML([]byte(`"250ms"`)); err != nil || d.D() != 250*time.Millisecond {
		t.Errorf("yaml: %v %v", d, err)
	}
	if b, _ := Duration(90 * time.Second).MarshalText(); string(b) != "1m30s" {
		t.Errorf("marshal %s", b)
	}
}

func TestValidateInCode(t *testing.T) {
	c := &Config{Version: 1, Plant: Plant{Enterprise: "acme"}, Devices: []Device{{Name: "d", Driver: "testbus", Endpoint: "tcp://h:502"}}}
	Defaults(c)
	if err := Validate(c); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	c.Devices[0].Budget.MaxInFlight = 40
	err := Validate(c)
	if errcode.Of(err) != errcode.ConfigBudgetRange || !strings.Contains(err.Error(), "$.devices[0].budget.max_in_flight") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "# nothing\n"} {
		_, err := Parse("e.yaml", []byte(src))
		var errs Errors
		if !errors.As(err, &errs) || !errs.Has(errcode.ConfigMissing) {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestLoadReadsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("version: 1\nplant: {enterprise: acme}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil || c.Plant.Enterprise != "acme" || c.HTTP.Listen != DefaultHTTPListen {
		t.Fatalf("%+v %v", c, err)
	}
}

// sharedTags uses one anchored tag list for two machines: the decoder lets
// go of list items once decoded, and must not for an anchored list.
const sharedTags = `version: 1
plant:
  enterprise: acme
  sites:
    - name: s
      areas:
        - name: a
          lines:
            - name: l
              machines:
                - name: m1
                  device: plc1
                  tags: &std
                    - name: speed
                      address: hr:1
                      type: uint16
                    - name: temp
                      address: hr:2
                      type: TEMPTYPE
                - name: m2
                  device: plc2
                  tags: *std
devices:
  - &base
    name: plc1
    driver: testbus
    endpoint: tcp://127.0.0.1:502
    unit: 0
  - <<: *base
    name: plc2
    endpoint: tcp://127.0.0.1:503
`

func TestAliasedListDecodedTwice(t *testing.T) {
	c, err := Parse("shared.yaml", []byte(strings.Replace(sharedTags, "TEMPTYPE", "int16", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ms := c.Plant.Sites[0].Areas[0].Lines[0].Machines
	for _, m := range ms {
		if len(m.Tags) != 2 || m.Tags[1].Name != "temp" || m.Tags[1].Address != "hr:2" {
			t.Fatalf("machine %s tags %+v", m.Name, m.Tags)
		}
	}
	if got := ms[1].Tags[1].Path; got != "acme/s/a/l/m2/temp" {
		t.Errorf("path %q", got)
	}
	// unit 0 is written once, under the anchor, and merged into plc2.
	if c.Devices[0].Unit != 0 || c.Devices[1].Unit != 0 {
		t.Errorf("explicit unit 0 became %d and %d", c.Devices[0].Unit, c.Devices[1].Unit)
	}
}

// TestPlaceAfterDecoding checks problems found after decoding, when the
// node tree is gone and must be parsed again, get their line and column,
// through an alias too.
func TestPlaceAfterDecoding(t *testing.T) {
	_, err := Parse("shared.yaml", []byte(strings.Replace(sharedTags, "TEMPTYPE", "float", 1)))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	var got []string
	for _, p := range errs {
		got = append(got, fmt.Sprintf("%s %d:%d %s", p.Code, p.Line, p.Col, p.Path))
	}
	want := []string{
		errcode.ConfigUnknownType.String() + " 19:29 $.plant.sites[0].areas[0].lines[0].machines[0].tags[1].type",
		errcode.ConfigUnknownType.String() + " 19:29 $.plant.sites[0].areas[0].lines[0].machines[1].tags[1].type",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

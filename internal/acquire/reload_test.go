package acquire

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
)

// The fingerprint a reload compares is a hash of the device's and its
// tags' configuration. Changing any one field of one tag (found by
// reflection, so a field added to config.Tag later is covered too) must
// restart that device and only it, and the path index must follow.
func TestReloadDetectsAChangedTag(t *testing.T) {
	f := newFakeDriver()
	mk := func(mod func(*config.Tag)) *config.Config {
		a, b := devCfg("a", "a:502", time.Second), devCfg("b", "b:502", time.Second)
		b.Poll = append(b.Poll, config.PollClass{Name: "slow", Interval: config.Duration(2 * time.Second)})
		tags := map[string][]config.Tag{"a": regTags(3, 0, 1), "b": regTags(3, 0, 1)}
		if mod != nil {
			mod(&tags["b"][1])
		}
		return plantWith([]config.Device{a, b}, tags)
	}
	e, err := New(mk(nil), testOpts(f, newRecSink()))
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[config.Tag]()
	for i := range typ.NumField() {
		fd := typ.Field(i)
		if fd.Name == "Device" || fd.Name == "Path" {
			continue // moving a tag changes two devices; Path is derived (see the path case below)
		}
		mod := func(tg *config.Tag) {
			v := reflect.ValueOf(tg).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				if fd.Name == "Poll" {
					v.SetString("slow")
				} else {
					v.SetString(v.String() + "x")
				}
			case reflect.Int, reflect.Int64:
				v.SetInt(v.Int() + 1)
			case reflect.Float64:
				v.SetFloat(v.Float() + 0.5)
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Pointer:
				p := reflect.New(v.Type().Elem())
				p.Elem().Field(0).SetFloat(2)
				v.Set(p)
			default:
				t.Fatalf("field %s of kind %s: teach this test to change it", fd.Name, v.Kind())
			}
		}
		before := map[string]*device{"a": e.devs["a"], "b": e.devs["b"]}
		if err := e.Apply(mk(mod)); err != nil {
			t.Fatalf("%s changed: %v", fd.Name, err)
		}
		if e.devs["a"] != before["a"] {
			t.Errorf("%s of a tag of b changed: unchanged device a was restarted", fd.Name)
		}
		if e.devs["b"] == before["b"] {
			t.Errorf("%s of a tag of b changed: device b was not restarted", fd.Name)
		}
		// The index holds every tag of every device once, sorted by path,
		// and a lookup by path finds the tag of that path.
		vw := e.view.Load()
		total := 0
		for _, d := range vw.devs {
			total += len(d.p.tags)
		}
		if len(vw.tags) != total {
			t.Fatalf("after changing %s: index has %d tags, devices have %d", fd.Name, len(vw.tags), total)
		}
		for i, ref := range vw.tags {
			path := vw.pathOf(ref)
			if i > 0 && vw.pathOf(vw.tags[i-1]) >= path {
				t.Fatalf("after changing %s: index not sorted at %s", fd.Name, path)
			}
			got, ok := vw.lookup(path)
			if !ok || got != ref {
				t.Fatalf("after changing %s: lookup(%s) = %v, %v; want %v", fd.Name, path, got, ok, ref)
			}
		}
		// Back to the original: b restarts again, a stays.
		before = map[string]*device{"a": e.devs["a"], "b": e.devs["b"]}
		if err := e.Apply(mk(nil)); err != nil {
			t.Fatal(err)
		}
		if e.devs["a"] != before["a"] || e.devs["b"] == before["b"] {
			t.Errorf("reverting %s: a kept %v, b kept %v; want a kept, b restarted", fd.Name, e.devs["a"] == before["a"], e.devs["b"] == before["b"])
		}
	}

	// An identical config keeps both; a renamed machine (a path change only) restarts its device.
	before := map[string]*device{"a": e.devs["a"], "b": e.devs["b"]}
	if err := e.Apply(mk(nil)); err != nil {
		t.Fatal(err)
	}
	if e.devs["a"] != before["a"] || e.devs["b"] != before["b"] {
		t.Error("an identical config restarted a device")
	}
	c := mk(nil)
	c.Plant.Sites[0].Areas[0].Lines[0].Machines[1].Name = "b2"
	if err := e.Apply(c); err != nil {
		t.Fatal(err)
	}
	if e.devs["a"] != before["a"] || e.devs["b"] == before["b"] {
		t.Error("renaming b's machine (its tags' paths) did not restart b alone")
	}
	if _, ok := e.view.Load().lookup(tagPath("b2", "t1")); !ok {
		t.Error("the renamed path is not in the index")
	}
	if _, ok := e.view.Load().lookup(tagPath("b", "t1")); ok {
		t.Error("the old path is still in the index")
	}
}

// Tag state keeps values packed in 8 bytes; every type must come back
// exactly, NaN payloads and extreme integers included.
func TestPackedValuesRoundTrip(t *testing.T) {
	for _, v := range []model.Value{
		{}, model.BoolValue(true), model.BoolValue(false),
		model.IntValue(model.Int8, -128), model.IntValue(model.Int16, -2), model.IntValue(model.Int32, math.MinInt32),
		model.IntValue(model.Int64, math.MinInt64), model.UintValue(model.Uint8, 255), model.UintValue(model.Uint16, 65535),
		model.UintValue(model.Uint32, math.MaxUint32), model.UintValue(model.Uint64, math.MaxUint64),
		model.FloatValue(model.Float32, -1.5), model.FloatValue(model.Float64, math.Inf(-1)),
		model.FloatValue(model.Float64, math.Float64frombits(0x7FF8000000000123)), model.StringValue("héllo"),
	} {
		if got := unpackValue(v.T, packValue(v), v.Str()); got != v {
			t.Errorf("%v (%s): came back as %v", v, v.T, got)
		}
	}
}

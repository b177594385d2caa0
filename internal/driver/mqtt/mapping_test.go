package mqtt

import (
	"encoding/json"
	"testing"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func TestParseJSONAddr(t *testing.T) {
	for _, c := range []struct {
		in, topic, value, time string
		err                    bool
	}{
		{in: "factory/line1/press/temp", topic: "factory/line1/press/temp"},
		{in: "f/t#$.value", topic: "f/t", value: `$["value"]`},
		{in: "f/t#$.data[2].v#$.ts", topic: "f/t", value: `$["data"][2]["v"]`, time: `$["ts"]`},
		{in: "f/t#$['a.b#c'][0]", topic: "f/t", value: `$["a.b#c"][0]`},
		{in: `f/t#$["x"]#$.meta["time"]`, topic: "f/t", value: `$["x"]`, time: `$["meta"]["time"]`},
		{in: "f/#", err: true},
		{in: "f/+/t", err: true},
		{in: "", err: true},
		{in: "#$.v", err: true},
		{in: "f/t#value", err: true},
		{in: "f/t#$.", err: true},
		{in: "f/t#$[", err: true},
		{in: "f/t#$['x", err: true},
		{in: "f/t#$[-1]", err: true},
		{in: "f/t#$.v#", err: true},
		{in: "f/t#$.v#$.t#$.u", err: true},
		{in: "f/t#$.v x", topic: "f/t", value: `$["v x"]`},
	} {
		a, err := parseJSONAddr(c.in)
		if c.err {
			if err == nil || errcode.Of(err) != errcode.MQTTBadAddress {
				t.Errorf("%q: err %v, want OTL-3112", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got := ""
		if a.value != nil {
			got = a.value.String()
		}
		gt := ""
		if a.time != nil {
			gt = a.time.String()
		}
		if a.topic != c.topic || got != c.value || gt != c.time {
			t.Errorf("%q: topic %q value %q time %q, want %q %q %q", c.in, a.topic, got, gt, c.topic, c.value, c.time)
		}
	}
}

func TestParseSparkplugAddr(t *testing.T) {
	for _, c := range []struct {
		in                          string
		group, edge, device, metric string
		err                         bool
	}{
		{in: "g/e/Temperature", group: "g", edge: "e", metric: "Temperature"},
		{in: "g/e/dev/line1/temp", group: "g", edge: "e", device: "dev", metric: "line1/temp"},
		{in: "g/e//Node Control/Rebirth", group: "g", edge: "e", metric: "Node Control/Rebirth"},
		{in: "g/e", err: true},
		{in: "g//m", err: true},
		{in: "g/e/d/", err: true},
		{in: "g/+/m", err: true},
	} {
		a, err := parseSparkplugAddr(c.in)
		if c.err != (err != nil) {
			t.Errorf("%q: err %v", c.in, err)
			continue
		}
		if !c.err && (a != spAddr{c.group, c.edge, c.device, c.metric}) {
			t.Errorf("%q: %+v", c.in, a)
		}
	}
}

func items(typs []model.Type, addrs ...string) []driver.Item {
	out := make([]driver.Item, len(addrs))
	for i, a := range addrs {
		out[i] = driver.Item{Address: a, Tag: a, Point: driver.Point{Type: typs[i%len(typs)], Count: 1}}
	}
	return out
}

func noLen(int) int { return 0 }

func TestJSONMap(t *testing.T) {
	its := items([]model.Type{model.Float64, model.Int16, model.String, model.Bool, model.Uint64, model.Float32},
		"p/temp#$.value",      // 0 float64
		"p/temp#$.count#$.ts", // 1 int16 with its own time
		"p/temp#$.name",       // 2 string
		"p/on",                // 3 bool plain
		"p/big#$.n",           // 4 uint64
		"p/plain",             // 5 float32 plain
	)
	m, err := newJSONMap(its, noLen, "$.t")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.order) != 4 || m.order[0] != "p/temp" {
		t.Fatalf("topics %v", m.order)
	}
	type want struct {
		item int
		v    model.Value
		q    model.Quality
		code errcode.Code
		src  int64
	}
	for _, c := range []struct {
		topic, payload string
		want           []want
		fails          bool
	}{
		{"p/temp", `{"value": 21.5, "count": 7, "ts": "2024-01-02T03:04:05Z", "name": "A", "t": 1700000000123}`, []want{
			{0, model.FloatValue(model.Float64, 21.5), model.Good, 0, 1700000000123e6},
			{1, model.IntValue(model.Int16, 7), model.Good, 0, 1704164645e9},
			{2, model.StringValue("A"), model.Good, 0, 1700000000123e6},
		}, false},
		{"p/temp", `{"value": "22", "count": 70000, "name": 5}`, []want{
			{0, model.FloatValue(model.Float64, 22), model.Good, 0, 0},
			{1, model.Value{}, model.BadOutOfRange, errcode.MQTTBadValue, 0},
			{2, model.StringValue("5"), model.Good, 0, 0},
		}, true},
		{"p/temp", `{"value": [1]}`, []want{
			{0, model.Value{}, model.BadDecodingError, errcode.MQTTBadValue, 0},
			{1, model.Value{}, model.BadDecodingError, errcode.MQTTNoValue, 0},
			{2, model.Value{}, model.BadDecodingError, errcode.MQTTNoValue, 0},
		}, true},
		{"p/temp", `{"value": 1`, []want{
			{0, model.Value{}, model.BadDecodingError, errcode.MQTTBadJSON, 0},
			{1, model.Value{}, model.BadDecodingError, errcode.MQTTBadJSON, 0},
			{2, model.Value{}, model.BadDecodingError, errcode.MQTTBadJSON, 0},
		}, true},
		{"p/on", "true", []want{{3, model.BoolValue(true), model.Good, 0, 0}}, false},
		{"p/on", " 0\n", []want{{3, model.BoolValue(false), model.Good, 0, 0}}, false},
		{"p/on", "maybe", []want{{3, model.Value{}, model.BadDecodingError, errcode.MQTTBadValue, 0}}, true},
		{"p/big", `{"n": 18446744073709551615, "t": 1700000000}`, []want{{4, model.UintValue(model.Uint64, 18446744073709551615), model.Good, 0, 1700000000e9}}, false},
		{"p/big", `{"n": -1}`, []want{{4, model.Value{}, model.BadOutOfRange, errcode.MQTTBadValue, 0}}, true},
		{"p/plain", "3.25", []want{{5, model.FloatValue(model.Float32, 3.25), model.Good, 0, 0}}, false},
		{"p/plain", "", []want{{5, model.Value{}, model.BadDecodingError, errcode.MQTTNoValue, 0}}, true},
		{"p/plain", "1e39", []want{{5, model.Value{}, model.BadOutOfRange, errcode.MQTTBadValue, 0}}, true},
		{"other", "1", nil, false},
	} {
		got, err := m.handle(c.topic, []byte(c.payload), nil)
		if (err != nil) != c.fails {
			t.Errorf("%s %s: err %v", c.topic, c.payload, err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s %s: %d updates, want %d: %+v", c.topic, c.payload, len(got), len(c.want), got)
			continue
		}
		for i, w := range c.want {
			u := got[i]
			if u.Item != w.item || !u.Value.Equal(w.v) || u.Quality != w.q || errcode.Code(u.Code) != w.code || u.Source != w.src {
				t.Errorf("%s %s: update %d = %+v, want %+v", c.topic, c.payload, i, u, w)
			}
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1700000000":          1700000000e9,
		"1700000000.5":        1700000000500e6,
		"1700000000123":       1700000000123e6,
		"1700000000123456":    1700000000123456e3,
		"1700000000123456789": 1700000000123456789,
	} {
		got, err := parseTime(jsonNumber(in))
		if err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []any{jsonNumber("-1"), "yesterday", true, jsonNumber("1e300")} {
		if _, err := parseTime(in); errcode.Of(err) != errcode.MQTTBadTimestamp {
			t.Errorf("%v: err %v", in, err)
		}
	}
}

// FuzzJSONMap feeds arbitrary addresses and payloads through the json
// mapping: it must never panic, and every tag on the topic gets exactly one
// update, good with a value or bad with a code.
func FuzzJSONMap(f *testing.F) {
	f.Add("t#$.a[0].b#$.ts", []byte(`{"a":[{"b":1.5}],"ts":1700000000}`), uint8(model.Float64))
	f.Add("t", []byte(`"x"`), uint8(model.String))
	f.Add("t#$['k']", []byte(`{"k":{"z":[1,2]}}`), uint8(model.String))
	f.Add("t#$.v", []byte(`{"v":1e400}`), uint8(model.Int8))
	f.Add("t", []byte("\xff\xfe"), uint8(model.Bool))
	f.Fuzz(func(t *testing.T, addr string, payload []byte, typ uint8) {
		ty := model.Type(typ%uint8(model.String) + 1)
		a, err := parseJSONAddr(addr)
		if err != nil {
			if errcode.Of(err) != errcode.MQTTBadAddress {
				t.Fatalf("address error without its code: %v", err)
			}
			return
		}
		m, err := newJSONMap([]driver.Item{{Address: addr, Point: driver.Point{Type: ty}}}, noLen, "")
		if err != nil {
			t.Fatal(err)
		}
		us, _ := m.handle(a.topic, payload, nil)
		if len(us) != 1 {
			t.Fatalf("%d updates", len(us))
		}
		u := us[0]
		switch {
		case u.Quality.IsGood() && (u.Value.T != ty || u.Code != 0):
			t.Fatalf("good update %+v for type %s", u, ty)
		case u.Quality.IsBad() && (u.Code == 0 || u.Value.IsValid()):
			t.Fatalf("bad update %+v without a code", u)
		}
	})
}
func jsonNumber(s string) json.Number { return json.Number(s) }

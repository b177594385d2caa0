package bus

import (
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

const t0 = int64(1700000000000000000) // 2023-11-14T22:13:20Z

// allTypes is a batch with a sample of every type and the float edge cases.
func allTypes() *model.Batch {
	p := "acme/taichung/machining/line1/cnc01/"
	s := func(tag string, v model.Value, q model.Quality, src int64) model.Sample {
		return model.Sample{Tag: p + tag, Value: v, Quality: q, Source: t0 + src, Server: t0 + src + 700}
	}
	return &model.Batch{
		Device: "cnc01", Class: "fast", Seq: 42, Start: t0, End: t0 + 3_000_000, Missed: 2,
		Samples: []model.Sample{
			s("run", model.BoolValue(true), model.Good, 10),
			s("stop", model.BoolValue(false), model.Good, 10),
			s("i8", model.IntValue(model.Int8, -128), model.Good, 20),
			s("i16", model.IntValue(model.Int16, -32768), model.Good, 20),
			s("i32", model.IntValue(model.Int32, math.MinInt32), model.Uncertain, 20),
			s("i64", model.IntValue(model.Int64, math.MinInt64), model.Good, -5), // source before the cycle started
			s("u8", model.UintValue(model.Uint8, 255), model.Good, 30),
			s("u16", model.UintValue(model.Uint16, 65535), model.Good, 30),
			s("u32", model.UintValue(model.Uint32, math.MaxUint32), model.Good, 30),
			s("u64", model.UintValue(model.Uint64, math.MaxUint64), model.Good, 30),
			s("f32", model.FloatValue(model.Float32, 0.1), model.Good, 40), // not exact in float32: must survive anyway
			s("f64", model.FloatValue(model.Float64, -1.5e300), model.Good, 40),
			s("nan", model.FloatValue(model.Float64, math.NaN()), model.Good, 40),
			s("nanpayload", model.FloatValue(model.Float64, math.Float64frombits(0x7ff8_0000_dead_beef)), model.Good, 40),
			s("inf", model.FloatValue(model.Float64, math.Inf(1)), model.Good, 40),
			s("ninf", model.FloatValue(model.Float32, math.Inf(-1)), model.Good, 40),
			s("negzero", model.FloatValue(model.Float64, math.Copysign(0, -1)), model.Good, 40),
			s("program", model.StringValue("O1234 (主軸) \x00\"quoted\""), model.Good, 50),
			s("empty", model.StringValue(""), model.Good, 50),
			{Tag: p + "temp", Quality: model.BadTimeout, Source: t0 + 60, Server: t0 + 60, Code: 2102},
			{Tag: "", Value: model.IntValue(model.Int16, 1), Quality: model.Good}, // odd but encodable
			{Tag: "other/root", Value: model.IntValue(model.Int16, 1), Quality: 0xFFFFFFFF, Source: math.MaxInt64, Server: math.MinInt64, Code: 65535},
		},
	}
}

func equalBatch(t *testing.T, got, want *model.Batch) {
	t.Helper()
	if got.Device != want.Device || got.Class != want.Class || got.Seq != want.Seq || got.Start != want.Start || got.End != want.End || got.Missed != want.Missed {
		t.Fatalf("header: got %+v, want %+v", *got, *want)
	}
	if len(got.Samples) != len(want.Samples) {
		t.Fatalf("got %d samples, want %d", len(got.Samples), len(want.Samples))
	}
	for i := range want.Samples {
		// == compares float bits, so NaN payloads and -0 must match exactly.
		if got.Samples[i] != want.Samples[i] {
			t.Errorf("sample %d: got %+v, want %+v", i, got.Samples[i], want.Samples[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, b := range []*model.Batch{allTypes(), {}, {Device: "d", Class: "c", Seq: math.MaxUint64, Start: math.MinInt64, End: math.MaxInt64}} {
		data := AppendBatch(nil, b)
		var got model.Batch
		if err := DecodeBatch(data, &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		equalBatch(t, &got, b)
		// Appending to a non-empty slice keeps the prefix.
		pre := AppendBatch([]byte("xy"), b)
		if !bytes.Equal(pre[2:], data) || string(pre[:2]) != "xy" {
			t.Fatal("AppendBatch does not append")
		}
	}
}

func TestDecodeReusesAndInterns(t *testing.T) {
	b := allTypes()
	data := AppendBatch(nil, b)
	var got model.Batch
	d := NewDecoder()
	if err := d.Decode(data, &got); err != nil {
		t.Fatal(err)
	}
	first := &got.Samples[0]
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(data, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("steady-state decode allocates %.1f times, want 0", allocs)
	}
	if &got.Samples[0] != first {
		t.Error("decode did not reuse the samples slice")
	}
	equalBatch(t, &got, b)
	buf := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(100, func() { buf = AppendBatch(buf[:0], b) }); a != 0 {
		t.Errorf("encode into a large enough buffer allocates %.1f times, want 0", a)
	}
}

// The worked example of docs/bus.md, byte for byte. The test also checks
// that the document shows the same bytes.
const exampleHex = "01" + // version 1
	"05636e633031" + // device "cnc01"
	"0466617374" + // class "fast"
	"07" + // seq 7
	"8080d0e2c6bfce972f" + // start 1700000000000000000 (zigzag: 3400000000000000000)
	"a0c21e" + // end - start = 250000 ns
	"00" + // missed 0
	"03" + // 3 samples
	// sample 0
	"00" + "1a" + "61636d652f74632f6d2f6c312f636e6330312f7370696e646c65" + // prefix 0, "acme/tc/m/l1/cnc01/spindle"
	"0b" + "0000000000449740" + // float64 1489.0
	"00" + // quality Good
	"a08d06" + // source - start = 50000 ns
	"e807" + // server - source = 500 ns
	"00" + // code 0
	// sample 1
	"13" + "0372756e" + // prefix 19 "acme/tc/m/l1/cnc01/", "run"
	"01" + "01" + // bool true
	"00" + "a08d06" + "e807" + "00" +
	// sample 2
	"13" + "0474656d70" + // prefix 19, "temp"
	"00" + // no value
	"8080a88008" + // quality 0x800A0000 BadTimeout
	"c09a0c" + // source - start = 100000 ns
	"00" + // server = source
	"b610" // code 2102

func exampleBatch() *model.Batch {
	return &model.Batch{
		Device: "cnc01", Class: "fast", Seq: 7, Start: t0, End: t0 + 250_000,
		Samples: []model.Sample{
			{Tag: "acme/tc/m/l1/cnc01/spindle", Value: model.FloatValue(model.Float64, 1489), Quality: model.Good, Source: t0 + 50_000, Server: t0 + 50_500},
			{Tag: "acme/tc/m/l1/cnc01/run", Value: model.BoolValue(true), Quality: model.Good, Source: t0 + 50_000, Server: t0 + 50_500},
			{Tag: "acme/tc/m/l1/cnc01/temp", Quality: model.BadTimeout, Source: t0 + 100_000, Server: t0 + 100_000, Code: 2102},
		},
	}
}

func TestDocumentedExample(t *testing.T) {
	data, err := hex.DecodeString(exampleHex)
	if err != nil {
		t.Fatal(err)
	}
	var got model.Batch
	if err := DecodeBatch(data, &got); err != nil {
		t.Fatalf("decode documented example: %v", err)
	}
	equalBatch(t, &got, exampleBatch())
	if enc := AppendBatch(nil, exampleBatch()); !bytes.Equal(enc, data) {
		t.Fatalf("encoding of the example differs:\n got %x\nwant %x", enc, data)
	}
	doc, err := os.ReadFile("../../docs/bus.md")
	if err != nil {
		t.Fatalf("read docs/bus.md: %v", err)
	}
	// The document shows the bytes as hex pairs in a block marked
	// "example-bytes"; gather every pair and compare.
	m := regexp.MustCompile("(?s)```text example-bytes\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/bus.md has no ```text example-bytes block")
	}
	var shown strings.Builder
	for _, line := range strings.Split(string(m[1]), "\n") {
		line, _, _ = strings.Cut(line, "#") // annotations follow '#'
		shown.WriteString(strings.Join(strings.Fields(line), ""))
	}
	if shown.String() != exampleHex {
		t.Fatalf("docs/bus.md example bytes differ from the test:\n doc %s\ntest %s", shown.String(), exampleHex)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := AppendBatch(nil, allTypes())
	cases := []struct {
		name string
		data []byte
		code errcode.Code
	}{
		{"empty", nil, errcode.BusDecodeTruncated},
		{"version 0", []byte{0}, errcode.BusDecodeVersion},
		{"version 2", append([]byte{2}, good[1:]...), errcode.BusDecodeVersion},
		{"device too long", []byte{1, 0x81, 0x10}, errcode.BusDecodeTooLong},  // 2049 > MaxNameLen
		{"device beyond data", []byte{1, 5, 'a'}, errcode.BusDecodeTruncated}, // 5 declared, 1 present
		{"huge sample count", []byte{1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f}, errcode.BusDecodeTooLong},
		{"count beyond data", []byte{1, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0}, errcode.BusDecodeTruncated},
		{"overlong varint", []byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, errcode.BusDecodeCorrupt},
		{"prefix beyond previous tag", []byte{1, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0}, errcode.BusDecodeCorrupt},
		{"unknown type", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 13, 0, 0, 0, 0}, errcode.BusDecodeCorrupt},
		{"bool 2", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 0, 0}, errcode.BusDecodeCorrupt},
		{"quality beyond 32 bits", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0}, errcode.BusDecodeCorrupt},
		{"code beyond 16 bits", []byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x04}, errcode.BusDecodeCorrupt},
		{"trailing bytes", append(append([]byte{}, good...), 0), errcode.BusDecodeCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b model.Batch
			err := DecodeBatch(c.data, &b)
			if errcode.Of(err) != c.code {
				t.Fatalf("got %v, want code %s", err, c.code)
			}
			if len(b.Samples) != 0 {
				t.Errorf("failed decode left %d samples", len(b.Samples))
			}
		})
	}
	// Every strict prefix of a good batch is an error, never a panic or
	// a short batch taken for whole.
	for n := range len(good) {
		var b model.Batch
		if err := DecodeBatch(good[:n], &b); err == nil {
			t.Fatalf("prefix of %d of %d bytes decoded without error", n, len(good))
		}
	}
}

func TestSamplesSubjectOf(t *testing.T) {
	for in, want := range map[string]string{
		"cnc01":       "otl.v1.samples.cnc01",
		"press-3_b":   "otl.v1.samples.press-3_b",
		"line1.plc*>": "otl.v1.samples.line1_plc__",
		"a b/c":       "otl.v1.samples.a_b_c",
		"":            "otl.v1.samples._",
		"機械":          "otl.v1.samples.______",
	} {
		if got := SamplesSubjectOf(in); got != want {
			t.Errorf("SamplesSubjectOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, allTypes()))
	f.Add(AppendBatch(nil, exampleBatch()))
	f.Add(AppendBatch(nil, &model.Batch{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b model.Batch
		if err := DecodeBatch(data, &b); err != nil {
			if errcode.Of(err) == 0 {
				t.Fatalf("decode error without a code: %v", err)
			}
			return
		}
		// What decodes must encode and decode to the same batch.
		var again model.Batch
		if err := DecodeBatch(AppendBatch(nil, &b), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		equalBatch(t, &again, &b)
		if len(b.Samples) > len(data)/minSampleSize {
			t.Fatalf("%d samples from %d bytes", len(b.Samples), len(data))
		}
	})
}

package chunk

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/model"
)

// exampleSamples are the samples of the worked example in
// docs/formats/chunk.md.
func exampleSamples() []model.Sample {
	const t0 = 1_700_000_000_000_000_000
	tag := "plant/m1/temp"
	return []model.Sample{
		{Tag: tag, Value: model.IntValue(model.Int16, 215), Source: t0, Server: t0 + 1_000_000},
		{Tag: tag, Value: model.IntValue(model.Int16, 216), Source: t0 + 1e9, Server: t0 + 1e9 + 1_000_000},
		{Tag: tag, Value: model.IntValue(model.Int16, 216), Source: t0 + 2e9, Server: t0 + 2e9 + 1_000_000},
		{Tag: tag, Quality: model.BadTimeout, Code: 2102, Source: t0 + 3e9, Server: t0 + 3e9 + 1_000_000},
	}
}

// docBlock returns the bytes of the ```hex block that follows the line
// containing marker in docs/formats/chunk.md.
func docBlock(t *testing.T, marker string) []byte {
	t.Helper()
	md, err := os.ReadFile("../../../docs/formats/chunk.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("marker %q not in chunk.md", marker)
	}
	s = s[i:]
	a := strings.Index(s, "```hex\n")
	b := strings.Index(s[a+7:], "```")
	var hx strings.Builder
	comment := regexp.MustCompile(`#.*`)
	for _, line := range strings.Split(s[a+7:a+7+b], "\n") {
		hx.WriteString(strings.Join(strings.Fields(comment.ReplaceAllString(line, "")), ""))
	}
	out, err := hex.DecodeString(hx.String())
	if err != nil {
		t.Fatalf("hex block after %q: %v", marker, err)
	}
	return out
}

func TestDocumentedChunk(t *testing.T) {
	b := docBlock(t, "<!-- example chunk -->")
	r, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Samples(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := exampleSamples()
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// The encoder must still write exactly the documented bytes.
	e := NewEncoder("plant/m1/temp", model.Int16)
	for _, s := range want {
		if err := e.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	if enc := e.Finish(); string(enc) != string(b) {
		t.Errorf("encoder output differs from the documented example:\n%s", hex.Dump(enc))
	}
}

func TestDocumentedCanonical(t *testing.T) {
	b := docBlock(t, "<!-- example canonical -->")
	s := exampleSamples()
	if c := Canonical("plant/m1/temp", s); string(c) != string(b) {
		t.Errorf("canonical encoding differs from the documented example:\n%s", hex.Dump(c))
	}
	h := LeafHash("plant/m1/temp", s)
	hb := docBlock(t, "<!-- example leaf hash -->")
	if string(h[:]) != string(hb) {
		t.Errorf("leaf hash %x, documented %x", h, hb)
	}
}

func TestPrintExample(t *testing.T) {
	if os.Getenv("CHUNK_PRINT_EXAMPLE") == "" {
		t.Skip("set CHUNK_PRINT_EXAMPLE=1 to print the documented example")
	}
	s := exampleSamples()
	e := NewEncoder("plant/m1/temp", model.Int16)
	for _, x := range s {
		_ = e.Append(x)
	}
	h := LeafHash("plant/m1/temp", s)
	t.Logf("chunk\n%s\ncanonical\n%s\nleaf %x", hex.Dump(e.Finish()), hex.Dump(Canonical("plant/m1/temp", s)), h)
}

// v1Example is the documented example as format version 1 wrote it; the
// reader must go on decoding version 1 chunks.
const v1Example = "4f544c4301030000040000000000" + "2a36fe9c9717005efae8fe9c97174d000000a4980e63" +
	"0d706c616e742f6d312f74656d70" + "1200091797" + "9cfe362a0000000000003b9aca00" +
	"12000000000000000f42400000000000000000" + "0c02030000018080a88008ed20" +
	"0b010000000000000000d784"

func TestVersion1Chunk(t *testing.T) {
	b, err := hex.DecodeString(v1Example)
	if err != nil {
		t.Fatal(err)
	}
	if b[4] != 1 {
		t.Fatalf("version byte %d", b[4])
	}
	r, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Samples(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := exampleSamples()
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

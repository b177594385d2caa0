package integrity

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docExample is the worked example of docs/formats/integrity.md.
func docExample() Entry {
	from := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	return Entry{Kind: KindChunk, Time: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC),
		Tag: "acme/l1/temp", Seq: 7, From: from, To: from.Add(59 * time.Second), Count: 60,
		DataHash: HashData([]byte("example samples")), Key: "c7"}
}

// TestDocumentedExample decodes the hex in the format document and checks
// its leaf hash, so the document cannot drift from the code.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/formats/integrity.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)<!-- example-hex -->\\s*```\\n(.*?)```").FindSubmatch(doc)
	leaf := regexp.MustCompile("leaf hash: `([0-9a-f]{64})`").FindSubmatch(doc)
	if block == nil || leaf == nil {
		t.Fatal("example block or leaf hash line not found in the document")
	}
	var hexs strings.Builder
	for _, line := range strings.Split(string(block[1]), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		hexs.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(hexs.String())
	if err != nil {
		t.Fatal(err)
	}
	ex := docExample()
	want, _ := ex.Encode()
	if string(b) != string(want) {
		t.Fatalf("documented bytes differ from the encoding:\n%x\n%x", b, want)
	}
	e, err := DecodeEntry(b)
	if err != nil || e.Tag != "acme/l1/temp" || e.Seq != 7 {
		t.Fatalf("decode documented example: %+v %v", e, err)
	}
	if got := LeafHash(b).String(); got != string(leaf[1]) {
		t.Fatalf("leaf hash %s, document says %s", got, leaf[1])
	}
}

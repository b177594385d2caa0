package sim

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated map in docs/sim.md")

const docsPath = "../../docs/sim.md"

// mapTable renders Map() as the markdown table of docs/sim.md.
func mapTable() string {
	var b strings.Builder
	b.WriteString("| name | address | type | word order | unit | scale | writable | description |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, e := range Map() {
		typ := e.Type
		if e.Length > 0 {
			typ = fmt.Sprintf("%s(%d)", e.Type, e.Length)
		}
		scale, w := "", ""
		if e.Scale != 0 {
			scale = fmt.Sprint(e.Scale)
		}
		if e.Writable {
			w = fmt.Sprintf("%g..%g", e.Min, e.Max)
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s | %s | %s |\n",
			e.Name, e.Address, typ, e.WordOrder, e.Unit, scale, w, e.Description)
	}
	return b.String()
}

func TestDocsMap(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Skipf("no docs: %v", err)
	}
	s := string(doc)
	const begin, end = "<!-- map:begin -->\n", "<!-- map:end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("docs/sim.md lacks the map markers")
	}
	want := s[:i+len(begin)] + mapTable() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error("docs/sim.md's register map is stale: run go test ./internal/sim -run TestDocsMap -update")
}

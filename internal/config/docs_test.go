package config

import (
	"os"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

// TestDocsListCodes keeps docs/config.md's list of codes complete.
func TestDocsListCodes(t *testing.T) {
	data, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, e := range errcode.All() {
		if e.Code < 1000 || e.Code > 1099 {
			continue
		}
		if !strings.Contains(doc, "| "+e.Code.String()+" | `"+e.Name+"` |") {
			t.Errorf("docs/config.md does not list %s %s", e.Code, e.Name)
		}
	}
}

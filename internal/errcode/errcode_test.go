package errcode

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/codes.golden with new codes")

// TestCodesNeverRenumbered guards the promise that a code keeps its meaning
// forever: every code in the golden file must still exist with the same name.
// New codes are appended with -update; removing or renaming one fails.
func TestCodesNeverRenumbered(t *testing.T) {
	const golden = "testdata/codes.golden"
	old := map[Code]string{}
	if f, err := os.Open(golden); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var c int
			var name string
			if _, err := fmt.Sscanf(sc.Text(), "%d %s", &c, &name); err == nil {
				old[Code(c)] = name
			}
		}
		f.Close()
	}
	for c, name := range old {
		e, ok := Lookup(c)
		if !ok {
			t.Errorf("%s (%s) was removed; codes are never removed or reused", c, name)
			continue
		}
		if e.Name != name {
			t.Errorf("%s was renamed from %s to %s; a code keeps its meaning forever", c, name, e.Name)
		}
	}
	var b strings.Builder
	for _, e := range All() {
		fmt.Fprintf(&b, "%d %s\n", e.Code, e.Name)
		if _, ok := old[e.Code]; !ok && !*update {
			t.Errorf("%s (%s) is new: run go test ./internal/errcode -update to record it", e.Code, e.Name)
		}
	}
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEntriesComplete(t *testing.T) {
	names := map[string]Code{}
	for _, e := range All() {
		if e.Name == "" || e.Title == "" || e.Fix == "" {
			t.Errorf("%s: name, title and fix are required", e.Code)
		}
		if prev, dup := names[e.Name]; dup {
			t.Errorf("%s and %s share the name %s", prev, e.Code, e.Name)
		}
		names[e.Name] = e.Code
	}
}

func TestDocsUpToDate(t *testing.T) {
	var b strings.Builder
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/errors.md")
	if err != nil || string(got) != b.String() {
		t.Fatalf("docs/errors.md is out of date: run go generate ./internal/errcode")
	}
}

func TestErrorChain(t *testing.T) {
	base := errors.New("connection refused")
	err := fmt.Errorf("read hr 0..9 on press-3: %w", Wrap(CLIFileNotFound, base, "open %s", "x.yaml"))
	if Of(err) != CLIFileNotFound {
		t.Fatalf("Of = %v", Of(err))
	}
	if !errors.Is(err, CLIFileNotFound) || errors.Is(err, CLIUsage) {
		t.Fatal("errors.Is by code does not work")
	}
	if !errors.Is(err, base) {
		t.Fatal("cause lost")
	}
	want := "read hr 0..9 on press-3: OTL-9003 open x.yaml: connection refused"
	if err.Error() != want {
		t.Fatalf("got %q want %q", err.Error(), want)
	}
	for _, s := range []string{"OTL-9003", "otl-9003", "9003"} {
		if c, ok := Parse(s); !ok || c != CLIFileNotFound {
			t.Errorf("Parse(%q) = %v %v", s, c, ok)
		}
	}
	for _, s := range []string{"", "OTL-", "12", "OTL-99999", "abc"} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

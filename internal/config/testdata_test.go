package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

// TestValidConfigs loads every file of testdata/valid: none may have a problem.
func TestValidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no valid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatalf("\n%v", err)
			}
		})
	}
}

// want is one expected problem: a code at a line and, if given, a column.
type want struct {
	code      errcode.Code
	line, col int
}

func (w want) String() string {
	if w.col == 0 {
		return fmt.Sprintf("%s %d", w.code, w.line)
	}
	return fmt.Sprintf("%s %d:%d", w.code, w.line, w.col)
}

// parseWants reads the first line "# want: OTL-1003 12:7, OTL-1010 20".
func parseWants(data []byte) ([]want, error) {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	s, ok := strings.CutPrefix(strings.TrimSpace(string(first)), "# want:")
	if !ok {
		return nil, errors.New(`first line must be "# want: OTL-nnnn line[:col], ..."`)
	}
	var out []want
	for _, item := range strings.Split(s, ",") {
		f := strings.Fields(item)
		if len(f) != 2 {
			return nil, fmt.Errorf("bad want item %q", item)
		}
		c, ok := errcode.Parse(f[0])
		if !ok {
			return nil, fmt.Errorf("bad code %q", f[0])
		}
		w := want{code: c}
		ls, cs, hasCol := strings.Cut(f[1], ":")
		var err error
		if w.line, err = strconv.Atoi(ls); err != nil {
			return nil, fmt.Errorf("bad line in %q", item)
		}
		if hasCol {
			if w.col, err = strconv.Atoi(cs); err != nil {
				return nil, fmt.Errorf("bad column in %q", item)
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// TestInvalidConfigs loads every file of testdata/invalid and checks that
// exactly the problems its first line announces are reported, at their places.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 24 {
		t.Fatalf("want at least 24 invalid configs, have %d", len(files))
	}
	seen := map[errcode.Code]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wants, err := parseWants(data)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(f, data)
			if c != nil {
				t.Errorf("a config was returned with problems")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %T %v", err, err)
			}
			var got []string
			for _, p := range errs {
				if p.Line == 0 || p.Col == 0 || p.File != f || p.Msg == "" {
					t.Errorf("problem without place: %#v", p)
				}
				seen[p.Code] = true
				w := want{code: p.Code, line: p.Line}
				got = append(got, w.String())
			}
			var exp []string
			for _, w := range wants {
				// A want without column matches any column; compare by line.
				exp = append(exp, want{code: w.code, line: w.line}.String())
			}
			sort.Strings(got)
			sort.Strings(exp)
			if strings.Join(got, ", ") != strings.Join(exp, ", ") {
				t.Fatalf("\ngot  %s\nwant %s\n%v", strings.Join(got, ", "), strings.Join(exp, ", "), err)
			}
			for _, w := range wants {
				if w.col == 0 {
					continue
				}
				found := false
				for _, p := range errs {
					found = found || p.Code == w.code && p.Line == w.line && p.Col == w.col
				}
				if !found {
					t.Errorf("no %s at %d:%d\n%v", w.code, w.line, w.col, err)
				}
			}
			// Every problem prints one line: file:line:col: OTL-nnnn message.
			sc := bufio.NewScanner(strings.NewReader(err.Error()))
			n := 0
			for sc.Scan() {
				if !strings.HasPrefix(sc.Text(), f+":") || !strings.Contains(sc.Text(), ": OTL-10") {
					t.Errorf("bad line %q", sc.Text())
				}
				n++
			}
			if n != len(errs) {
				t.Errorf("%d lines for %d problems", n, len(errs))
			}
		})
	}
	// Every validation code should be exercised by some file.
	for c := errcode.ConfigSyntax; c <= errcode.ConfigBadListen; c++ {
		if !seen[c] {
			t.Errorf("no invalid config exercises %s", c)
		}
	}
}

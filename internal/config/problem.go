package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
)

// Problem is one thing wrong with a config file, at a place in it.
type Problem struct {
	File string
	Line int // 1-based; 0 when the place is not known (configs built in code)
	Col  int // 1-based; 0 when not known
	Code errcode.Code
	Msg  string
	Hint string // a specific suggestion, e.g. "did you mean \"endpoint\"?"
	Path string // YAML path of the node, e.g. $.devices[2].budget.min_gap
}

// Error formats the problem as file:line:col: OTL-10nn message (hint: ...).
func (p *Problem) Error() string {
	var b strings.Builder
	file := p.File
	if file == "" {
		file = "config"
	}
	b.WriteString(file)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Code.String())
	b.WriteByte(' ')
	b.WriteString(p.Msg)
	if p.Line == 0 && p.Path != "" {
		b.WriteString(" at ")
		b.WriteString(p.Path)
	}
	if p.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(p.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap exposes the code so errcode.Of and errors.Is work on a problem.
func (p *Problem) Unwrap() error { return errcode.New(p.Code, "%s", p.Msg) }

// Errors is every problem found in a config, sorted by place. It is the
// error Load, Parse and Validate return.
type Errors []*Problem

// Error prints one problem per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is, errors.As and errcode.Of see each problem.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, p := range e {
		out[i] = p
	}
	return out
}

// Has reports whether some problem has code c.
func (e Errors) Has(c errcode.Code) bool {
	for _, p := range e {
		if p.Code == c {
			return true
		}
	}
	return false
}

func (e Errors) sort() {
	sort.SliceStable(e, func(i, j int) bool {
		a, b := e[i], e[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

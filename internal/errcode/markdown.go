package errcode

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the whole catalog as the troubleshooting manual
// docs/errors.md.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# otlink error codes\n\n")
	b.WriteString("Generated from `internal/errcode` by `go generate ./internal/errcode`; do not edit.\n")
	b.WriteString("`otlink errors CODE` prints one entry. Codes are stable: never renumbered, never reused.\n\n")
	b.WriteString("| code | name | what happened |\n| --- | --- | --- |\n")
	for _, e := range All() {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | %s |\n", e.Code, strings.ToLower(e.Code.String()), e.Name, e.Title)
	}
	b.WriteString("\n")
	for _, e := range All() {
		b.WriteString(Format(e))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Format renders one entry as a Markdown section (also what `otlink errors` prints).
func Format(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n`%s` — %s\n\n", e.Code, e.Name, e.Title)
	if len(e.Causes) > 0 {
		b.WriteString("Likely causes:\n")
		for _, c := range e.Causes {
			fmt.Fprintf(&b, "- %s\n", c)
		}
		b.WriteString("\n")
	}
	if len(e.Checks) > 0 {
		b.WriteString("Checks:\n")
		for _, c := range e.Checks {
			fmt.Fprintf(&b, "- %s\n", c)
		}
		b.WriteString("\n")
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, "Fix: %s\n", e.Fix)
	}
	return b.String()
}

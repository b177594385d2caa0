package model

import "strings"

// Levels names the ISA-95 levels of the plant hierarchy, top down.
var Levels = []string{"enterprise", "site", "area", "line", "cell", "machine"}

// JoinPath joins hierarchy names and a tag name into a tag path.
func JoinPath(parts ...string) string { return strings.Join(parts, "/") }

// Subject turns a tag path into a NATS subject token sequence: "/" becomes "."
// and characters NATS treats specially are replaced by "_".
func Subject(path string) string {
	b := []byte(path)
	for i, c := range b {
		switch c {
		case '/':
			b[i] = '.'
		case '.', '*', '>', ' ', '\t':
			b[i] = '_'
		}
	}
	return string(b)
}

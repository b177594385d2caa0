package errcode

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Code is a stable otlink error code; OTL-2102 is Code(2102).
type Code uint16

// String formats the code as "OTL-nnnn".
func (c Code) String() string { return fmt.Sprintf("OTL-%04d", uint16(c)) }

// Entry is one catalog entry: what the code means and how to fix it.
type Entry struct {
	Code   Code
	Name   string   // stable identifier, e.g. "config.unknown_key"
	Title  string   // one line: what happened
	Causes []string // likely causes
	Checks []string // what to look at
	Fix    string   // what to do
}

var catalog = map[Code]Entry{}

// register adds entries to the catalog; a duplicate code is a programming
// error found at start-up.
func register(es ...Entry) {
	for _, e := range es {
		if _, dup := catalog[e.Code]; dup {
			panic("errcode: duplicate code " + e.Code.String())
		}
		if e.Code < 1000 || e.Code > 9999 {
			panic("errcode: code out of range " + e.Code.String())
		}
		catalog[e.Code] = e
	}
}

// Lookup returns the catalog entry of c.
func Lookup(c Code) (Entry, bool) {
	e, ok := catalog[c]
	return e, ok
}

// All returns every entry, sorted by code.
func All() []Entry {
	out := make([]Entry, 0, len(catalog))
	for _, e := range catalog {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Parse reads "OTL-2102", "otl-2102" or "2102".
func Parse(s string) (Code, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 4 && strings.EqualFold(s[:4], "OTL-") {
		s = s[4:]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 || n > 9999 {
		return 0, false
	}
	return Code(n), true
}

// Error is an error with a code. Msg says what happened in lower case, in
// words that read well in a chain: "read hr 100..224 on press-3: OTL-2102
// modbus timeout after 2s".
type Error struct {
	Code Code
	Msg  string
	Err  error // the underlying cause, if any
}

// New returns an *Error with a formatted message.
func New(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a formatted message and a cause.
func Wrap(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...), Err: err}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code.String())
	if e.Msg != "" {
		b.WriteByte(' ')
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by code, so errors.Is(err, errcode.New(c, ""))
// and errors.Is(err, c) both work.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.Code == e.Code
	case Code:
		return t == e.Code
	}
	return false
}

// Error makes Code usable as an errors.Is target.
func (c Code) Error() string { return c.String() }

// Of returns the code of the first *Error in err's chain, or 0.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Hint returns the catalog's fix for err's code, or "".
func Hint(err error) string {
	if e, ok := catalog[Of(err)]; ok {
		return e.Fix
	}
	return ""
}

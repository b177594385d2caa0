package config

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// WriteYAML writes c as a clean YAML document a person can read and edit:
// keys in the order of the reference, zero values left out (version is
// always written), small sections such as scale, range, limits, budget and
// poll classes on one line, strings quoted only where YAML needs it.
func WriteYAML(w io.Writer, c *Config) error {
	e := &emitter{}
	e.line("version: " + strconv.Itoa(c.Version))
	v := reflect.ValueOf(c).Elem()
	for _, f := range fieldsOf(v.Type()) {
		if f.key == "version" {
			continue
		}
		e.field("", "", f.key, v.Field(f.index))
	}
	_, err := io.WriteString(w, e.b.String())
	return err
}

type emitter struct{ b strings.Builder }

func (e *emitter) line(s string) {
	e.b.WriteString(s)
	e.b.WriteByte('\n')
}

// field writes "key: value" with prefix on its first line; nested lines
// are indented from ind.
func (e *emitter) field(prefix, ind, key string, v reflect.Value) {
	if v.IsZero() {
		return
	}
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch {
	case isScalar(v.Type()):
		e.line(prefix + key + ": " + scalar(v))
	case flowable(v.Type()):
		e.line(prefix + key + ": " + flow(v))
	case v.Kind() == reflect.Struct:
		e.line(prefix + key + ":")
		e.body(v, ind+"  ", ind+"  ")
	case v.Kind() == reflect.Slice:
		e.line(prefix + key + ":")
		for i := 0; i < v.Len(); i++ {
			item := v.Index(i)
			if flowable(item.Type()) {
				e.line(ind + "  - " + flow(item))
				continue
			}
			if !e.body(item, ind+"    ", ind+"  - ") {
				e.line(ind + "  - {}")
			}
		}
	}
}

// body writes the non-zero fields of a struct, the first with lead.
// It reports whether it wrote anything.
func (e *emitter) body(v reflect.Value, ind, lead string) bool {
	wrote := false
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if fv.IsZero() {
			continue
		}
		prefix := ind
		if !wrote {
			prefix = lead
		}
		e.field(prefix, ind, f.key, fv)
		wrote = true
	}
	return wrote
}

func isScalar(t reflect.Type) bool {
	if isDuration(t) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// flowable reports whether t is written on one line: a struct of scalars,
// or a map of them.
func flowable(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map:
		return isScalar(t.Elem())
	case reflect.Struct:
		if isDuration(t) {
			return false
		}
		for _, f := range fieldsOf(t) {
			if !isScalar(f.typ) {
				return false
			}
		}
		return true
	}
	return false
}

// flow writes {k: v, ...}; zero fields are left out only when their tag
// says omitempty, so that range: {min: 0, max: 10} keeps its 0.
func flow(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var parts []string
	if v.Kind() == reflect.Map {
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, quote(k)+": "+scalar(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))))
		}
	} else {
		t := v.Type()
		for _, f := range fieldsOf(t) {
			fv := v.Field(f.index)
			if fv.IsZero() && strings.Contains(t.Field(f.index).Tag.Get("yaml"), "omitempty") {
				continue
			}
			parts = append(parts, f.key+": "+scalar(fv))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func scalar(v reflect.Value) string {
	if isDuration(v.Type()) {
		return Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(v.Float())
	}
	return quote(fmt.Sprint(v.Interface()))
}

// formatFloat writes a float YAML reads back as the same float: an
// exponent needs a '.' in the mantissa (1.0e+21, not 1e+21).
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	case f == 0:
		return "0" // not -0, which negation leaves behind
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 && !strings.Contains(s[:i], ".") {
		s = s[:i] + ".0" + s[i:]
	}
	return s
}

// quote leaves a string plain when YAML reads it back as the same string,
// and double-quotes it otherwise.
func quote(s string) string {
	if plainSafe(s) {
		return s
	}
	return strconv.Quote(s)
}

func plainSafe(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~":
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return false
	}
	if strings.HasPrefix(s, "0") && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		return false // 0755 and 000005 read as numbers by some parsers
	}
	if s[len(s)-1] == ':' || s[0] == '-' || s[0] == '.' || s[0] == ':' {
		return false
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.Contains(s, "  ") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_/.:+@=- ", c)) {
			return false
		}
	}
	return true
}

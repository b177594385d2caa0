package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// path is a JSON path of the subset tags need: $ then .key, ['key'],
// ["key"] and [index] steps. No filters or wildcards: a tag has one value.
type path []step

type step struct {
	key   string
	index int // >= 0 for an array index, -1 for a key
}

func (p path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range p {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
		} else {
			fmt.Fprintf(&b, "[%q]", s.key)
		}
	}
	return b.String()
}

// parsePath reads a path from the start of s, up to the end or a '#'
// outside brackets, and returns it with the number of bytes read.
func parsePath(s string) (path, int, error) {
	if s == "" || s[0] != '$' {
		return nil, 0, fmt.Errorf("a JSON path starts with $, e.g. $.value")
	}
	p := path{}
	i := 1
	for i < len(s) && s[i] != '#' {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' && s[j] != '#' {
				j++
			}
			if j == i+1 {
				return nil, 0, fmt.Errorf("empty key at byte %d", i+1)
			}
			p = append(p, step{key: s[i+1 : j], index: -1})
			i = j
		case '[':
			if i+1 >= len(s) {
				return nil, 0, fmt.Errorf("unclosed [")
			}
			if q := s[i+1]; q == '\'' || q == '"' {
				end := strings.IndexByte(s[i+2:], q)
				if end < 0 || i+2+end+1 >= len(s) || s[i+2+end+1] != ']' {
					return nil, 0, fmt.Errorf("unclosed [%c", q)
				}
				p = append(p, step{key: s[i+2 : i+2+end], index: -1})
				i += 2 + end + 2
				continue
			}
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, 0, fmt.Errorf("unclosed [")
			}
			n, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || n < 0 || n > 1<<20 {
				return nil, 0, fmt.Errorf("[%s] is not an array index 0..1048576 or a quoted key", s[i+1:i+end])
			}
			p = append(p, step{index: n})
			i += end + 1
		default:
			return nil, 0, fmt.Errorf("unexpected %q at byte %d: write .key, ['key'] or [index]", s[i], i)
		}
	}
	return p, i, nil
}

// find walks p through a decoded JSON document.
func (p path) find(doc any) (any, bool) {
	for _, s := range p {
		if s.index >= 0 {
			a, ok := doc.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			doc = a[s.index]
			continue
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// decodeJSON decodes a payload keeping numbers exact (json.Number), so
// that a uint64 counter is not rounded through float64.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errcode.Wrap(errcode.MQTTBadJSON, err, "payload is not JSON")
	}
	if d.More() {
		return nil, errcode.New(errcode.MQTTBadJSON, "payload holds more than one JSON value")
	}
	return v, nil
}

// badValue is a decoding failure with the quality it gives the tag.
type badValue struct {
	q   model.Quality
	err error
}

func failed(q model.Quality, c errcode.Code, format string, args ...any) *badValue {
	return &badValue{q: q, err: errcode.New(c, format, args...)}
}

// convert turns a decoded JSON value (json.Number, string, bool, nil, map,
// slice) into a value of type t. maxLen > 0 truncates strings to that many
// characters, as the tag's length says.
func convert(x any, t model.Type, maxLen int) (model.Value, *badValue) {
	switch v := x.(type) {
	case nil:
		return model.Value{}, failed(model.BadDecodingError, errcode.MQTTNoValue, "the value is null")
	case json.Number:
		return convertText(string(v), t, maxLen)
	case string:
		return convertText(v, t, maxLen)
	case bool:
		switch {
		case t == model.Bool:
			return model.BoolValue(v), nil
		case t == model.String:
			return model.StringValue(strconv.FormatBool(v)), nil
		case v:
			return convertText("1", t, maxLen)
		}
		return convertText("0", t, maxLen)
	}
	if t == model.String {
		b, _ := json.Marshal(x)
		return model.StringValue(truncate(string(b), maxLen)), nil
	}
	return model.Value{}, failed(model.BadDecodingError, errcode.MQTTBadValue, "an object or array where a %s is expected: give a JSON path to a scalar", t)
}

func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return s[:i]
}

// convertText converts a number or text to type t.
func convertText(s string, t model.Type, maxLen int) (model.Value, *badValue) {
	if t == model.String {
		return model.StringValue(truncate(s, maxLen)), nil
	}
	s = strings.TrimSpace(s)
	notA := func(what string) (model.Value, *badValue) {
		return model.Value{}, failed(model.BadDecodingError, errcode.MQTTBadValue, "%q is not %s", clip(s), what)
	}
	if t == model.Bool {
		if b, err := strconv.ParseBool(s); err == nil {
			return model.BoolValue(b), nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) {
			return model.BoolValue(f != 0), nil
		}
		return notA("a bool")
	}
	if t.IsFloat() {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return notA("a number")
		}
		if t == model.Float32 && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return model.Value{}, failed(model.BadOutOfRange, errcode.MQTTBadValue, "%s does not fit a float32", clip(s))
		}
		return model.FloatValue(t, f), nil
	}
	if !t.IsSigned() && !t.IsUnsigned() {
		return notA("a " + t.String())
	}
	bits := t.Bits()
	if t.IsSigned() {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil && !isRangeErr(ferr) {
				return notA("an integer")
			}
			if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
				return model.Value{}, failed(model.BadOutOfRange, errcode.MQTTBadValue, "%s is not an integer of %s", clip(s), t)
			}
			n = int64(f)
		}
		if lim := int64(1) << (bits - 1); bits < 64 && (n < -lim || n >= lim) {
			return model.Value{}, failed(model.BadOutOfRange, errcode.MQTTBadValue, "%s is outside the range of %s", clip(s), t)
		}
		return model.IntValue(t, n), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil && !isRangeErr(ferr) {
			return notA("an integer")
		}
		if f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return model.Value{}, failed(model.BadOutOfRange, errcode.MQTTBadValue, "%s is not an integer of %s", clip(s), t)
		}
		n = uint64(f)
	}
	if bits < 64 && n >= uint64(1)<<bits {
		return model.Value{}, failed(model.BadOutOfRange, errcode.MQTTBadValue, "%s is outside the range of %s", clip(s), t)
	}
	return model.UintValue(t, n), nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// clip shortens payload text quoted in messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// parseTime reads a timestamp: a Unix number whose magnitude gives its unit
// (seconds below 1e11, ms below 1e14, µs below 1e17, else ns; fractions
// allowed) or RFC 3339 text. It returns Unix ns.
func parseTime(x any) (int64, error) {
	var s string
	switch v := x.(type) {
	case json.Number:
		s = string(v)
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UnixNano(), nil
		}
		s = v
	default:
		return 0, errcode.New(errcode.MQTTBadTimestamp, "timestamp is a %T, not a number or RFC 3339 text", x)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		switch {
		case n < 1e11:
			return n * 1e9, nil
		case n < 1e14:
			return n * 1e6, nil
		case n < 1e17:
			return n * 1e3, nil
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f >= 9.2e18 {
		return 0, errcode.New(errcode.MQTTBadTimestamp, "timestamp %q is not Unix time or RFC 3339", clip(s))
	}
	switch {
	case f < 1e11:
		return int64(f * 1e9), nil
	case f < 1e14:
		return int64(f * 1e6), nil
	case f < 1e17:
		return int64(f * 1e3), nil
	}
	return int64(f), nil
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/lossy"
)

// pos is a line:column place in the file.
type pos struct{ line, col int }

// decoder turns a yaml.v3 node tree into the config types by reflection,
// so that it can report every unknown key and wrong type with its place
// (a plain yaml.Unmarshal stops at the first) and remember where each
// value was written, for the checks that run after decoding.
//
// yaml.v3 replaced goccy/go-yaml here: on a 300k-tag file it parses about
// four times faster with a fifth of the garbage, and its nodes carry the
// line and column the messages need.
//
// Positions are not copied out, and list items are let go once decoded, so
// that the node tree of a 300k-tag file shrinks as the config grows: find
// parses the file again, once, when a problem needs a place, which a
// valid config never does. Recording the path and place of every value
// took more memory and time than parsing.
type decoder struct {
	file     string
	data     []byte          // the file, to parse again for places
	root     *yaml.Node      // body of the document, once parsed again
	reparsed bool            // root is as good as it gets
	given    map[string]bool // paths of keys written with a zero or negative value
	bad      map[string]bool // paths that already have a decoding problem
	probs    Errors
	depth    int
	shared   int // >0 inside an anchored node or an alias: its items must stay
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:  file,
		given: map[string]bool{},
		bad:   map[string]bool{},
	}
}

func (d *decoder) add(code errcode.Code, p pos, path, hint, format string, args ...any) {
	d.probs = append(d.probs, &Problem{File: d.file, Line: p.line, Col: p.col, Code: code,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Path: path})
	d.bad[path] = true
}

// parseYAML parses data and returns the body of its single document, or nil
// for an empty file. A parser panic becomes a syntax problem.
func (d *decoder) parseYAML(data []byte) (body *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.add(errcode.ConfigSyntax, pos{1, 1}, "$", "", "yaml parser failed: %v", r)
			body, ok = nil, false
		}
	}()
	d.data = data
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.syntax(err, data)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err, data)
		return nil, false
	default:
		if n := docBody(&next); n != nil {
			d.add(errcode.ConfigSyntax, nodePos(n), "$", "remove the '---' line and merge the documents",
				"a config file holds one YAML document, found 2")
			return nil, false
		}
	}
	return docBody(&doc), true
}

// docBody is the content of a document node, nil when it is empty.
func docBody(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	if n := doc.Content[0]; !isNull(n) {
		return n
	}
	return nil
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax reports a parse error. yaml.v3 gives a line but no column, and
// for some errors the line before the culprit: syntaxPos finds the place
// in the text.
func (d *decoder) syntax(err error, data []byte) {
	p := pos{1, 1}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = m[2]
		p = syntaxPos(data, line, msg)
	}
	code := errcode.ConfigSyntax
	hint := ""
	switch {
	case strings.Contains(msg, "already defined"):
		code = errcode.ConfigDuplicateKey
	case strings.Contains(msg, "tab") || strings.Contains(msg, "\t"):
		hint = "indent with spaces, not tabs"
		msg = strings.ReplaceAll(msg, "\t", `\t`)
	}
	d.add(code, p, "$", hint, "%s", msg)
}

// lineText is line (1-based) of data, without its newline.
func lineText(data []byte, line int) ([]byte, bool) {
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return nil, false
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return data, true
}

// syntaxPos places a yaml.v3 error reported at line: a tab in the
// indentation of that line or the next ones, an unclosed quote on it, or
// else its first non-blank character.
func syntaxPos(data []byte, line int, msg string) pos {
	if strings.Contains(msg, "tab") {
		for l := line; l < line+3; l++ {
			text, ok := lineText(data, l)
			if !ok {
				break
			}
			for i, c := range text {
				if c == '\t' {
					return pos{l, i + 1}
				}
				if c != ' ' {
					break
				}
			}
		}
	}
	text, _ := lineText(data, line)
	if strings.Contains(msg, "end of stream") {
		for _, q := range []byte{'"', '\''} {
			if i := bytes.IndexByte(text, q); i >= 0 && bytes.Count(text, []byte{q})%2 == 1 {
				return pos{line, i + 1}
			}
		}
	}
	for i, c := range text {
		if c != ' ' {
			return pos{line, i + 1}
		}
	}
	return pos{line, 1}
}

// nodePos is where a node starts.
func nodePos(n *yaml.Node) pos {
	if n == nil {
		return pos{}
	}
	return pos{n.Line, n.Column}
}

// find returns the places of the key and the value at path, e.g.
// $.devices[2].budget.min_gap, as the decoder read them: through aliases
// and merge keys, an explicit key before merged ones. A value left empty
// ("key:") is placed at its key. ok is false when path is not in the file.
func (d *decoder) find(path string) (key, val pos, ok bool) {
	if !d.reparsed {
		d.reparsed = true
		var doc yaml.Node
		if yaml.NewDecoder(bytes.NewReader(d.data)).Decode(&doc) == nil {
			d.root = docBody(&doc)
		}
	}
	rest, found := strings.CutPrefix(path, "$")
	if !found || d.root == nil {
		return pos{}, pos{}, false
	}
	n := d.root
	val = nodePos(n)
	for depth := 0; rest != ""; depth++ {
		if depth > maxDepth {
			return pos{}, pos{}, false
		}
		n = d.resolve(n)
		if n == nil {
			return pos{}, pos{}, false
		}
		switch rest[0] {
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 || n.Kind != yaml.SequenceNode {
				return pos{}, pos{}, false
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 || i >= len(n.Content) {
				return pos{}, pos{}, false
			}
			n, rest = n.Content[i], rest[end+1:]
			key, val = pos{}, nodePos(n)
		case '.':
			end := strings.IndexAny(rest[1:], ".[") + 1
			if end == 0 {
				end = len(rest)
			}
			kn, vn := d.lookupKey(n, rest[1:end], 0)
			if kn == nil {
				return pos{}, pos{}, false
			}
			n, rest = vn, rest[end:]
			key, val = nodePos(kn), nodePos(vn)
			if isNull(d.resolve(vn)) {
				val = key
			}
		default:
			return pos{}, pos{}, false
		}
	}
	return key, val, true
}

// lookupKey finds name among m's keys, then among the keys its merge keys
// bring in, the last merged section first, as decodeStruct applies them.
func (d *decoder) lookupKey(m *yaml.Node, name string, depth int) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if kn := m.Content[i]; !isMergeKey(kn) {
			if s, ok := scalarText(d.resolve(kn)); ok && s == name {
				return kn, m.Content[i+1]
			}
		}
	}
	for i := len(m.Content) - 2; i >= 0; i -= 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		src := d.resolve(m.Content[i+1])
		if src != nil && src.Kind == yaml.SequenceNode {
			for j := len(src.Content) - 1; j >= 0; j-- {
				if k, v := d.lookupKey(d.resolve(src.Content[j]), name, depth+1); k != nil {
					return k, v
				}
			}
			continue
		}
		if k, v := d.lookupKey(src, name, depth+1); k != nil {
			return k, v
		}
	}
	return nil, nil
}

// ypath is a YAML path kept as links to its parent, turned into text
// such as $.devices[2].budget only for a problem: the decoder visits
// millions of values in a plant-scale file and reports few.
type ypath struct {
	up  *ypath // nil for the root, $
	key string // the key below up; "" for the item i of a list
	i   int
}

func (p *ypath) String() string {
	if p == nil {
		return "$"
	}
	var b []byte
	return string(p.append(b))
}

func (p *ypath) append(b []byte) []byte {
	if p == nil {
		return append(b, '$')
	}
	b = p.up.append(b)
	if p.key != "" {
		return append(append(b, '.'), p.key...)
	}
	return append(strconv.AppendInt(append(b, '['), int64(p.i), 10), ']')
}

// maxDepth bounds recursion through aliases and nesting; the config types
// are less than ten levels deep.
const maxDepth = 64

// resolve follows aliases.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < maxDepth && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	return n
}

// field is one yaml key of a struct.
type field struct {
	key   string
	index int
	typ   reflect.Type
}

var fieldCache sync.Map // reflect.Type -> []field

func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		if key == "" {
			key = strings.ToLower(sf.Name)
		}
		out = append(out, field{key: key, index: i, typ: sf.Type})
	}
	fieldCache.Store(t, out)
	return out
}

var (
	durationType      = reflect.TypeFor[Duration]()
	lossyDurationType = reflect.TypeFor[lossy.Duration]()
)

// isDuration reports whether t is written as "5s": config's Duration or
// lossy's, which lossy declares itself to avoid an import cycle.
func isDuration(t reflect.Type) bool { return t == durationType || t == lossyDurationType }

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalarTag returns n's tag when n is a scalar: !!str, !!int, !!float,
// !!bool, !!null, ...
func scalarTag(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.ShortTag(), true
}

// decode fills v from n. path is n's YAML yp.String(), e.g. $.devices[2].budget.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, yp *ypath) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.add(errcode.ConfigWrongType, nodePos(n), yp.String(), "", "value nested too deeply")
		return
	}
	at := nodePos(n)
	if n != nil && (n.Kind == yaml.AliasNode || n.Anchor != "") {
		d.shared++
		defer func() { d.shared-- }()
	}
	n = d.resolve(n)
	if isNull(n) {
		return // an empty value leaves the zero value; required checks come later
	}
	t := v.Type()
	if isDuration(t) {
		d.decodeDuration(n, v, yp, at)
		return
	}
	tag, isScalar := scalarTag(n)
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), yp)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.wrongType(at, yp.String(), n, "a section of key: value lines")
			return
		}
		d.decodeStruct(n, v, yp)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			hint := ""
			if n.Kind == yaml.MappingNode {
				hint = "start each item of the list with '- '"
			}
			d.wrongTypeHint(at, yp.String(), n, "a list", hint)
			return
		}
		out := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, out.Index(i), &ypath{up: yp, i: i})
			if d.shared == 0 {
				n.Content[i] = nil // decoded: let the garbage collector have it
			}
		}
		v.Set(out)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.wrongType(at, yp.String(), n, "a section of key: value lines")
			return
		}
		out := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			k, ok := scalarText(d.resolve(kn))
			if !ok {
				d.wrongType(nodePos(kn), yp.String(), kn, "a text key")
				continue
			}
			ev := reflect.New(t.Elem()).Elem()
			d.decode(vn, ev, &ypath{up: yp, key: k})
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		v.Set(out)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			d.wrongType(at, yp.String(), n, "text")
			return
		}
		v.SetString(s)
	case reflect.Bool:
		if !isScalar || tag != "!!bool" {
			d.wrongType(at, yp.String(), n, "true or false")
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			d.wrongType(at, yp.String(), n, "true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !isScalar || tag != "!!int" {
			d.wrongType(at, yp.String(), n, "a whole number")
			return
		}
		x, err := parseInt(n.Value)
		if err != nil || v.OverflowInt(x) {
			d.add(errcode.ConfigOutOfRange, at, yp.String(), "", "number %s is too large", n.Value)
			return
		}
		v.SetInt(x)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch {
		case isScalar && tag == "!!int":
			x, err := parseInt(n.Value)
			if err != nil {
				d.wrongType(at, yp.String(), n, "a finite number")
				return
			}
			f = float64(x)
		case isScalar && (tag == "!!float" || tag == "!!str"):
			x, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				d.wrongType(at, yp.String(), n, "a finite number")
				return
			}
			f = x
		default:
			d.wrongType(at, yp.String(), n, "a finite number")
			return
		}
		v.SetFloat(f)
	default:
		d.add(errcode.ConfigWrongType, at, yp.String(), "", "cannot decode into %s", t)
	}
}

// parseInt reads a YAML integer as written: 12, -3, 0x1F, 0o17, 0b101, 1_000.
func parseInt(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	x, err := strconv.ParseInt(s, 0, 64)
	if err != nil && strings.HasPrefix(s, "0") && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		return strconv.ParseInt(s, 8, 64) // YAML 1.1 octal 017
	}
	return x, err
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, yp *ypath, at pos) {
	tag, ok := scalarTag(n)
	if !ok || tag != "!!str" && tag != "!!int" && tag != "!!float" {
		d.wrongType(at, yp.String(), n, "a duration like 500ms or 5s")
		return
	}
	s := n.Value
	x, err := parseDuration(s)
	if err != nil {
		hint := ""
		if errors.Is(err, errNoUnit) {
			hint = fmt.Sprintf("write %ss or %sms", s, s)
			err = fmt.Errorf("duration %q has no unit", s)
		}
		d.add(errcode.ConfigBadDuration, at, yp.String(), hint, "%s: %v", sectionName(yp.String()), err)
		return
	}
	v.SetInt(int64(x))
}

func isMergeKey(k *yaml.Node) bool {
	return k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

func (d *decoder) decodeStruct(m *yaml.Node, v reflect.Value, yp *ypath) {
	fields := fieldsOf(v.Type())
	var seen [4]uint64 // bit i: fields[i] was given; config structs have far fewer than 256 fields
	// Merge keys (<<: *base) first: explicit keys override them, wherever
	// written. Merged sections are shared by nature: keep their items.
	d.shared++
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		val := m.Content[i+1]
		src := d.resolve(val)
		switch {
		case src != nil && src.Kind == yaml.MappingNode:
			d.decodeStruct(src, v, yp)
		case src != nil && src.Kind == yaml.SequenceNode:
			for _, x := range src.Content {
				if mm := d.resolve(x); mm != nil && mm.Kind == yaml.MappingNode {
					d.decodeStruct(mm, v, yp)
				}
			}
		default:
			d.wrongType(nodePos(val), yp.String(), src, "a section to merge")
		}
	}
	d.shared--
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn0, vn := m.Content[i], m.Content[i+1]
		if isMergeKey(kn0) {
			continue
		}
		kn := d.resolve(kn0)
		kpos := nodePos(kn0)
		key, ok := scalarText(kn)
		if !ok {
			d.wrongType(kpos, yp.String(), kn, "a text key")
			continue
		}
		fi, found := findField(fields, key)
		if !found {
			d.add(errcode.ConfigUnknownKey, kpos, yp.String()+"."+key, unknownKeyHint(key, fields), "unknown key %q in %s", key, sectionName(yp.String()))
			continue
		}
		if seen[fi/64]&(1<<(fi%64)) != 0 {
			d.add(errcode.ConfigDuplicateKey, kpos, yp.String()+"."+key, "", "key %q given twice", key)
			continue
		}
		seen[fi/64] |= 1 << (fi % 64)
		fv := v.Field(fields[fi].index)
		d.decode(vn, fv, &ypath{up: yp, key: key})
		if zeroOrNegative(fv) {
			// The checks ask whether such a key was written (unit: 0
			// is not a missing unit); other values answer for themselves.
			d.given[yp.String()+"."+key] = true
		}
	}
}

// zeroOrNegative tells whether v is its type's zero or a negative number.
func zeroOrNegative(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() <= 0
	case reflect.Float32, reflect.Float64:
		return v.Float() <= 0
	}
	return v.IsZero()
}

// findField returns the index in fs of the field with key.
func findField(fs []field, key string) (int, bool) {
	for i, f := range fs {
		if f.key == key {
			return i, true
		}
	}
	return 0, false
}

func unknownKeyHint(key string, fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
	}
	if best, ok := closest(key, names); ok {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if where, ok := keyHomes()[key]; ok {
		return fmt.Sprintf("%q is a key of %s", key, strings.Join(where, ", "))
	}
	sort.Strings(names)
	return "known keys here: " + strings.Join(names, ", ")
}

// keyHomes maps every yaml key to the sections it belongs to, so that a
// key written at the wrong level can be pointed to its place.
var keyHomes = sync.OnceValue(func() map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type, path string, depth int)
	walk = func(t reflect.Type, path string, depth int) {
		if depth > 12 {
			return
		}
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			if t.Kind() == reflect.Slice {
				path += "[]"
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType {
			return
		}
		for _, f := range fieldsOf(t) {
			out[f.key] = appendUnique(out[f.key], sectionName(path))
			walk(f.typ, path+"."+f.key, depth+1)
		}
	}
	walk(reflect.TypeFor[Config](), "$", 0)
	return out
})

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// sectionName names the section at path for people: "the top level",
// "devices[2].budget".
func sectionName(path string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(path, "$"), ".")
	if s == "" {
		return "the top level"
	}
	return s
}

// scalarText is the text of a scalar node as written, so that "01" stays
// "01" and 40001 can be an address.
func scalarText(n *yaml.Node) (string, bool) {
	switch tag, ok := scalarTag(n); {
	case !ok:
		return "", false
	case tag == "!!str", tag == "!!int", tag == "!!float", tag == "!!binary", tag == "!!timestamp":
		return n.Value, true
	}
	return "", false
}

func (d *decoder) wrongType(at pos, path string, n *yaml.Node, want string) {
	d.wrongTypeHint(at, path, n, want, "")
}

func (d *decoder) wrongTypeHint(at pos, path string, n *yaml.Node, want, hint string) {
	d.add(errcode.ConfigWrongType, at, path, hint, "%s: expected %s, found %s", sectionName(path), want, describe(n))
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!bool":
			return "boolean " + strings.ToLower(n.Value)
		case "!!int":
			return "number " + n.Value
		case "!!float":
			if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
				return n.Value // .inf, .nan
			}
			return "number " + n.Value
		case "!!null":
			return "nothing"
		case "!!str":
			if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return "a text block"
			}
			return strconv.Quote(n.Value)
		}
		return strconv.Quote(n.Value)
	}
	return "a value"
}

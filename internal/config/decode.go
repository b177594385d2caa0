package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/otlink/otlink/internal/errcode"
)

// pos is a line:column place in the file.
type pos struct{ line, col int }

// decoder turns a goccy/go-yaml AST into the config types by reflection,
// so that it can report every unknown key and wrong type with its place
// (a plain yaml.Unmarshal stops at the first) and remember where each
// value was written, for the checks that run after decoding.
type decoder struct {
	file    string
	vals    map[string]pos      // YAML path -> position of its value
	keys    map[string]pos      // YAML path -> position of its key
	bad     map[string]bool     // paths that already have a decoding problem
	anchors map[string]ast.Node // anchor name -> anchored node
	probs   Errors
	depth   int
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:    file,
		vals:    map[string]pos{},
		keys:    map[string]pos{},
		bad:     map[string]bool{},
		anchors: map[string]ast.Node{},
	}
}

func (d *decoder) add(code errcode.Code, p pos, path, hint, format string, args ...any) {
	d.probs = append(d.probs, &Problem{File: d.file, Line: p.line, Col: p.col, Code: code,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Path: path})
	d.bad[path] = true
}

// parseYAML parses data and returns the body of its single document, or nil
// for an empty file. A parser panic (seen on fuzzed input in older
// releases) becomes a syntax problem.
func (d *decoder) parseYAML(data []byte) (body ast.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.add(errcode.ConfigSyntax, pos{1, 1}, "$", "", "yaml parser failed: %v", r)
			body, ok = nil, false
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		d.syntax(err)
		return nil, false
	}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	if len(docs) == 0 {
		return nil, true
	}
	if len(docs) > 1 {
		d.add(errcode.ConfigSyntax, nodePos(docs[1]), "$", "remove the '---' line and merge the documents",
			"a config file holds one YAML document, found %d", len(docs))
		return nil, false
	}
	return docs[0], true
}

func (d *decoder) syntax(err error) {
	var se *yaml.SyntaxError
	p := pos{1, 1}
	msg := err.Error()
	if errors.As(err, &se) {
		msg = se.Message
		if se.Token != nil && se.Token.Position != nil {
			p = pos{se.Token.Position.Line, se.Token.Position.Column}
		}
	}
	code := errcode.ConfigSyntax
	hint := ""
	switch {
	case strings.HasPrefix(msg, "mapping key") && strings.Contains(msg, "already defined"):
		code = errcode.ConfigDuplicateKey
	case strings.Contains(msg, "'\t'") || strings.Contains(msg, "\t"):
		hint = "indent with spaces, not tabs"
		msg = strings.ReplaceAll(msg, "\t", `\t`)
	}
	d.add(code, p, "$", hint, "%s", msg)
}

// nodePos is where a node starts: for a block mapping the first key, not
// the ':' goccy keeps as the mapping's token.
func nodePos(n ast.Node) pos {
	switch v := n.(type) {
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return nodePos(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	case *ast.AnchorNode:
		if v.Value != nil {
			return nodePos(v.Value)
		}
	case *ast.TagNode:
		if v.Value != nil {
			return nodePos(v.Value)
		}
	}
	if n == nil {
		return pos{}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

// collectAnchors records every anchor so aliases resolve even when the
// anchored node sits under a key the decoder skips.
func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		if name, ok := v.Name.(*ast.StringNode); ok {
			d.anchors[name.Value] = v.Value
		} else if v.Name != nil {
			d.anchors[v.Name.GetToken().Value] = v.Value
		}
		d.collectAnchors(v.Value, depth+1)
	case *ast.TagNode:
		d.collectAnchors(v.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.collectAnchors(mv.Value, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			d.collectAnchors(x, depth+1)
		}
	}
}

// maxDepth bounds recursion through aliases and nesting; the config types
// are less than ten levels deep.
const maxDepth = 64

// resolve strips tags and anchors and follows aliases.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for i := 0; i < maxDepth && n != nil; i++ {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			t, ok := d.anchors[name]
			if !ok {
				return nil
			}
			n = t
		default:
			return n
		}
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

var durationType = reflect.TypeFor[Duration]()

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// decode fills v from n. path is n's YAML path, e.g. $.devices[2].budget.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.add(errcode.ConfigWrongType, nodePos(n), path, "", "value nested too deeply")
		return
	}
	at := nodePos(n)
	if _, ok := d.vals[path]; !ok {
		d.vals[path] = at
	}
	if alias, ok := n.(*ast.AliasNode); ok {
		if d.resolve(alias) == nil {
			d.add(errcode.ConfigSyntax, at, path, "define the anchor (&name) before using it", "unknown alias %s", alias.String())
			return
		}
	}
	n = d.resolve(n)
	if isNull(n) {
		return // an empty value leaves the zero value; required checks come later
	}
	t := v.Type()
	if t == durationType {
		d.decodeDuration(n, v, path, at)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			d.wrongType(at, path, n, "a section of key: value lines")
			return
		}
		d.decodeStruct(m, v, path, map[string]bool{})
	case reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			hint := ""
			if _, isMap := n.(*ast.MappingNode); isMap {
				hint = "start each item of the list with '- '"
			}
			d.wrongTypeHint(at, path, n, "a list", hint)
			return
		}
		out := reflect.MakeSlice(t, len(s.Values), len(s.Values))
		for i, item := range s.Values {
			d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(out)
	case reflect.Map:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			d.wrongType(at, path, n, "a section of key: value lines")
			return
		}
		out := reflect.MakeMapWithSize(t, len(m.Values))
		for _, mv := range m.Values {
			k, ok := scalarText(d.resolve(mv.Key))
			if !ok {
				d.wrongType(nodePos(mv.Key), path, mv.Key, "a text key")
				continue
			}
			kp := path + "." + k
			d.keys[kp] = nodePos(mv.Key)
			ev := reflect.New(t.Elem()).Elem()
			d.decode(mv.Value, ev, kp)
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		v.Set(out)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			d.wrongType(at, path, n, "text")
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.wrongType(at, path, n, "true or false")
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			d.wrongType(at, path, n, "a whole number")
			return
		}
		var x int64
		switch iv := i.Value.(type) {
		case int64:
			x = iv
		case uint64:
			if iv > math.MaxInt64 {
				d.add(errcode.ConfigOutOfRange, at, path, "", "number %s is too large", i.Token.Value)
				return
			}
			x = int64(iv)
		}
		if v.OverflowInt(x) {
			d.add(errcode.ConfigOutOfRange, at, path, "", "number %s is too large", i.Token.Value)
			return
		}
		v.SetInt(x)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch nv := n.(type) {
		case *ast.IntegerNode:
			switch iv := nv.Value.(type) {
			case int64:
				f = float64(iv)
			case uint64:
				f = float64(iv)
			}
		case *ast.FloatNode:
			f = nv.Value
		case *ast.StringNode:
			// goccy reads 1e5 (no '.') as text; YAML 1.2 says it is a number.
			x, err := strconv.ParseFloat(nv.Value, 64)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				d.wrongType(at, path, n, "a finite number")
				return
			}
			f = x
		default:
			d.wrongType(at, path, n, "a finite number")
			return
		}
		v.SetFloat(f)
	default:
		d.add(errcode.ConfigWrongType, at, path, "", "cannot decode into %s", t)
	}
}

func (d *decoder) decodeDuration(n ast.Node, v reflect.Value, path string, at pos) {
	var s string
	switch nv := n.(type) {
	case *ast.StringNode:
		s = nv.Value
	case *ast.IntegerNode, *ast.FloatNode:
		s = nv.GetToken().Value
	default:
		d.wrongType(at, path, n, "a duration like 500ms or 5s")
		return
	}
	x, err := parseDuration(s)
	if err != nil {
		hint := ""
		if errors.Is(err, errNoUnit) {
			hint = fmt.Sprintf("write %ss or %sms", s, s)
			err = fmt.Errorf("duration %q has no unit", s)
		}
		d.add(errcode.ConfigBadDuration, at, path, hint, "%s: %v", sectionName(path), err)
		return
	}
	v.SetInt(int64(x))
}

func (d *decoder) decodeStruct(m *ast.MappingNode, v reflect.Value, path string, seen map[string]bool) {
	fields := fieldsOf(v.Type())
	// Merge keys (<<: *base) first: explicit keys override them, wherever written.
	for _, mv := range m.Values {
		if mv.Key == nil || !mv.Key.IsMergeKey() {
			continue
		}
		src := d.resolve(mv.Value)
		switch s := src.(type) {
		case *ast.MappingNode:
			d.decodeStruct(s, v, path, map[string]bool{})
		case *ast.SequenceNode:
			for _, x := range s.Values {
				if mm, ok := d.resolve(x).(*ast.MappingNode); ok {
					d.decodeStruct(mm, v, path, map[string]bool{})
				}
			}
		default:
			d.wrongType(nodePos(mv.Value), path, src, "a section to merge")
		}
	}
	for _, mv := range m.Values {
		if mv.Key == nil || mv.Key.IsMergeKey() {
			continue
		}
		kn := d.resolve(mv.Key)
		kpos := nodePos(mv.Key)
		key, ok := scalarText(kn)
		if !ok {
			d.wrongType(kpos, path, kn, "a text key")
			continue
		}
		f, found := findField(fields, key)
		if !found {
			d.add(errcode.ConfigUnknownKey, kpos, path+"."+key, unknownKeyHint(key, fields), "unknown key %q in %s", key, sectionName(path))
			continue
		}
		if seen[key] {
			// goccy rejects most duplicates as a syntax error; this catches the rest.
			d.add(errcode.ConfigDuplicateKey, kpos, path+"."+key, "", "key %q given twice", key)
			continue
		}
		seen[key] = true
		kp := path + "." + key
		d.keys[kp] = kpos
		d.vals[kp] = nodePos(mv.Value)
		if isNull(d.resolve(mv.Value)) {
			d.vals[kp] = kpos // "key:" with nothing after: point at the key
		}
		d.decode(mv.Value, v.Field(f.index), kp)
	}
}

func findField(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
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
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode:
		return v.GetToken().Value, true
	}
	return "", false
}

func (d *decoder) wrongType(at pos, path string, n ast.Node, want string) {
	d.wrongTypeHint(at, path, n, want, "")
}

func (d *decoder) wrongTypeHint(at pos, path string, n ast.Node, want, hint string) {
	d.add(errcode.ConfigWrongType, at, path, hint, "%s: expected %s, found %s", sectionName(path), want, describe(n))
}

// describe names a node's kind for messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode:
		return "a section"
	case *ast.SequenceNode:
		return "a list"
	case *ast.BoolNode:
		return fmt.Sprintf("boolean %v", v.Value)
	case *ast.IntegerNode, *ast.FloatNode:
		return "number " + v.GetToken().Value
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value
	case *ast.LiteralNode:
		return "a text block"
	}
	if tk := n.GetToken(); tk != nil && tk.Type != token.UnknownType {
		return strconv.Quote(tk.Value)
	}
	return "a value"
}

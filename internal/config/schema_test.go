package config

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestSchemaInSync walks the config types by reflection and the JSON
// Schema side by side: every yaml key must be a property at the same place
// with a description and a matching type, and every property a yaml key.
// Adding a field without documenting it fails here.
func TestSchemaInSync(t *testing.T) {
	data, err := os.ReadFile("../../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema is %v", root["$schema"])
	}
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(node map[string]any) map[string]any {
		for i := 0; i < 8; i++ {
			r, ok := node["$ref"].(string)
			if !ok {
				return node
			}
			name, found := strings.CutPrefix(r, "#/$defs/")
			def, ok2 := defs[name].(map[string]any)
			if !found || !ok2 {
				t.Errorf("dangling $ref %s", r)
				return map[string]any{}
			}
			node = def
		}
		return node
	}
	var walk func(typ reflect.Type, node map[string]any, path string, depth int)
	walk = func(typ reflect.Type, node map[string]any, path string, depth int) {
		if depth > 24 {
			t.Fatalf("types too deep at %s", path)
		}
		n := resolve(node)
		schemaType := n["type"]
		hasType := func(want string) bool {
			switch st := schemaType.(type) {
			case string:
				return st == want
			case []any:
				for _, x := range st {
					if x == want {
						return true
					}
				}
			}
			return false
		}
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if isDuration(typ) {
			if !hasType("string") {
				t.Errorf("%s: a duration must be a string in the schema", path)
			}
			return
		}
		switch typ.Kind() {
		case reflect.Struct:
			if !hasType("object") {
				t.Errorf("%s: schema type %v, want object", path, schemaType)
				return
			}
			if n["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties must be false (unknown keys are errors)", path)
			}
			props, _ := n["properties"].(map[string]any)
			keys := map[string]bool{}
			for _, f := range fieldsOf(typ) {
				keys[f.key] = true
				p, ok := props[f.key].(map[string]any)
				if !ok {
					t.Errorf("%s.%s: yaml key missing from the schema", path, f.key)
					continue
				}
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s.%s: no description in the schema", path, f.key)
				}
				walk(f.typ, p, path+"."+f.key, depth+1)
			}
			var extra []string
			for k := range props {
				if !keys[k] {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			for _, k := range extra {
				t.Errorf("%s.%s: in the schema but not a yaml key of %s", path, k, typ)
			}
		case reflect.Slice:
			items, ok := n["items"].(map[string]any)
			if !hasType("array") || !ok {
				t.Errorf("%s: want an array with items", path)
				return
			}
			walk(typ.Elem(), items, path+"[]", depth+1)
		case reflect.Map:
			ap, ok := n["additionalProperties"].(map[string]any)
			if !hasType("object") || !ok {
				t.Errorf("%s: want an object with additionalProperties", path)
				return
			}
			walk(typ.Elem(), ap, path+".*", depth+1)
		case reflect.String:
			if !hasType("string") {
				t.Errorf("%s: schema type %v, want string", path, schemaType)
			}
		case reflect.Bool:
			if !hasType("boolean") {
				t.Errorf("%s: schema type %v, want boolean", path, schemaType)
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if !hasType("integer") {
				t.Errorf("%s: schema type %v, want integer", path, schemaType)
			}
		case reflect.Float32, reflect.Float64:
			if !hasType("number") {
				t.Errorf("%s: schema type %v, want number", path, schemaType)
			}
		default:
			t.Errorf("%s: no schema rule for %s", path, typ)
		}
	}
	walk(reflect.TypeFor[Config](), root, "$", 0)
}

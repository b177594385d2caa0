package dissect

import "testing"

func TestStrings(t *testing.T) {
	var c Strings
	if c.Get(0) != "" || c.Get(7) != "" {
		t.Fatal("empty cache returned a string")
	}
	c.Put(7, "seven")
	if c.Get(7) != "seven" || c.Get(8) != "" {
		t.Fatalf("get 7 %q, 8 %q", c.Get(7), c.Get(8))
	}
	for k := range uint64(1000) { // collisions replace, never mix up keys
		c.Put(k, string(rune('a'+k%26)))
	}
	for k := range uint64(1000) {
		if s := c.Get(k); s != "" && s != string(rune('a'+k%26)) {
			t.Fatalf("key %d: %q", k, s)
		}
	}
	if c.Get(999) != string(rune('a'+999%26)) {
		t.Fatal("the last put is not cached")
	}
}

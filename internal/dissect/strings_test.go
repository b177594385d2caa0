package dissect

import "testing"

func TestNames(t *testing.T) {
	var n Names
	if n.Get(0) != "" || n.Get(7) != "" {
		t.Fatal("empty cache returned a string")
	}
	n.Put(7, "seven")
	if n.Get(7) != "seven" || n.Get(8) != "" {
		t.Fatalf("get 7 %q, 8 %q", n.Get(7), n.Get(8))
	}
	n = Names{}
	done := make(chan struct{})
	go func() { // concurrent parsers: -race checks the table is safe
		defer close(done)
		for k := range uint64(5000) {
			if s := n.Get(k); s != "" && s != string(rune('a'+k%26)) {
				t.Errorf("key %d: %q", k, s)
				return
			}
		}
	}()
	for k := range uint64(5000) { // collisions replace, never mix up keys
		n.Put(k, string(rune('a'+k%26)))
	}
	<-done
	for k := range uint64(5000) {
		if s := n.Get(k); s != "" && s != string(rune('a'+k%26)) {
			t.Fatalf("key %d: %q", k, s)
		}
	}
	if n.Get(4999) != string(rune('a'+4999%26)) {
		t.Fatal("the last put is not cached")
	}
}

func TestNamesIntern(t *testing.T) {
	var n Names
	a := n.Intern([]byte("1756-L71/B LOGIX5571"))
	b := n.Intern([]byte("1756-L71/B LOGIX5571"))
	if a != "1756-L71/B LOGIX5571" || b != a {
		t.Fatalf("%q %q", a, b)
	}
	for i := range 3000 { // collisions never return other bytes
		s := string(rune('a'+i%26)) + string(rune('A'+i%17)) + string(rune('0'+i%10))
		if got := n.Intern([]byte(s)); got != s {
			t.Fatalf("intern %q: %q", s, got)
		}
	}
	if n.Intern(nil) != "" {
		t.Fatal("empty bytes")
	}
}

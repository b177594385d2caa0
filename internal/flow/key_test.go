package flow

import "testing"

// TestKeyEqual checks the word compare against the compiler's ==, with
// keys that differ in one byte of each field.
func TestKeyEqual(t *testing.T) {
	base := Key{PA: 502, PB: 40000, Proto: 6, IPv: 4, VLAN: [2]uint16{10, 0}}
	for i := range base.A {
		base.A[i], base.B[i] = byte(i), byte(100+i)
	}
	var keys []Key
	for i := range 16 {
		k := base
		k.A[i]++
		keys = append(keys, k)
		k = base
		k.B[i]++
		keys = append(keys, k)
	}
	for _, f := range []func(*Key){
		func(k *Key) { k.PA++ }, func(k *Key) { k.PB++ }, func(k *Key) { k.Proto++ },
		func(k *Key) { k.IPv = 6 }, func(k *Key) { k.VLAN[0]++ }, func(k *Key) { k.VLAN[1]++ },
		func(k *Key) { k.A, k.B = k.B, k.A },
	} {
		k := base
		f(&k)
		keys = append(keys, k)
	}
	keys = append(keys, base)
	for i := range keys {
		for j := range keys {
			if got, want := keys[i].equal(&keys[j]), keys[i] == keys[j]; got != want {
				t.Fatalf("keys %d and %d: equal %v, == %v", i, j, got, want)
			}
		}
	}
	if !base.equal(&keys[len(keys)-1]) {
		t.Fatal("a key is not equal to its copy")
	}
}

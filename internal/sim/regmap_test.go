package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
)

func parseAddr(t *testing.T, a string) (string, int) {
	t.Helper()
	sp, n, ok := strings.Cut(a, ":")
	i, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Fatalf("bad address %q", a)
	}
	return sp, i
}

func TestMapConsistent(t *testing.T) {
	names := map[string]bool{}
	used := map[string]string{}
	size := map[string]int{"hr": holdingCount, "ir": inputCount, "coil": coilCount, "di": discreteCount}
	for _, e := range Map() {
		if names[e.Name] {
			t.Errorf("duplicate name %s", e.Name)
		}
		names[e.Name] = true
		typ, ok := model.ParseType(e.Type)
		if !ok {
			t.Errorf("%s: bad type %q", e.Name, e.Type)
		}
		sp, addr := parseAddr(t, e.Address)
		units := 1
		switch {
		case typ == model.String:
			units = (e.Length + 1) / 2
		case typ.Bits() > 16:
			units = typ.Bits() / 16
			if e.WordOrder != "big" && e.WordOrder != "little" {
				t.Errorf("%s: word order %q", e.Name, e.WordOrder)
			}
		}
		if (sp == "coil" || sp == "di") != (typ == model.Bool) {
			t.Errorf("%s: type %s in %s", e.Name, typ, sp)
		}
		if addr+units > size[sp] {
			t.Errorf("%s at %s runs past the table", e.Name, e.Address)
		}
		for u := range units {
			k := fmt.Sprintf("%s:%d", sp, addr+u)
			if other, dup := used[k]; dup {
				t.Errorf("%s overlaps %s at %s", e.Name, other, k)
			}
			used[k] = e.Name
		}
		if e.Description == "" {
			t.Errorf("%s: no description", e.Name)
		}
	}
	// Every type and both word orders are there for acquisition tests.
	for _, typ := range []string{"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"} {
		for _, wo := range []string{"big", "little"} {
			if (typ == "int16" || typ == "uint16") && wo == "little" {
				continue
			}
			found := false
			for _, e := range Map() {
				found = found || e.Type == typ && (e.WordOrder == wo || typ == "int16" || typ == "uint16")
			}
			if !found {
				t.Errorf("no %s %s in the map", typ, wo)
			}
		}
	}
}

// decode reads an entry's value from an image with a decoder written apart
// from the encoder.
func decode(t *testing.T, im *image, e Entry) (float64, string) {
	t.Helper()
	sp, addr := parseAddr(t, e.Address)
	switch sp {
	case "coil":
		return float64(im.coil[addr]), ""
	case "di":
		return float64(im.di[addr]), ""
	}
	tab := im.hr
	if sp == "ir" {
		tab = im.ir
	}
	typ, _ := model.ParseType(e.Type)
	if typ == model.String {
		return 0, strings.TrimRight(string(tab[2*addr:2*addr+e.Length]), "\x00")
	}
	n := max(1, typ.Bits()/16)
	var raw uint64
	for i := range n {
		w := i
		if e.WordOrder == "little" {
			w = n - 1 - i
		}
		raw = raw<<16 | uint64(binary.BigEndian.Uint16(tab[2*(addr+w):]))
	}
	var x float64
	switch typ {
	case model.Int16:
		x = float64(int16(raw))
	case model.Int32:
		x = float64(int32(raw))
	case model.Int64:
		x = float64(int64(raw))
	case model.Float32:
		x = float64(math.Float32frombits(uint32(raw)))
	case model.Float64:
		x = math.Float64frombits(raw)
	default:
		x = float64(raw)
	}
	if e.Scale != 0 {
		x *= e.Scale
	}
	return x, ""
}

func TestImageMatchesValues(t *testing.T) {
	m := NewMachine(MachineConfig{Kind: KindLathe, Seed: 9, Step: time.Second})
	im := newImage(0)
	checked := 0
	for step := range 20000 {
		m.Step()
		if step%997 != 0 {
			continue
		}
		v := m.Values()
		im.encode(&v)
		for _, sg := range signals {
			want := sg.get(&v)
			for _, b := range typedBlocks {
				e, ok := Lookup(sg.name + b.suffix)
				if !ok {
					t.Fatalf("no entry %s%s", sg.name, b.suffix)
				}
				got, _ := decode(t, im, e)
				w := want
				switch {
				case b.typ == model.Float32:
					w = float64(float32(want))
				case b.typ.IsUnsigned():
					w = math.Max(0, math.Round(want))
					if b.typ == model.Uint16 {
						w = math.Min(w, 65535)
					}
				case b.typ == model.Int16:
					w = clamp(math.Round(want), -32768, 32767)
				case !b.typ.IsFloat():
					w = math.Round(want)
				}
				if got != w {
					t.Fatalf("step %d %s: got %v want %v (value %v)", step, e.Name, got, w, want)
				}
				checked++
			}
		}
		for name, want := range map[string]float64{
			"state": float64(v.State), "alarm_word": float64(v.Alarms), "good_count": float64(v.Good),
			"scrap_count": float64(v.Scrap), "feed_override": float64(v.FeedOverride),
			"spindle_temp_raw": math.Round(v.SpindleTemp*10) / 10, "energy_raw": math.Round(v.Energy*10) / 10,
			"running": b2f(v.State == StateRunning), "fault": b2f(v.State == StateFault), "door_closed": b2f(!v.DoorOpen),
		} {
			e, _ := Lookup(name)
			got, _ := decode(t, im, e)
			if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Fatalf("step %d %s: got %v want %v", step, name, got, want)
			}
		}
		e, _ := Lookup("program")
		if _, s := decode(t, im, e); s != v.Program {
			t.Fatalf("program %q, want %q", s, v.Program)
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

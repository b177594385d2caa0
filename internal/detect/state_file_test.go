package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestStoreFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor", "alerts.json")
	c := &clock{lT0}
	s := NewStore(func() time.Time { return c.now })
	s.Add(Alert{ID: "new_writer-1", Detection: "new_writer", Time: lT0, Techniques: []string{"T0855"}, Count: 3})
	s.Add(Alert{ID: "plc_stop-1", Detection: "plc_stop", Time: lT0.Add(time.Second)})
	c.step(time.Minute)
	if _, err := s.Acknowledge("new_writer-1", "ana", "on it"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	l, err := LoadStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := l.Get("new_writer-1")
	if !ok || r.State != StateAcknowledged || len(r.Notes) != 1 || r.Notes[0].Text != "on it" || r.Alert.Count != 3 || r.Alert.Techniques[0] != "T0855" {
		t.Fatalf("loaded %+v", r)
	}
	// Loaded states go on through the state machine.
	if _, err := l.Resolve("new_writer-1", "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acknowledge("new_writer-1", "ana", ""); errcode.Of(err) != errcode.AlertTransition {
		t.Errorf("acknowledge a resolved alert: %v", err)
	}
	// No temporary file is left behind.
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".alerts-*")); len(m) != 0 {
		t.Errorf("left over: %v", m)
	}
	// A missing file is an empty store.
	if e, err := LoadStore(filepath.Join(t.TempDir(), "none.json"), nil); err != nil || e.Len() != 0 {
		t.Errorf("missing file: %v", err)
	}
}

func TestStoreFileInvalid(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbage": "{not json",
		"version": `{"version":9,"records":[]}`,
		"state":   `{"version":1,"records":[{"alert":{"id":"a-1"},"state":"eaten"}]}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadStore(p, nil); errcode.Of(err) != errcode.AlertStore {
			t.Errorf("%s: %v, want %s", name, err, errcode.AlertStore)
		}
	}
}

func TestStorePrune(t *testing.T) {
	c := &clock{lT0}
	s := NewStore(func() time.Time { return c.now })
	for i := range 10 {
		s.Add(Alert{ID: fmt.Sprintf("a-%d", i), Time: lT0})
		c.step(time.Second)
	}
	s.Resolve("a-9", "ana", "")
	s.Acknowledge("a-8", "ana", "")
	gone := s.Prune(7)
	// The resolved first, then the acknowledged, then the oldest new.
	if fmt.Sprint(gone) != "[a-9 a-8 a-0]" || s.Len() != 7 {
		t.Fatalf("pruned %v, %d left", gone, s.Len())
	}
	if s.Prune(7) != nil {
		t.Error("pruned below the bound")
	}
}

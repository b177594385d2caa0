package detect_test

import (
	"testing"
	"time"

	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/errcode"
)

func TestStoreTransitions(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := detect.NewStore(func() time.Time { now = now.Add(time.Second); return now })
	s.Add(detect.Alert{ID: "plc_stop-1", Title: "PLC stop command", Severity: detect.High})
	s.Add(detect.Alert{ID: "port_scan-1", Title: "Port scan", Severity: detect.High})
	if _, err := s.Resolve("nope", "ana", ""); errcode.Of(err) != errcode.AlertUnknown {
		t.Fatalf("unknown: %v", err)
	}
	r, err := s.Acknowledge("plc_stop-1", "ana", "calling the line")
	if err != nil || r.State != detect.StateAcknowledged || len(r.Notes) != 1 || r.Notes[0].From != detect.StateNew {
		t.Fatalf("ack %+v %v", r, err)
	}
	if _, err := s.Acknowledge("plc_stop-1", "ana", ""); errcode.Of(err) != errcode.AlertTransition {
		t.Fatalf("double ack: %v", err)
	}
	if _, err := s.AddNote("plc_stop-1", "bob", "maintenance window"); err != nil {
		t.Fatal(err)
	}
	r, err = s.Resolve("plc_stop-1", "bob", "planned stop")
	if err != nil || r.State != detect.StateResolved || len(r.Notes) != 3 {
		t.Fatalf("resolve %+v %v", r, err)
	}
	if _, err := s.Acknowledge("plc_stop-1", "ana", ""); errcode.Of(err) != errcode.AlertTransition {
		t.Fatalf("ack resolved: %v", err)
	}
	// Re-adding an alert keeps its state and notes.
	r = s.Add(detect.Alert{ID: "plc_stop-1", Count: 2})
	if r.State != detect.StateResolved || len(r.Notes) != 3 || r.Alert.Count != 2 {
		t.Fatalf("re-add %+v", r)
	}
	if r, err = s.Reopen("plc_stop-1", "ana", "again"); err != nil || r.State != detect.StateNew {
		t.Fatalf("reopen %+v %v", r, err)
	}
	if l := s.List(detect.StateNew); len(l) != 2 {
		t.Fatalf("new: %d", len(l))
	}
	if l := s.List(detect.StateResolved); len(l) != 0 {
		t.Fatalf("resolved: %d", len(l))
	}
	if !detect.CanTransition(detect.StateNew, detect.StateResolved) || detect.CanTransition(detect.StateAcknowledged, detect.StateNew) {
		t.Fatal("transition table")
	}
}

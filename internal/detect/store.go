package detect

import (
	"sort"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// State is where an alert is in its handling.
type State string

const (
	StateNew          State = "new"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Note is a remark by an analyst on an alert, with the state change it
// came with ("" when none).
type Note struct {
	Time time.Time `json:"time"`
	User string    `json:"user"`
	Text string    `json:"text"`
	From State     `json:"from,omitempty"`
	To   State     `json:"to,omitempty"`
}

// Record is an alert with its handling.
type Record struct {
	Alert   Alert     `json:"alert"`
	State   State     `json:"state"`
	Notes   []Note    `json:"notes"`
	Updated time.Time `json:"updated"`
}

// transitions are the allowed state changes: acknowledge a new alert,
// resolve a new or acknowledged one, reopen a resolved one.
var transitions = map[State][]State{
	StateNew:          {StateAcknowledged, StateResolved},
	StateAcknowledged: {StateResolved},
	StateResolved:     {StateNew},
}

// CanTransition reports whether an alert may go from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Store keeps alerts and their states in memory. It is safe for concurrent
// use. Persistence, the bus and the audit log are the caller's (the live
// pipeline's) business.
type Store struct {
	mu  sync.Mutex
	m   map[string]*Record
	now func() time.Time
}

// NewStore returns an empty store; now is the clock (nil: time.Now).
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{m: map[string]*Record{}, now: now}
}

// Add stores a new alert, or updates the evidence of an alert with the
// same id while keeping its state and notes. It returns a copy.
func (s *Store) Add(a Alert) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[a.ID]
	if r == nil {
		r = &Record{State: StateNew, Notes: []Note{}}
		s.m[a.ID] = r
	}
	r.Alert, r.Updated = a, s.now()
	return clone(r)
}

func clone(r *Record) Record {
	c := *r
	c.Notes = append([]Note{}, r.Notes...)
	return c
}

// Get returns the record of an alert.
func (s *Store) Get(id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[id]
	if r == nil {
		return Record{}, false
	}
	return clone(r), true
}

// Transition moves an alert to state to with a note by user.
func (s *Store) Transition(id string, to State, user, text string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[id]
	if r == nil {
		return Record{}, errcode.New(errcode.AlertUnknown, "alert %q", id)
	}
	if !CanTransition(r.State, to) {
		return clone(r), errcode.New(errcode.AlertTransition, "alert %s is %s, cannot become %s", id, r.State, to)
	}
	now := s.now()
	r.Notes = append(r.Notes, Note{Time: now, User: user, Text: text, From: r.State, To: to})
	r.State, r.Updated = to, now
	return clone(r), nil
}

// Acknowledge marks an alert as seen and being handled.
func (s *Store) Acknowledge(id, user, text string) (Record, error) {
	return s.Transition(id, StateAcknowledged, user, text)
}

// Resolve closes an alert.
func (s *Store) Resolve(id, user, text string) (Record, error) {
	return s.Transition(id, StateResolved, user, text)
}

// Reopen brings a resolved alert back to new.
func (s *Store) Reopen(id, user, text string) (Record, error) {
	return s.Transition(id, StateNew, user, text)
}

// AddNote adds a remark without changing the state.
func (s *Store) AddNote(id, user, text string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[id]
	if r == nil {
		return Record{}, errcode.New(errcode.AlertUnknown, "alert %q", id)
	}
	now := s.now()
	r.Notes = append(r.Notes, Note{Time: now, User: user, Text: text})
	r.Updated = now
	return clone(r), nil
}

// List returns the records in the given states (all when none), ordered by
// alert time then id.
func (s *Store) List(states ...State) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Record{}
	for _, r := range s.m {
		ok := len(states) == 0
		for _, st := range states {
			ok = ok || r.State == st
		}
		if ok {
			out = append(out, clone(r))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Alert.Time.Equal(out[j].Alert.Time) {
			return out[i].Alert.Time.Before(out[j].Alert.Time)
		}
		return out[i].Alert.ID < out[j].Alert.ID
	})
	return out
}

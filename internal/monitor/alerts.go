package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/monitor/view"
)

// AlertStateSubject is the bus subject of alert state changes (JSON
// view.Alert, with the note that came with the change).
const AlertStateSubject = "otl.v1.alerts.state"

// MaxAlerts bounds the alerts kept with their states: beyond it resolved
// alerts are forgotten first, then acknowledged, then new ones, the least
// recently updated first.
const MaxAlerts = 2000

// saveEvery is how often new alerts and growing counts are saved; state
// changes are saved before the API answers.
const saveEvery = 5 * time.Second

// AlertsFile is where alerts and their states persist, under the data
// folder.
const AlertsFile = "monitor/alerts.json"

// maxNote bounds a note's length, in bytes.
const maxNote = 2000

// alertRef is an alert the engine may still extend: the monitor copies it
// into the store when its count grows.
type alertRef struct {
	a     *detect.Alert
	count int
	last  time.Time
}

// openAlerts loads the stored alerts. An unreadable file is moved aside
// (kept for a person to look at) and the monitor starts without stored
// alerts rather than without monitoring.
func (m *Monitor) openAlerts() {
	m.refs = map[string]*alertRef{}
	if m.opts.DataDir == "" {
		m.store = detect.NewStore(nil)
		return
	}
	m.storePath = filepath.Join(m.opts.DataDir, AlertsFile)
	s, err := detect.LoadStore(m.storePath, nil)
	if err != nil {
		aside := fmt.Sprintf("%s.bad-%d", m.storePath, time.Now().Unix())
		rerr := os.Rename(m.storePath, aside)
		m.log.Error("stored alert states unreadable: moved aside, starting without them", "file", aside, "err", err, "rename_err", rerr, "code", errcode.AlertStore)
		s = detect.NewStore(nil)
	}
	m.store = s
	// Ids go on from the stored ones, so that new_writer-3 of this run
	// is not confused with new_writer-3 of an earlier one.
	for _, r := range s.List() {
		i := strings.LastIndexByte(r.Alert.ID, '-')
		if i < 0 {
			continue
		}
		if n, err := strconv.Atoi(r.Alert.ID[i+1:]); err == nil && n > m.seq[r.Alert.Detection] {
			m.seq[r.Alert.Detection] = n
		}
	}
}

// copyAlert copies what the engine may still change. Called with mu held.
func copyAlert(a *detect.Alert, id string) detect.Alert {
	c := *a
	c.ID = id
	c.Techniques = slices.Clone(a.Techniques)
	c.Assets = slices.Clone(a.Assets)
	c.Frames = slices.Clone(a.Frames)
	c.Evidence = slices.Clone(a.Evidence)
	return c
}

// keepAlerts stores new alerts and the growth of known ones, and prunes
// the store. Called with mu held.
func (m *Monitor) keepAlerts(out []*detect.Alert, ids []string) {
	for i, a := range out {
		m.store.Add(copyAlert(a, ids[i]))
		m.refs[ids[i]] = &alertRef{a: a, count: a.Count, last: a.Last}
		m.dirty = true
	}
	for id, r := range m.refs {
		if r.a.Count != r.count || !r.a.Last.Equal(r.last) {
			r.count, r.last = r.a.Count, r.a.Last
			m.store.Add(copyAlert(r.a, id))
			m.dirty = true
		}
	}
	for _, id := range m.store.Prune(MaxAlerts) {
		delete(m.refs, id)
	}
}

// saveAlerts writes the store when it changed and force is set or the
// last save is saveEvery old.
func (m *Monitor) saveAlerts(force bool) error {
	if m.storePath == "" {
		return nil
	}
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	due := m.dirty && (force || time.Since(m.saved) >= saveEvery)
	if due {
		m.dirty = false
	}
	m.mu.Unlock()
	if !due {
		return nil
	}
	err := m.store.SaveFile(m.storePath)
	m.mu.Lock()
	if err != nil {
		m.dirty = true
	} else {
		m.saved = time.Now()
	}
	m.mu.Unlock()
	return err
}

func viewAlert(r detect.Record) view.Alert {
	a := r.Alert
	v := view.Alert{ID: a.ID, Detection: a.Detection, Title: a.Title, Severity: string(a.Severity), Proto: a.Proto, Time: a.Time, Last: a.Last,
		Count: a.Count, Detail: a.Detail, Assets: a.Assets, State: string(r.State), Updated: r.Updated, Techniques: []view.Technique{}, Notes: []view.Note{}}
	if v.Assets == nil {
		v.Assets = []string{}
	}
	for _, t := range a.Techniques {
		v.Techniques = append(v.Techniques, view.Technique{ID: t, Name: detect.Techniques[t]})
	}
	for _, n := range r.Notes {
		v.Notes = append(v.Notes, view.Note{Time: n.Time, User: n.User, Text: n.Text, From: string(n.From), To: string(n.To)})
	}
	return v
}

// Alerts returns up to n alerts (all when n <= 0), newest first, in the
// given state ("" for every state).
func (m *Monitor) Alerts(state string, n int) []view.Alert {
	var recs []detect.Record
	if state == "" {
		recs = m.store.List()
	} else {
		recs = m.store.List(detect.State(state))
	}
	out := make([]view.Alert, 0, len(recs))
	for i := len(recs) - 1; i >= 0 && (n <= 0 || len(out) < n); i-- {
		out = append(out, viewAlert(recs[i]))
	}
	return out
}

// SetAlertState moves an alert to state (acknowledged, resolved, or new
// to reopen), or only adds the note when state is "". The change is saved
// before it returns, and published on AlertStateSubject. Auditing is the
// caller's: it knows who asked and from where.
func (m *Monitor) SetAlertState(ctx context.Context, id, state, user, note string) (view.Alert, error) {
	if len(note) > maxNote {
		return view.Alert{}, errcode.New(errcode.SecurityBadInput, "note of %d bytes, at most %d", len(note), maxNote)
	}
	var (
		r   detect.Record
		err error
	)
	switch detect.State(state) {
	case "":
		if note == "" {
			return view.Alert{}, errcode.New(errcode.SecurityBadInput, "neither a state nor a note")
		}
		r, err = m.store.AddNote(id, user, note)
	case detect.StateAcknowledged, detect.StateResolved, detect.StateNew:
		r, err = m.store.Transition(id, detect.State(state), user, note)
	default:
		return view.Alert{}, errcode.New(errcode.SecurityBadInput, "alert state %q: want acknowledged, resolved or new", state)
	}
	if err != nil {
		return view.Alert{}, err
	}
	m.mu.Lock()
	m.dirty = true
	m.mu.Unlock()
	if err := m.saveAlerts(true); err != nil {
		return viewAlert(r), err
	}
	v := viewAlert(r)
	if nc := m.opts.Bus; nc != nil {
		if doc, err := json.Marshal(v); err == nil {
			if err := nc.Publish(AlertStateSubject, doc); err != nil {
				m.log.Error("publish alert state", "id", id, "err", err, "code", errcode.MonitorPublish)
			}
		}
	}
	return v, nil
}

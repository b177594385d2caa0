package detect

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// storeFile is the on-disk form of a Store: every record, oldest first.
type storeFile struct {
	Version int      `json:"version"`
	Records []Record `json:"records"`
}

const storeVersion = 1

// LoadStore reads a store written by SaveFile; a missing file is an empty
// store. now is the clock (nil: time.Now).
func LoadStore(path string, now func() time.Time) (*Store, error) {
	s := NewStore(now)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.AlertStore, err, "read alert states")
	}
	var f storeFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errcode.Wrap(errcode.AlertStore, err, "alert states %s", path)
	}
	if f.Version != storeVersion {
		return nil, errcode.New(errcode.AlertStore, "alert states %s: version %d, want %d", path, f.Version, storeVersion)
	}
	for _, r := range f.Records {
		if r.Alert.ID == "" {
			continue
		}
		switch r.State {
		case StateNew, StateAcknowledged, StateResolved:
		default:
			return nil, errcode.New(errcode.AlertStore, "alert states %s: alert %s has state %q", path, r.Alert.ID, r.State)
		}
		if r.Notes == nil {
			r.Notes = []Note{}
		}
		c := r
		s.m[r.Alert.ID] = &c
	}
	return s, nil
}

// SaveFile writes every record to path atomically: a crash leaves the old
// file or the new one, never half of one.
func (s *Store) SaveFile(path string) error {
	f := storeFile{Version: storeVersion, Records: s.List()}
	data, err := json.Marshal(&f)
	if err != nil {
		return errcode.Wrap(errcode.AlertStore, err, "encode alert states")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return errcode.Wrap(errcode.AlertStore, err, "save alert states")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".alerts-*.tmp")
	if err != nil {
		return errcode.Wrap(errcode.AlertStore, err, "save alert states")
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return errcode.Wrap(errcode.AlertStore, err, "save alert states %s", path)
	}
	return nil
}

// Len is the number of records.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Prune keeps at most max records: resolved alerts go first, then
// acknowledged, then new ones, the least recently updated first within
// each. It returns the ids removed.
func (s *Store) Prune(max int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) <= max {
		return nil
	}
	rank := map[State]int{StateResolved: 0, StateAcknowledged: 1, StateNew: 2}
	l := make([]*Record, 0, len(s.m))
	for _, r := range s.m {
		l = append(l, r)
	}
	sort.Slice(l, func(i, j int) bool {
		if ri, rj := rank[l[i].State], rank[l[j].State]; ri != rj {
			return ri < rj
		}
		if !l[i].Updated.Equal(l[j].Updated) {
			return l[i].Updated.Before(l[j].Updated)
		}
		return l[i].Alert.ID < l[j].Alert.ID
	})
	var out []string
	for _, r := range l[:len(l)-max] {
		delete(s.m, r.Alert.ID)
		out = append(out, r.Alert.ID)
	}
	return out
}

package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// Live updates. The source has no change feed, so each stream polls
// Source.Tags and sends what differs from the snapshot it sent last: the
// first event is the full set, later ones only the changes.
const (
	// maxStreams bounds the open event streams: each holds a goroutine and
	// a snapshot of its tags.
	maxStreams = 256
	// ssePoll is how often a stream compares the tags with its snapshot.
	ssePoll = 500 * time.Millisecond
	// sseHeartbeat keeps proxies and the browser from closing an idle
	// stream and lets the server notice a client that went away.
	sseHeartbeat = 15 * time.Second
)

// codeStreamsFull is answered when maxStreams streams are open.
const codeStreamsFull = errcode.APIStreamsFull

// streamLimit is a semaphore of open streams.
type streamLimit chan struct{}

func (l streamLimit) acquire() bool {
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l streamLimit) release() { <-l }

// sameTag reports whether a stream already sent t's current state.
func sameTag(a, b Tag) bool {
	return a.Value == b.Value && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Code == b.Code && a.Unit == b.Unit
}

// tagEvents streams the changed values of the tags the principal may read
// under prefix as "event: tags" with a JSON array of tags. The scope is
// checked on every poll, like /api/v1/tags does per request.
func (s *Server) tagEvents(w http.ResponseWriter, r *http.Request) {
	if !s.streams.acquire() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, errcode.New(codeStreamsFull, "%d live streams are open, the most this server keeps", cap(s.streams)))
		return
	}
	defer s.streams.release()
	prefix := r.URL.Query().Get("prefix")
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise buffer the stream
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}

	sent := map[string]Tag{}
	push := func() error {
		var changed []Tag
		for _, t := range s.visibleTags(r) {
			if !strings.HasPrefix(t.Path, prefix) {
				continue
			}
			if old, ok := sent[t.Path]; ok && sameTag(old, t) {
				continue
			}
			sent[t.Path] = t
			changed = append(changed, t)
		}
		if len(changed) == 0 {
			return nil
		}
		b, err := json.Marshal(changed)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte("event: tags\ndata: ")); err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n', '\n')); err != nil {
			return err
		}
		return rc.Flush()
	}
	// The first event carries the full set, even an empty one, so the
	// client knows the stream is live.
	if err := push(); err != nil {
		return
	}
	if len(sent) == 0 {
		if _, err := w.Write([]byte("event: tags\ndata: []\n\n")); err != nil || rc.Flush() != nil {
			return
		}
	}
	poll := time.NewTicker(s.ssePoll)
	defer poll.Stop()
	beat := time.NewTicker(s.sseBeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-poll.C:
			if err := push(); err != nil {
				return
			}
		case <-beat.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// Live updates. The source has no change feed, so streams poll a shared
// snapshot of Source.Tags and send what changed since the snapshot they
// sent last: the first event is the full set, later ones only the changes.
const (
	// maxStreams bounds the open event streams: each holds a goroutine and
	// a connection.
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
	return a.Path == b.Path && a.Value == b.Value && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Code == b.Code && a.Unit == b.Unit
}

// tagSnap is one immutable view of the source's tags, shared by every
// request and stream that reads it: each tag's JSON is encoded once when
// it changes, not once per request (with 10,000 tags, encoding was most of
// the cost of /api/v1/tags and of each stream's events).
type tagSnap struct {
	taken time.Time // when Source.Tags was read
	gen   uint64    // bumped by each refresh that changed a tag
	tags  []Tag
	json  [][]byte // tags[i] encoded as /api/v1/tags shows it
	ver   []uint64 // gen at which tags[i] last changed
	// byPath orders the tags by path for pagination; rebuilt only when
	// the set of paths changes.
	byPath []int32

	mu     sync.Mutex
	events map[eventKey][]byte // event bodies, shared by streams with the same view
}

// eventKey names the body of one stream event: the changes after gen
// from, under prefix, as a principal with these scopes sees them.
type eventKey struct {
	from   uint64
	prefix string
	scopes string
}

// tagCache holds the current tagSnap.
type tagCache struct {
	mu  sync.Mutex // serialises refreshes
	cur atomic.Pointer[tagSnap]
}

// snapshot returns a view of the tags read from the source no earlier than
// notBefore: a refresh in flight or just done serves every request waiting
// for it, so concurrent requests cost one Source.Tags and no re-encoding.
func (s *Server) snapshot(notBefore time.Time) *tagSnap {
	c := &s.tc
	if sn := c.cur.Load(); sn != nil && !sn.taken.Before(notBefore) {
		return sn
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	if old != nil && !old.taken.Before(notBefore) {
		return old
	}
	taken := time.Now()
	tags := s.opts.Source.Tags()
	sn := &tagSnap{taken: taken, tags: tags, json: make([][]byte, len(tags)), ver: make([]uint64, len(tags))}
	if old == nil {
		old = &tagSnap{}
	}
	sn.gen = old.gen + 1
	changed, pathsChanged := false, len(old.tags) != len(tags)
	for i, t := range tags {
		if i < len(old.tags) && sameTag(old.tags[i], t) {
			sn.json[i], sn.ver[i] = old.json[i], old.ver[i]
			continue
		}
		if i >= len(old.tags) || old.tags[i].Path != t.Path {
			pathsChanged = true
		}
		b, err := json.Marshal(t)
		if err != nil {
			b = []byte("null")
		}
		sn.json[i], sn.ver[i], changed = b, sn.gen, true
	}
	if !changed && !pathsChanged {
		sn.gen = old.gen
	}
	if pathsChanged || old.byPath == nil {
		sn.byPath = make([]int32, len(tags))
		for i := range sn.byPath {
			sn.byPath[i] = int32(i)
		}
		slices.SortFunc(sn.byPath, func(a, b int32) int { return strings.Compare(tags[a].Path, tags[b].Path) })
	} else {
		sn.byPath = old.byPath
	}
	c.cur.Store(sn)
	return sn
}

// viewer decides which tags a principal may read; plant-wide principals
// skip the check per tag.
type viewer struct {
	p      *auth.Principal
	all    bool
	prefix string
}

func newViewer(r *http.Request, prefix string) viewer {
	p := auth.PrincipalFrom(r.Context())
	return viewer{p: p, all: auth.Allowed(p, auth.PermTagsRead, ""), prefix: prefix}
}

func (v viewer) sees(path string) bool {
	return strings.HasPrefix(path, v.prefix) && (v.all || auth.Allowed(v.p, auth.PermTagsRead, path))
}

// key identifies what v sees, for sharing event bodies.
func (v viewer) key() string {
	if v.all {
		return "*"
	}
	if v.p == nil {
		return ""
	}
	k := strings.Join(v.p.Scopes, ",")
	if v.p.TokenID != 0 {
		k += "|" + strings.Join(v.p.TokenScopes, ",")
	}
	return k
}

// event returns the JSON array of the tags v sees that changed after gen
// from (from 0: all of them), or nil when none did. Streams with the same
// view and position share one body.
func (sn *tagSnap) event(v viewer, from uint64) []byte {
	k := eventKey{from: from, prefix: v.prefix, scopes: v.key()}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if b, ok := sn.events[k]; ok {
		return b
	}
	var b []byte
	for i, t := range sn.tags {
		if sn.ver[i] <= from || !v.sees(t.Path) {
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, 4096), '[')
		} else {
			b = append(b, ',')
		}
		b = append(b, sn.json[i]...)
	}
	if b != nil {
		b = append(b, ']')
	}
	if sn.events == nil {
		sn.events = map[eventKey][]byte{}
	}
	sn.events[k] = b
	return b
}

// tagEvents streams the changed values of the tags the principal may read
// under prefix as "event: tags" with a JSON array of tags. All streams read
// one shared snapshot (at most half a poll period old when they poll), so
// a change is encoded once for every stream; a stream keeps only the
// generation it sent last.
func (s *Server) tagEvents(w http.ResponseWriter, r *http.Request) {
	if !s.streams.acquire() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, errcode.New(codeStreamsFull, "%d live streams are open, the most this server keeps", cap(s.streams)))
		return
	}
	defer s.streams.release()
	v := newViewer(r, r.URL.Query().Get("prefix"))
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise buffer the stream
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}

	var sent uint64 // generation of the last snapshot sent
	push := func(first bool) error {
		sn := s.snapshot(time.Now().Add(-s.ssePoll / 2))
		if !first && sn.gen == sent {
			return nil
		}
		b := sn.event(v, sent)
		sent = sn.gen
		if b == nil {
			if !first {
				return nil
			}
			// The first event carries the full set, even an empty one,
			// so the client knows the stream is live.
			b = []byte("[]")
		}
		if _, err := w.Write([]byte("event: tags\ndata: ")); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if _, err := w.Write([]byte("\n\n")); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := push(true); err != nil {
		return
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
			if err := push(false); err != nil {
				return
			}
		case <-beat.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

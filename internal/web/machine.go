package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
	"github.com/otlink/otlink/internal/model"
)

// machineView is the machine page's own data (view.Data).
type machineView struct {
	// TrendTags are the tags a trend can draw: numbers and booleans.
	TrendTags []string
	// HistoryOff: this server keeps no history to draw.
	HistoryOff bool
	Integrity  integrityView
	// Writable: the tags of the machine this principal may write (the
	// write page governs the rest: limits, step-up, audit).
	Writable map[string]bool
}

// integrityView is the integrity status of the machine's history.
type integrityView struct {
	// State: off (no integrity log), denied (the role may not read it),
	// empty (nothing of this machine sealed yet), ok, failed, error.
	State      string
	Checkpoint uint64    // tree size of the newest signed checkpoint verified; 0: none
	Size       uint64    // entries in the log
	Through    time.Time // end of the newest verified chunk of the machine
	Chunks     uint64
	Tampered   int
	Gaps       int
	Code, Msg  string // State error
}

// integrityWindow is how far back the machine page verifies: the chunks
// are re-read and hashed on every page load, so all of history would make
// the page slow on a large store; the trend shows hours, not years.
const integrityWindow = 7 * 24 * time.Hour

// integrityTimeout bounds the verification a page load waits for.
const integrityTimeout = 3 * time.Second

// globEscape quotes the pattern characters of path.Match in a path.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// machineIntegrity verifies the machine's sealed history of the last
// integrityWindow against the integrity log.
func (s *Server) machineIntegrity(ctx context.Context, p *auth.Principal, machine string) integrityView {
	if s.opts.Integrity == nil {
		return integrityView{State: "off"}
	}
	if !auth.Allowed(p, auth.PermIntegrityRead, machine) {
		return integrityView{State: "denied"}
	}
	ctx, cancel := context.WithTimeout(ctx, integrityTimeout)
	defer cancel()
	rep, err := s.opts.Integrity.Verify(ctx, integrity.VerifyOptions{TagGlob: globEscape(machine) + "/*", From: time.Now().Add(-integrityWindow)})
	if err != nil {
		if errcode.Of(err) == errcode.APIHistoryOff {
			return integrityView{State: "off"}
		}
		e := errcode.Wrap(errcode.WebIntegrityStatus, err, "verify history of %s", machine)
		s.opts.Logger.Warn("integrity status", "code", e.Code.String(), "err", e)
		return integrityView{State: "error", Code: e.Code.String(), Msg: e.Error()}
	}
	v := integrityView{State: "ok", Size: rep.Size, Chunks: rep.Summary.Chunks, Tampered: rep.Summary.Tampered, Gaps: rep.Summary.Gaps}
	for _, c := range rep.Checkpoints {
		if c.Status == "ok" && c.Size > v.Checkpoint {
			v.Checkpoint = c.Size
		}
	}
	for _, g := range rep.Ranges {
		if g.Status == integrity.StatusVerified && g.To.After(v.Through) {
			v.Through = g.To
		}
	}
	switch {
	case !rep.OK || v.Tampered > 0 || v.Gaps > 0:
		v.State = "failed"
	case v.Chunks == 0 || v.Through.IsZero():
		v.State = "empty"
	}
	return v
}

// machinePage shows the live tags of one machine: the tags whose path is
// the machine's path plus one segment, as the home page groups them. Only
// tags in the principal's scope are shown; a machine with none is "not
// found" whether it exists or not, so a scope does not reveal the rest of
// the plant. Values then update through /api/v1/events/tags (machine.js);
// trends come from /api/v1/history/plot (trend.js).
func (s *Server) machinePage(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	path := strings.Trim(r.PathValue("path"), "/")
	var rows []Tag
	for _, t := range s.visibleTags(r) {
		rest, ok := strings.CutPrefix(t.Path, path+"/")
		if ok && rest != "" && !strings.Contains(rest, "/") {
			rows = append(rows, t)
		}
	}
	if path == "" || len(rows) == 0 {
		writeError(w, http.StatusNotFound, errcode.New(errcode.APINotFound, "no machine %q in your part of the plant", path))
		return
	}
	slices.SortFunc(rows, func(a, b Tag) int { return strings.Compare(a.Path, b.Path) })
	v := pageView(r, path)
	v.Machine, v.Rows, v.Wide = path, rows, true
	// History routes filter by the principal's scopes (history.go).
	v.Trend = s.opts.History != nil && auth.Allowed(p, auth.PermHistoryRead, path)
	mv := machineView{HistoryOff: s.opts.History == nil, Integrity: s.machineIntegrity(r.Context(), p, path)}
	if s.opts.Writes != nil {
		for _, t := range rows {
			if _, ok := s.opts.Writes.Writable(t.Path); ok && auth.Allowed(p, auth.PermTagsWrite, t.Path) {
				if mv.Writable == nil {
					mv.Writable = map[string]bool{}
				}
				mv.Writable[t.Path] = true
			}
		}
	}
	for _, t := range rows {
		// A tag never read has no type yet: offer it, history may have it.
		if t.Value.T != model.String {
			mv.TrendTags = append(mv.TrendTags, t.Path)
		}
	}
	v.Data = mv
	render(w, r, http.StatusOK, "machine", v)
}

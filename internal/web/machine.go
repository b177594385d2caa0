package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// machinePage shows the live tags of one machine: the tags whose path is
// the machine's path plus one segment, as the home page groups them. Only
// tags in the principal's scope are shown; a machine with none is "not
// found" whether it exists or not, so a scope does not reveal the rest of
// the plant. Values then update through /api/v1/events/tags (machine.js).
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
	v := view{Title: path, User: p.Name, Machine: path, Rows: rows, Wide: true, Trend: p.Has(auth.PermHistoryRead)}
	if p.Session != nil {
		v.CSRF = p.Session.CSRF
	}
	render(w, r, http.StatusOK, "machine", v)
}

package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/auth/httpauth"
	"github.com/otlink/otlink/internal/errcode"
)

// The plant pages: the plant tree (enterprise → machine) with machine
// states, device health, and the troubleshooting page of an error code.
// Trends and the integrity status are on the machine page (machine.go).

func (s *Server) plantRoutes() []route {
	return []route{
		// Scoped: the tree is built from the tags the principal may read,
		// so a scoped user sees only its branches.
		{"GET /plant", auth.PermTagsRead, page, s.plantPage},
		{"GET /api/v1/plant", auth.PermTagsRead, anyScope, s.plantJSON},
		// A device serves several machines, so its health is plant-wide
		// like /api/v1/devices; the handler refuses a scoped principal.
		{"GET /devices", auth.PermTagsRead, page, s.devicesPage},
		// The catalog is published (docs/errors.md, `otlink errors`), so
		// the page reveals nothing; it is guarded anyway so that the
		// public surface stays the reviewed few routes of the login, and
		// every role reads tags, so any signed-in user may open it.
		{"GET /errors/{code}", auth.PermTagsRead, page, s.errorPage},
	}
}

// Machine states as the simulator's state register (hr:0, tag "state")
// encodes them; see internal/sim.State. The web package does not import
// the simulator: the numbers are the documented register values.
var stateNames = map[int64]string{1: "idle", 2: "running", 3: "setup", 4: "fault", 5: "maintenance"}

// stateTag is the last segment of the tag that carries a machine's state.
const stateTag = "state"

// levels names the depths of the ISA-95 hierarchy below a tag's path; a
// node holding tags is a machine whatever its depth.
var levels = []string{"enterprise", "site", "area", "line", "cell"}

// PlantNode is one node of the plant tree: a level of the hierarchy with
// the counts of everything below it, or a machine.
type PlantNode struct {
	Name     string          `json:"name"`
	Path     string          `json:"path"`
	Level    string          `json:"level"`
	Machine  *MachineSummary `json:"machine,omitempty"` // set when tags hang directly here
	Children []*PlantNode    `json:"children,omitempty"`
	// Counts over the subtree.
	Machines int            `json:"machines"`
	Tags     int            `json:"tags"`
	Good     int            `json:"good"`
	Bad      int            `json:"bad"`
	States   map[string]int `json:"states,omitempty"` // machines by state
}

// MachineSummary is what the tree shows of one machine.
type MachineSummary struct {
	// State is running, idle, setup, fault, maintenance, unknown (a state
	// tag without a good, known value) or "" (no state tag).
	State     string `json:"state,omitempty"`
	StateTag  string `json:"state_tag,omitempty"`
	Tags      int    `json:"tags"`
	Good      int    `json:"good"`
	Uncertain int    `json:"uncertain"`
	Bad       int    `json:"bad"`
}

// machineState reads a machine's state from its state tag.
func machineState(t Tag) string {
	if !t.Quality.IsGood() && !t.Quality.IsUncertain() {
		return "unknown"
	}
	var n int64
	switch v := t.Value; {
	case v.T.IsFloat():
		n = int64(v.Float())
	case v.T.IsSigned():
		n = v.Int()
	case v.T.IsUnsigned():
		n = int64(v.Uint())
	default:
		return "unknown"
	}
	if s, ok := stateNames[n]; ok {
		return s
	}
	return "unknown"
}

// plantTree builds the tree of tags: a tag's path without its last
// segment is its machine. Children are sorted by name.
func plantTree(tags []Tag) []*PlantNode {
	root := &PlantNode{}
	index := map[string]*PlantNode{}
	var node func(path string) *PlantNode
	node = func(path string) *PlantNode {
		if n, ok := index[path]; ok {
			return n
		}
		parent, name := root, path
		depth := 0
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent, name = node(path[:i]), path[i+1:]
			depth = strings.Count(path, "/")
		}
		n := &PlantNode{Name: name, Path: path, Level: "group"}
		if depth < len(levels) {
			n.Level = levels[depth]
		}
		parent.Children = append(parent.Children, n)
		index[path] = n
		return n
	}
	for _, t := range tags {
		i := strings.LastIndexByte(t.Path, '/')
		if i <= 0 || i == len(t.Path)-1 {
			continue // a tag needs a machine and a name
		}
		m := node(t.Path[:i])
		if m.Machine == nil {
			m.Machine = &MachineSummary{}
			m.Level = "machine"
		}
		ms := m.Machine
		ms.Tags++
		switch {
		case t.Quality.IsGood():
			ms.Good++
		case t.Quality.IsUncertain():
			ms.Uncertain++
		default:
			ms.Bad++
		}
		if t.Path[i+1:] == stateTag {
			ms.StateTag, ms.State = t.Path, machineState(t)
		}
	}
	var sum func(n *PlantNode)
	sum = func(n *PlantNode) {
		slices.SortFunc(n.Children, func(a, b *PlantNode) int { return strings.Compare(a.Name, b.Name) })
		if m := n.Machine; m != nil {
			n.Machines, n.Tags, n.Good, n.Bad = 1, m.Tags, m.Good, m.Bad
			if m.State != "" {
				n.States = map[string]int{m.State: 1}
			}
		}
		for _, c := range n.Children {
			sum(c)
			n.Machines += c.Machines
			n.Tags += c.Tags
			n.Good += c.Good
			n.Bad += c.Bad
			for st, k := range c.States {
				if n.States == nil {
					n.States = map[string]int{}
				}
				n.States[st] += k
			}
		}
	}
	sum(root)
	return root.Children
}

// plantJSON is the tree as JSON: {"plant": [enterprise nodes]}.
func (s *Server) plantJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"plant": plantTree(s.visibleTags(r))})
}

// plantView is the page data of the plant tree.
type plantView struct {
	Roots []*PlantNode
}

// pageView is the view every page of this file starts from.
func pageView(r *http.Request, title string) view {
	p := auth.PrincipalFrom(r.Context())
	v := view{Title: title, User: p.Name}
	if p.Session != nil {
		v.CSRF = p.Session.CSRF
	}
	return v
}

func (s *Server) plantPage(w http.ResponseWriter, r *http.Request) {
	v := pageView(r, "Plant")
	v.Data = plantView{Roots: plantTree(s.visibleTags(r))}
	render(w, r, http.StatusOK, "plant", v)
}

// deviceRow is a device's health as the page shows it. The server does
// not import the acquisition engine: Source.Devices is decoded through
// its JSON form (acquire.DeviceHealth), and fields it lacks stay zero.
type deviceRow struct {
	Name          string            `json:"name"`
	Driver        string            `json:"driver"`
	Endpoint      string            `json:"endpoint"`
	OnBackup      bool              `json:"on_backup"`
	Connected     bool              `json:"connected"`
	LastError     *deviceError      `json:"last_error"`
	RTTP50        float64           `json:"rtt_p50_ms"`
	RTTP99        float64           `json:"rtt_p99_ms"`
	Requests      uint64            `json:"requests"`
	Errors        uint64            `json:"errors"`
	Overruns      uint64            `json:"overruns"`
	LearnedLimits map[string]uint32 `json:"learned_limits"`
	Identity      *struct {
		Vendor   string `json:"vendor"`
		Product  string `json:"product"`
		Revision string `json:"revision"`
	} `json:"identity"`
}

type deviceError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// devicesView is the page data of device health.
type devicesView struct {
	Devices []deviceRow
	// Unreadable is set when the source's records do not decode.
	Unreadable bool
}

func (s *Server) deviceRows() ([]deviceRow, error) {
	b, err := json.Marshal(s.opts.Source.Devices())
	if err != nil {
		return nil, err
	}
	var rows []deviceRow
	if string(b) == "null" {
		return nil, nil
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b deviceRow) int { return strings.Compare(a.Name, b.Name) })
	return rows, nil
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	if !auth.Allowed(p, auth.PermTagsRead, "") {
		httpauth.WriteError(w, errcode.New(errcode.AuthForbidden, "%s may read tags only in part of the plant; device health is plant-wide", p.Name))
		return
	}
	v := pageView(r, "Devices")
	v.Wide = true
	rows, err := s.deviceRows()
	if err != nil {
		s.opts.Logger.Warn("device health does not decode", "err", err)
	}
	v.Data = devicesView{Devices: rows, Unreadable: err != nil}
	render(w, r, http.StatusOK, "devices", v)
}

// errorView is the page data of a troubleshooting entry.
type errorView struct {
	Code  string
	Entry errcode.Entry
}

// errorPage renders the catalog entry of an error code; an unknown code is
// a JSON 404 with its own code, so scripts following a link learn why.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("code")
	c, ok := errcode.Parse(raw)
	e, known := errcode.Lookup(c)
	if !ok || !known {
		writeError(w, http.StatusNotFound, errcode.New(errcode.WebUnknownCode, "no troubleshooting entry for %q", raw))
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]any{"code": c.String(), "name": e.Name, "title": e.Title,
			"causes": e.Causes, "checks": e.Checks, "fix": e.Fix})
		return
	}
	v := pageView(r, c.String())
	v.Data = errorView{Code: c.String(), Entry: e}
	render(w, r, http.StatusOK, "errorpage", v)
}

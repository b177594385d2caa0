package agent

import (
	"net/http"
	"strings"

	"github.com/otlink/otlink/internal/mtconnect"
)

// Path filters (the path= argument of current and sample) select data
// items with the subset of XPath 1.0 that MTConnect clients write:
// location paths of child (/) and descendant (//) steps over the probe
// document's elements, a name or * per step, and predicates comparing an
// attribute with a quoted string, joined with and/or; several paths
// joined with |. For example //Axes, //DataItem[@type="EXECUTION"],
// //Device[@name="cnc01"]//DataItem[@category="SAMPLE" or @category="EVENT"].
// A path selects the data items it names and every data item below the
// components it names, as cppagent does. Anything else — functions, axes
// other than child and descendant, numeric predicates — is refused with
// INVALID_XPATH rather than read differently from a full XPath engine.

// maxPath bounds the expression: it comes from the network.
const maxPath = 2048

// xnode is an element of the probe document for path matching.
type xnode struct {
	name     string
	attrs    map[string]string
	children []*xnode
	item     int // index into Agent.items for a DataItem, else -1
}

// tree builds the probe document's element tree: MTConnectDevices,
// Devices, Device, Components, the component elements, DataItems and
// DataItem, with the attributes the probe writes.
func (a *Agent) tree() *xnode {
	doc := &xnode{name: "MTConnectDevices", item: -1}
	devs := &xnode{name: "Devices", item: -1}
	doc.children = []*xnode{devs}
	var comp func(c *mtconnect.Component) *xnode
	comp = func(c *mtconnect.Component) *xnode {
		n := &xnode{name: c.Type(), item: -1, attrs: map[string]string{"id": c.ID}}
		if c.Name != "" {
			n.attrs["name"] = c.Name
		}
		if c.UUID != "" {
			n.attrs["uuid"] = c.UUID
		}
		if items := c.Items(); len(items) > 0 {
			list := &xnode{name: "DataItems", item: -1}
			for _, di := range items {
				d := &xnode{name: "DataItem", item: a.byID[di.ID], attrs: map[string]string{"id": di.ID, "category": di.Category, "type": di.Type}}
				for k, v := range map[string]string{"name": di.Name, "subType": di.SubType, "units": di.Units, "nativeUnits": di.NativeUnits, "representation": di.Representation} {
					if v != "" {
						d.attrs[k] = v
					}
				}
				list.children = append(list.children, d)
			}
			n.children = append(n.children, list)
		}
		if kids := c.Children(); len(kids) > 0 {
			list := &xnode{name: "Components", item: -1}
			for i := range kids {
				list.children = append(list.children, comp(&kids[i]))
			}
			n.children = append(n.children, list)
		}
		return n
	}
	for i := range a.devices {
		devs.children = append(devs.children, comp(&a.devices[i]))
	}
	return doc
}

// step is one location step: // or /, an element name or *, predicates.
type step struct {
	descendant bool
	name       string
	preds      []pred // all must hold
}

// pred is attribute comparisons joined with or, each group with and.
type pred [][]cmpAttr

type cmpAttr struct{ attr, value string }

func xpathErr(format string, args ...any) *reqError {
	return errf(http.StatusBadRequest, mtconnect.ErrInvalidXPath, format, args...)
}

// parsePaths parses expr into its |-separated location paths.
func parsePaths(expr string) ([][]step, *reqError) {
	if len(expr) > maxPath {
		return nil, xpathErr("path is longer than %d bytes", maxPath)
	}
	p := &pathParser{s: expr}
	var out [][]step
	for {
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		out = append(out, path)
		p.space()
		if p.eof() {
			return out, nil
		}
		if !p.take("|") {
			return nil, xpathErr("path %q: unexpected %q at %d", clip(expr), clip(p.s[p.i:]), p.i)
		}
	}
}

type pathParser struct {
	s string
	i int
}

func (p *pathParser) eof() bool { return p.i >= len(p.s) }

func (p *pathParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pathParser) take(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *pathParser) fail(what string) *reqError {
	return xpathErr("path %q: %s at %d", clip(p.s), what, p.i)
}

func (p *pathParser) path() ([]step, *reqError) {
	var steps []step
	for {
		p.space()
		var st step
		switch {
		case p.take("//"):
			st.descendant = true
		case p.take("/"):
		case len(steps) == 0:
			st.descendant = true // a relative path is read from anywhere, as //
		default:
			return steps, nil
		}
		if st.name = p.name(); st.name == "" {
			if p.take("*") {
				st.name = "*"
			} else {
				return nil, p.fail("want an element name or *")
			}
		}
		if p.take("(") || p.take("::") {
			return nil, p.fail("functions and axes are not supported")
		}
		for p.take("[") {
			pr, err := p.pred()
			if err != nil {
				return nil, err
			}
			st.preds = append(st.preds, pr)
			if !p.take("]") {
				return nil, p.fail("want ]")
			}
		}
		steps = append(steps, st)
		if len(steps) > 32 {
			return nil, p.fail("more than 32 steps")
		}
	}
}

func (p *pathParser) name() string {
	p.space()
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || j > p.i && (c >= '0' && c <= '9' || c == '-' || c == '.') {
			j++
			continue
		}
		break
	}
	n := p.s[p.i:j]
	p.i = j
	return n
}

// pred parses @a="v" (and ...)* (or ...)*.
func (p *pathParser) pred() (pred, *reqError) {
	var out pred
	for {
		var group []cmpAttr
		for {
			if !p.take("@") {
				return nil, p.fail("want @attribute")
			}
			a := p.name()
			if a == "" {
				return nil, p.fail("want an attribute name")
			}
			if !p.take("=") {
				return nil, p.fail("want =")
			}
			p.space()
			if p.eof() || p.s[p.i] != '"' && p.s[p.i] != '\'' {
				return nil, p.fail("want a quoted value")
			}
			q := p.s[p.i]
			end := strings.IndexByte(p.s[p.i+1:], q)
			if end < 0 {
				return nil, p.fail("unterminated string")
			}
			group = append(group, cmpAttr{a, p.s[p.i+1 : p.i+1+end]})
			p.i += end + 2
			if !p.keyword("and") {
				break
			}
		}
		out = append(out, group)
		if !p.keyword("or") {
			return out, nil
		}
	}
}

// keyword takes a word followed by a space or @.
func (p *pathParser) keyword(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) && len(p.s) > p.i+len(w) && (p.s[p.i+len(w)] == ' ' || p.s[p.i+len(w)] == '@') {
		p.i += len(w)
		return true
	}
	return false
}

func (st *step) matches(n *xnode) bool {
	if st.name != "*" && st.name != n.name {
		return false
	}
	for _, pr := range st.preds {
		ok := false
		for _, group := range pr {
			all := true
			for _, c := range group {
				if v, has := n.attrs[c.attr]; !has || v != c.value {
					all = false
					break
				}
			}
			if all {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// selectItems evaluates the paths from the document node and marks the
// data items they select, directly or below a selected element.
func selectItems(root *xnode, paths [][]step, n int) (sel []bool, count int) {
	sel = make([]bool, n)
	doc := &xnode{children: []*xnode{root}, item: -1} // the document node above the root element
	for _, path := range paths {
		ctx := []*xnode{doc}
		for i := range path {
			st := &path[i]
			seen := map[*xnode]bool{}
			var next []*xnode
			var visit func(x *xnode, deep bool)
			visit = func(x *xnode, deep bool) {
				for _, c := range x.children {
					if st.matches(c) && !seen[c] {
						seen[c] = true
						next = append(next, c)
					}
					if deep {
						visit(c, true)
					}
				}
			}
			for _, x := range ctx {
				visit(x, st.descendant)
			}
			ctx = next
		}
		var mark func(x *xnode)
		mark = func(x *xnode) {
			if x.item >= 0 && !sel[x.item] {
				sel[x.item] = true
				count++
			}
			for _, c := range x.children {
				mark(c)
			}
		}
		for _, x := range ctx {
			mark(x)
		}
	}
	return sel, count
}

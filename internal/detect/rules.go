package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/flow"
)

// Rules is a compiled set of custom detections and suppressions
// (docs/detections.md).
type Rules struct {
	list     []*rule
	suppress []suppression
}

// suppression keeps a detection from raising alerts about the traffic of
// some clients: a gateway that reads every PLC's identity when it
// connects, an asset-management scanner with a change ticket.
type suppression struct {
	det    string // a detection name, "rule:ID", or "*" for every detection
	client netip.Prefix
	reason string
}

// suppresses reports whether a suppression covers alerts of det about
// traffic from cli. A nil Rules suppresses nothing.
func (r *Rules) suppresses(det string, cli netip.Addr) bool {
	if r == nil || !cli.IsValid() {
		return false
	}
	for _, s := range r.suppress {
		if (s.det == det || s.det == "*") && s.client.Contains(cli) {
			return true
		}
	}
	return false
}

// Suppressions is the number of suppressions.
func (r *Rules) Suppressions() int {
	if r == nil {
		return 0
	}
	return len(r.suppress)
}

// Len is the number of rules.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.list)
}

type dirMatch uint8

const (
	dirRequest dirMatch = iota // client-side PDUs that are not responses (the default)
	dirResponse
	dirAny
)

type rule struct {
	id, title string
	d         def
	protos    map[string]bool
	funcs     map[uint32]bool
	actions   map[dissect.Action]bool
	dir       dirMatch
	exception *bool
	client    []endpoint
	server    []endpoint
	addrs     []Range // Space "" matches any space
	values    []comparison
	rateN     int
	rateWin   time.Duration
}

type endpoint struct {
	neg    bool
	prefix netip.Prefix
	role   asset.Role // set for "role:NAME"
}

type comparison struct {
	op string
	v  float64
}

var (
	techRE  = regexp.MustCompile(`^T0[0-9]{3}(\.[0-9]{3})?$`)
	idRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	knownPr = map[string]bool{"modbus": true, "s7comm": true, "enip": true, "dnp3": true, "opcua": true, "bacnet": true, "iec104": true, "mqtt": true}
	roles   = map[string]asset.Role{"controller": asset.Controller, "hmi": asset.HMI, "engineering": asset.Engineering, "historian": asset.Historian, "unknown": asset.Unknown}
)

// ruleErrs collects the problems of a rules file with their positions.
type ruleErrs struct {
	name string
	errs []error
}

func (r *ruleErrs) at(n *yaml.Node, format string, args ...any) {
	r.errs = append(r.errs, errcode.New(errcode.DetectRuleInvalid, "%s:%d:%d: %s", r.name, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

// LoadRules reads and validates a YAML rules file.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.DetectRulesRead, err, "read rules %s", path)
	}
	return ParseRules(data, path)
}

// ParseRules validates and compiles rules; name is used in messages. Every
// problem is reported (errors.Join), each with its line and column.
func ParseRules(data []byte, name string) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errcode.Wrap(errcode.DetectRulesRead, err, "parse rules %s", name)
	}
	re := &ruleErrs{name: name}
	rs := &Rules{}
	if len(doc.Content) == 0 {
		return rs, nil
	}
	root := doc.Content[0]
	list := root
	var sup *yaml.Node
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			switch k := root.Content[i]; k.Value {
			case "rules":
				list = root.Content[i+1]
			case "suppress":
				sup = root.Content[i+1]
			default:
				re.at(k, "unknown key %q (want rules, suppress)", k.Value)
			}
		}
		if list == nil && sup == nil {
			re.at(root, "no rules or suppress key")
			return nil, errors.Join(re.errs...)
		}
		if list == nil {
			list = &yaml.Node{Kind: yaml.SequenceNode}
		}
	}
	if list.Kind != yaml.SequenceNode {
		re.at(list, "rules must be a list")
		return nil, errors.Join(re.errs...)
	}
	ids := map[string]int{}
	for _, n := range list.Content {
		if id := idOf(n); id != "" {
			if line, dup := ids[id]; dup {
				re.at(n, "duplicate rule id %q (first at line %d)", id, line)
			} else {
				ids[id] = n.Line
			}
		}
		if r := re.rule(n); r != nil {
			rs.list = append(rs.list, r)
		}
	}
	if sup != nil {
		rs.suppress = re.suppressions(sup, ids)
	}
	if len(re.errs) > 0 {
		return nil, errors.Join(re.errs...)
	}
	return rs, nil
}

// suppressions reads the suppress list: detection (a built-in name,
// rule:ID of this file, or *), client (an address or a prefix) and reason,
// all required.
func (re *ruleErrs) suppressions(v *yaml.Node, ids map[string]int) []suppression {
	if v.Kind != yaml.SequenceNode {
		re.at(v, "suppress must be a list")
		return nil
	}
	var out []suppression
	for _, n := range v.Content {
		if n.Kind != yaml.MappingNode {
			re.at(n, "a suppression must be a mapping {detection, client, reason}")
			continue
		}
		var s suppression
		hasClient := false
		before := len(re.errs)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, x := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "detection":
				s.det = x.Value
				_, builtin := Detections[x.Value]
				_, own := ids[strings.TrimPrefix(x.Value, "rule:")]
				if !builtin && !(strings.HasPrefix(x.Value, "rule:") && own) && x.Value != "*" {
					re.at(x, "detection %q: want a built-in detection (docs/detections.md), rule:ID of this file, or *", x.Value)
				}
			case "client":
				hasClient = true
				p, err := parsePrefix(x.Value)
				if err != nil {
					re.at(x, "client %q: want an address or a prefix such as 10.0.1.5 or 10.0.1.0/24", x.Value)
				}
				s.client = p
			case "reason":
				s.reason = strings.TrimSpace(x.Value)
			default:
				re.at(k, "unknown key %q (want detection, client, reason)", k.Value)
			}
		}
		switch {
		case s.det == "":
			re.at(n, "suppression without detection")
		case !hasClient:
			re.at(n, "suppression of %s without client: suppressing a detection for every host is turning it off", s.det)
		case s.reason == "":
			re.at(n, "suppression of %s without reason: say why, for the next analyst", s.det)
		}
		if len(re.errs) == before {
			out = append(out, s)
		}
	}
	return out
}

// parsePrefix reads an address (a single-host prefix) or a prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func idOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func (re *ruleErrs) rule(n *yaml.Node) *rule {
	if n.Kind != yaml.MappingNode {
		re.at(n, "a rule must be a mapping")
		return nil
	}
	before := len(re.errs)
	r := &rule{dir: dirRequest}
	var match, rate *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id":
			r.id = v.Value
			if !idRE.MatchString(v.Value) {
				re.at(v, "id %q: letters, digits, '.', '_' and '-', at most 64", v.Value)
			}
		case "title":
			r.title = v.Value
		case "description":
		case "severity":
			r.d.sev = Severity(v.Value)
			if !r.d.sev.valid() {
				re.at(v, "severity %q: want low, medium, high or critical", v.Value)
			}
		case "techniques":
			for _, s := range re.strings(v) {
				if !techRE.MatchString(s.Value) {
					re.at(s, "technique %q: want an ATT&CK for ICS id such as T0855", s.Value)
				}
				r.d.tech = append(r.d.tech, s.Value)
			}
		case "match":
			match = v
		case "rate":
			rate = v
		default:
			re.at(k, "unknown key %q", k.Value)
		}
	}
	if r.id == "" {
		re.at(n, "rule without id")
	}
	if r.title == "" {
		re.at(n, "rule %q without title", r.id)
	}
	if r.d.sev == "" {
		re.at(n, "rule %q without severity", r.id)
	}
	if r.d.tech == nil {
		r.d.tech = []string{}
	}
	r.d.title = r.title
	if match == nil {
		re.at(n, "rule %q without match", r.id)
	} else {
		re.match(r, match)
	}
	if rate != nil {
		re.rate(r, rate)
	}
	if len(re.errs) > before {
		return nil
	}
	return r
}

// strings reads a scalar or a list of scalars.
func (re *ruleErrs) strings(v *yaml.Node) []*yaml.Node {
	switch v.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				re.at(c, "want a value, not a %s", kindName(c))
				return nil
			}
		}
		return v.Content
	}
	re.at(v, "want a value or a list of values")
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (re *ruleErrs) match(r *rule, m *yaml.Node) {
	if m.Kind != yaml.MappingNode {
		re.at(m, "match must be a mapping")
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch k.Value {
		case "proto", "protos":
			r.protos = map[string]bool{}
			for _, s := range re.strings(v) {
				if !knownPr[s.Value] {
					re.at(s, "unknown protocol %q: want modbus, s7comm, enip, dnp3, opcua, bacnet, iec104 or mqtt", s.Value)
				}
				r.protos[s.Value] = true
			}
		case "function", "functions":
			r.funcs = map[uint32]bool{}
			for _, s := range re.strings(v) {
				c, err := strconv.ParseUint(s.Value, 0, 32)
				if err != nil {
					re.at(s, "function %q: want a number (decimal or 0x hex)", s.Value)
				}
				r.funcs[uint32(c)] = true
			}
		case "action", "actions":
			r.actions = map[dissect.Action]bool{}
			for _, s := range re.strings(v) {
				a, ok := actionByName[s.Value]
				if !ok {
					re.at(s, "unknown action %q", s.Value)
				}
				r.actions[a] = true
			}
		case "direction":
			switch v.Value {
			case "request":
				r.dir = dirRequest
			case "response":
				r.dir = dirResponse
			case "any":
				r.dir = dirAny
			default:
				re.at(v, "direction %q: want request, response or any", v.Value)
			}
		case "exception":
			b, err := strconv.ParseBool(v.Value)
			if err != nil {
				re.at(v, "exception %q: want true or false", v.Value)
			}
			r.exception = &b
		case "client", "server":
			var eps []endpoint
			for _, s := range re.strings(v) {
				ep, err := parseEndpoint(s.Value)
				if err != nil {
					re.at(s, "%s %q: %v", k.Value, s.Value, err)
				}
				eps = append(eps, ep)
			}
			if k.Value == "client" {
				r.client = eps
			} else {
				r.server = eps
			}
		case "address", "addresses":
			re.addresses(r, v)
		case "value", "values":
			for _, s := range re.strings(v) {
				c, err := parseCmp(s.Value)
				if err != nil {
					re.at(s, "value %q: %v", s.Value, err)
				}
				r.values = append(r.values, c)
			}
		default:
			re.at(k, "unknown match key %q", k.Value)
		}
	}
}

// addresses reads a list of {space, start, end} or "SPACE:START-END".
func (re *ruleErrs) addresses(r *rule, v *yaml.Node) {
	items := v.Content
	if v.Kind != yaml.SequenceNode {
		items = []*yaml.Node{v}
	}
	for _, it := range items {
		var a Range
		switch it.Kind {
		case yaml.ScalarNode:
			var err error
			if a, err = parseRange(it.Value); err != nil {
				re.at(it, "address %q: %v", it.Value, err)
				continue
			}
		case yaml.MappingNode:
			var raw struct {
				Space string  `yaml:"space"`
				Start *uint32 `yaml:"start"`
				End   *uint32 `yaml:"end"`
			}
			if err := it.Decode(&raw); err != nil {
				re.at(it, "address: %v", err)
				continue
			}
			for i := 0; i < len(it.Content); i += 2 {
				if k := it.Content[i].Value; k != "space" && k != "start" && k != "end" {
					re.at(it.Content[i], "unknown address key %q (want space, start, end)", k)
				}
			}
			if raw.Start == nil {
				re.at(it, "address without start")
				continue
			}
			a = Range{Space: raw.Space, Start: *raw.Start, End: *raw.Start}
			if raw.End != nil {
				a.End = *raw.End
			}
		default:
			re.at(it, "address: want \"SPACE:START-END\" or a mapping")
			continue
		}
		if a.End < a.Start {
			re.at(it, "address end %d before start %d", a.End, a.Start)
			continue
		}
		r.addrs = append(r.addrs, a)
	}
}

// parseRange reads "holding:100-199", "100-199", "coil:5" or "5".
func parseRange(s string) (Range, error) {
	var r Range
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		r.Space, s = strings.TrimSpace(s[:i]), s[i+1:]
	}
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 0, 32)
	if err != nil {
		return r, fmt.Errorf("start %q is not a number", lo)
	}
	r.Start, r.End = uint32(a), uint32(a)
	if isRange {
		b, err := strconv.ParseUint(strings.TrimSpace(hi), 0, 32)
		if err != nil {
			return r, fmt.Errorf("end %q is not a number", hi)
		}
		r.End = uint32(b)
	}
	return r, nil
}

func parseEndpoint(s string) (endpoint, error) {
	var ep endpoint
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "!") {
		ep.neg, s = true, strings.TrimSpace(s[1:])
	}
	if r, ok := strings.CutPrefix(s, "role:"); ok {
		role, known := roles[r]
		if !known {
			return ep, fmt.Errorf("unknown role %q: want controller, hmi, engineering, historian or unknown", r)
		}
		ep.role = role
		return ep, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return ep, fmt.Errorf("not a CIDR: %v", err)
		}
		ep.prefix = p.Masked()
		return ep, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ep, fmt.Errorf("want an IP address, a CIDR or role:NAME")
	}
	ep.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	return ep, nil
}

func parseCmp(s string) (comparison, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "==", "!=", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return comparison{}, fmt.Errorf("%q is not a number", strings.TrimSpace(rest))
			}
			if op == "=" {
				op = "=="
			}
			return comparison{op, v}, nil
		}
	}
	return comparison{}, fmt.Errorf("want a comparison such as \"> 100\" (>, >=, <, <=, ==, !=)")
}

func (c comparison) ok(v float64) bool {
	switch c.op {
	case ">":
		return v > c.v
	case ">=":
		return v >= c.v
	case "<":
		return v < c.v
	case "<=":
		return v <= c.v
	case "==":
		return v == c.v
	case "!=":
		return v != c.v
	}
	return false
}

func (re *ruleErrs) rate(r *rule, v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		re.at(v, "rate must be a mapping {count, window}")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, x := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "count":
			n, err := strconv.Atoi(x.Value)
			if err != nil || n < 1 || n > maxEvents {
				re.at(x, "rate count %q: want 1..%d", x.Value, maxEvents)
			}
			r.rateN = n
		case "window":
			d, err := time.ParseDuration(x.Value)
			if err != nil || d <= 0 {
				re.at(x, "rate window %q: want a duration such as 60s or 5m", x.Value)
			}
			r.rateWin = d
		default:
			re.at(k, "unknown rate key %q (want count, window)", k.Value)
		}
	}
	if r.rateN == 0 || r.rateWin == 0 {
		re.at(v, "rate needs count and window")
	}
}

func (r *rule) endpointOK(eps []endpoint, a netip.Addr, roles Roles) bool {
	if len(eps) == 0 {
		return true
	}
	pos, posMatch := false, false
	for _, ep := range eps {
		var m bool
		if ep.role != "" {
			m = roles != nil && roles.Role(a) == ep.role
		} else {
			m = ep.prefix.Contains(a)
		}
		if ep.neg {
			if m {
				return false
			}
			continue
		}
		pos = true
		posMatch = posMatch || m
	}
	return !pos || posMatch
}

// objectsOK applies the address and value conditions.
func (r *rule) objectsOK(p *dissect.PDU) bool {
	if len(r.addrs) == 0 && len(r.values) == 0 {
		return true
	}
	for _, o := range p.Objects {
		if len(r.addrs) == 0 {
			if r.valuesOK(o.Values) {
				return true
			}
			continue
		}
		for _, ar := range r.addrs {
			if ar.Space != "" && ar.Space != o.Space {
				continue
			}
			last := uint64(o.Start) + uint64(max(o.Count, 1)) - 1
			if uint64(ar.End) < uint64(o.Start) || uint64(ar.Start) > last {
				continue
			}
			if len(r.values) == 0 {
				return true
			}
			// Only the values at addresses inside the range count.
			for i, v := range o.Values {
				addr := uint64(o.Start) + uint64(i)
				if addr >= uint64(ar.Start) && addr <= uint64(ar.End) && r.valuesOK([]float64{v}) {
					return true
				}
			}
		}
	}
	return false
}

// valuesOK reports whether one of vs satisfies every comparison.
func (r *rule) valuesOK(vs []float64) bool {
	for _, v := range vs {
		ok := true
		for _, c := range r.values {
			ok = ok && c.ok(v)
		}
		if ok {
			return true
		}
	}
	return false
}

func (r *rule) matches(f *flow.Flow, p *dissect.PDU, cli, srv netip.Addr, roles Roles) bool {
	switch r.dir {
	case dirRequest:
		if p.Meta.Dir != dissect.ToServer || p.Response {
			return false
		}
	case dirResponse:
		if p.Meta.Dir != dissect.ToClient && !p.Response {
			return false
		}
	}
	if r.protos != nil && !r.protos[p.Proto] || r.funcs != nil && !r.funcs[p.Function] || r.actions != nil && !r.actions[p.Action] {
		return false
	}
	if r.exception != nil && *r.exception != (p.Exception != 0) {
		return false
	}
	return r.endpointOK(r.client, cli, roles) && r.endpointOK(r.server, srv, roles) && r.objectsOK(p)
}

func (e *Engine) rulesPDU(f *flow.Flow, p *dissect.PDU, cli, srv netip.Addr, ev func() Evidence) {
	for _, r := range e.cfg.Rules.list {
		if !r.matches(f, p, cli, srv, e.cfg.Roles) {
			continue
		}
		det, pair := "rule:"+r.id, cli.String()+">"+srv.String()
		if r.rateN > 0 {
			e.addSeries(det, pair, r.d, p.Proto, r.rateWin, r.rateN, false, p.Meta.Time, "", ev(), cli.String(), srv.String())
			continue
		}
		a := e.alert(det, pair, r.d, p.Proto, cli.String(), srv.String())
		a.add(ev())
		if a.Detail == "" {
			a.Detail = fmt.Sprintf("rule %s: %s %s from %s to %s", r.id, p.Proto, p.Name, cli, srv)
		}
	}
}

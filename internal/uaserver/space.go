package uaserver

import (
	"sort"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
)

// NamespaceURI is the namespace of the plant's nodes. Their node ids are
// strings: the plant path of the folder, machine or tag
// (ns=N;s=acme/taichung/machining/line1/cnc01/spindle_speed), and
// path#EURange / path#EngineeringUnits for a tag's properties.
const NamespaceURI = "urn:otlink:plant"

// Access level bits (Part 3, 8.57).
const (
	accessRead    = 0x01
	accessWrite   = 0x02
	accessHistory = 0x04
)

// node is one node of the plant's namespace. The tree is built once and
// never changes: only a variable's value (cur) moves.
type node struct {
	id      *ua.NodeID
	sid     string // string id, the map key
	class   ua.NodeClass
	name    string
	desc    string
	typeDef uint32 // ns 0 type definition
	refs    []ref

	// Variables.
	dataType uint32
	prop     *ua.Variant // property value; nil for tags
	tag      *tagVar
}

type ref struct {
	typ     uint32
	forward bool
	to      *node      // nil for a node of namespace 0
	ns0     *ua.NodeID // when to is nil
	ns0Name string
}

// tagVar is the live part of a tag's variable.
type tagVar struct {
	path     string
	typ      model.Type
	writable bool
	numeric  bool
	hasRange bool    // EURange, for percent deadbands
	lo, hi   float64 // EURange
	cur      atomic.Pointer[ua.DataValue]
}

// space is the plant's namespace; it implements server.NameSpace.
type space struct {
	idx     uint16
	nodes   map[string]*node
	root    *node
	tags    map[string]*node // by tag path
	history bool
	sample  float64 // minimum sampling interval, ms
	srvRoot *server.Node
}

var _ server.NameSpace = (*space)(nil)

// build creates the tree of plant for namespace idx.
func build(p config.Plant, idx uint16, history bool, sample time.Duration) *space {
	s := &space{idx: idx, nodes: map[string]*node{}, tags: map[string]*node{}, history: history, sample: float64(sample) / float64(time.Millisecond)}
	ent := p.Enterprise
	if ent == "" {
		ent = "plant"
	}
	s.root = s.add(nil, ent, ent, ua.NodeClassObject, id.FolderType, id.Organizes, "enterprise")
	s.root.refs = append(s.root.refs, ref{typ: id.Organizes, forward: false, ns0: ua.NewNumericNodeID(0, id.ObjectsFolder), ns0Name: "Objects"})
	for _, site := range p.Sites {
		sn := s.add(s.root, model.JoinPath(ent, site.Name), site.Name, ua.NodeClassObject, id.FolderType, id.Organizes, "site")
		for _, area := range site.Areas {
			an := s.add(sn, model.JoinPath(sn.sid, area.Name), area.Name, ua.NodeClassObject, id.FolderType, id.Organizes, "area")
			for _, line := range area.Lines {
				ln := s.add(an, model.JoinPath(an.sid, line.Name), line.Name, ua.NodeClassObject, id.FolderType, id.Organizes, "line")
				for _, m := range line.Machines {
					s.machine(ln, m)
				}
				for _, cell := range line.Cells {
					cn := s.add(ln, model.JoinPath(ln.sid, cell.Name), cell.Name, ua.NodeClassObject, id.FolderType, id.Organizes, "cell")
					for _, m := range cell.Machines {
						s.machine(cn, m)
					}
				}
			}
		}
	}
	return s
}

// add creates a child of parent (nil for the root) reached by refType.
func (s *space) add(parent *node, sid, name string, class ua.NodeClass, typeDef uint32, refType uint32, desc string) *node {
	n := &node{id: ua.NewStringNodeID(s.idx, sid), sid: sid, class: class, name: name, desc: desc, typeDef: typeDef}
	s.nodes[sid] = n
	if parent != nil {
		parent.refs = append(parent.refs, ref{typ: refType, forward: true, to: n})
		n.refs = append(n.refs, ref{typ: refType, forward: false, to: parent})
	}
	return n
}

func (s *space) machine(parent *node, m config.Machine) {
	desc := m.Description
	if desc == "" {
		desc = "machine"
	}
	mn := s.add(parent, model.JoinPath(parent.sid, m.Name), m.Name, ua.NodeClassObject, id.BaseObjectType, id.Organizes, desc)
	for i := range m.Tags {
		t := &m.Tags[i]
		path := t.Path
		if path == "" {
			path = model.JoinPath(mn.sid, t.Name)
		}
		typ, ok := model.ParseType(t.Type)
		if !ok {
			continue // the config validator reported it
		}
		tn := s.add(mn, path, t.Name, ua.NodeClassVariable, id.BaseDataVariableType, id.HasComponent, t.Description)
		tn.dataType = dataTypeOf(typ)
		tn.tag = &tagVar{path: path, typ: typ, writable: t.Writable, numeric: typ != model.Bool && typ != model.String && tn.dataType != id.String}
		if t.Range != nil {
			tn.tag.hasRange, tn.tag.lo, tn.tag.hi = true, t.Range.Min, t.Range.Max
		}
		tn.tag.cur.Store(&ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadWaitingForInitialData})
		s.tags[path] = tn
		if t.Unit != "" {
			eu := &ua.EUInformation{NamespaceURI: "http://www.opcfoundation.org/UA/units/un/cefact", UnitID: unitID(t.Unit),
				DisplayName: text(t.Unit), Description: text(t.Unit)}
			p := s.add(tn, path+"#EngineeringUnits", "EngineeringUnits", ua.NodeClassVariable, id.PropertyType, id.HasProperty, "engineering unit")
			p.dataType = id.EUInformation
			p.prop = ua.MustVariant(ua.NewExtensionObject(eu))
		}
		if t.Range != nil {
			p := s.add(tn, path+"#EURange", "EURange", ua.NodeClassVariable, id.PropertyType, id.HasProperty, "engineering range")
			p.dataType = id.Range
			p.prop = ua.MustVariant(ua.NewExtensionObject(&ua.Range{Low: t.Range.Min, High: t.Range.Max}))
		}
	}
}

// dataTypeOf maps a tag type to the OPC UA built-in data type.
func dataTypeOf(t model.Type) uint32 {
	switch t {
	case model.Bool:
		return id.Boolean
	case model.Int8:
		return id.SByte
	case model.Uint8:
		return id.Byte
	case model.Int16:
		return id.Int16
	case model.Uint16:
		return id.UInt16
	case model.Int32:
		return id.Int32
	case model.Uint32:
		return id.UInt32
	case model.Int64:
		return id.Int64
	case model.Uint64:
		return id.UInt64
	case model.Float32:
		return id.Float
	case model.Float64:
		return id.Double
	}
	return id.String
}

// unitID is the UNECE common code of a unit as OPC UA encodes it (Part 8,
// 5.6.3): the code's characters packed into an Int32; -1 when unknown.
func unitID(u string) int32 {
	codes := map[string]string{
		"degC": "CEL", "°C": "CEL", "C": "CEL", "degF": "FAH", "K": "KEL",
		"rpm": "RPM", "%": "P1", "bar": "BAR", "Pa": "PAL", "kPa": "KPA", "MPa": "MPA", "psi": "PS",
		"mm": "MMT", "m": "MTR", "um": "4H", "s": "SEC", "ms": "C26", "min": "MIN", "h": "HUR",
		"A": "AMP", "V": "VLT", "W": "WTT", "kW": "KWT", "kWh": "KWH", "Hz": "HTZ", "Nm": "NU", "N": "NEW",
		"kg": "KGM", "g": "GRM", "l": "LTR", "l/min": "L2", "m/s": "MTS", "mm/s": "C16", "mm/min": "H81",
	}
	c, ok := codes[u]
	if !ok {
		return -1
	}
	var v int32
	for i := 0; i < len(c); i++ {
		v = v<<8 | int32(c[i])
	}
	return v
}

func text(s string) *ua.LocalizedText {
	lt := &ua.LocalizedText{Text: s}
	lt.UpdateMask()
	return lt
}

// lookup finds a node of this namespace.
func (s *space) lookup(nid *ua.NodeID) *node {
	if nid == nil || nid.Namespace() != s.idx || nid.Type() != ua.NodeIDTypeString {
		return nil
	}
	return s.nodes[nid.StringID()]
}

// paths returns the tag paths in order, for tests and docs.
func (s *space) paths() []string {
	out := make([]string, 0, len(s.tags))
	for p := range s.tags {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (s *space) Name() string                        { return NamespaceURI }
func (s *space) AddNode(n *server.Node) *server.Node { return n } // the plant is built from the config only
func (s *space) ID() uint16                          { return s.idx }
func (s *space) SetID(i uint16)                      { s.idx = i }
func (s *space) Objects() *server.Node               { return s.srvNode(s.root) }
func (s *space) Root() *server.Node                  { return s.srvNode(s.root) }

// Node returns a gopcua node for namespace 0's browse of the Objects
// folder, which asks for the type definition of what it references.
func (s *space) Node(nid *ua.NodeID) *server.Node {
	n := s.lookup(nid)
	if n == nil {
		return nil
	}
	return s.srvNode(n)
}

func (s *space) srvNode(n *node) *server.Node {
	if n == s.root && s.srvRoot != nil {
		return s.srvRoot
	}
	sn := server.NewNode(n.id, server.Attributes{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(n.class)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: s.idx, Name: n.name}),
		ua.AttributeIDDisplayName: server.DataValueFromValue(attrs.DisplayName(n.name, "")),
	}, server.References{{ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsForward: true,
		NodeID: ua.NewNumericExpandedNodeID(0, n.typeDef)}}, nil)
	if n == s.root {
		s.srvRoot = sn
	}
	return sn
}

// SetAttribute is not used: writes go through the server's Write handler.
func (s *space) SetAttribute(*ua.NodeID, ua.AttributeID, *ua.DataValue) ua.StatusCode {
	return ua.StatusBadNotWritable
}

func bad(code ua.StatusCode) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp, Status: code, ServerTimestamp: time.Now()}
}

func good(v *ua.Variant) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v}
}

// Attribute answers Read for the plant's nodes.
func (s *space) Attribute(nid *ua.NodeID, a ua.AttributeID) *ua.DataValue {
	n := s.lookup(nid)
	if n == nil {
		return bad(ua.StatusBadNodeIDUnknown)
	}
	variable := n.class == ua.NodeClassVariable
	switch a {
	case ua.AttributeIDNodeID:
		return good(ua.MustVariant(n.id))
	case ua.AttributeIDNodeClass:
		return good(ua.MustVariant(int32(n.class)))
	case ua.AttributeIDBrowseName:
		return good(ua.MustVariant(&ua.QualifiedName{NamespaceIndex: s.idx, Name: n.name}))
	case ua.AttributeIDDisplayName:
		return good(ua.MustVariant(text(n.name)))
	case ua.AttributeIDDescription:
		return good(ua.MustVariant(text(n.desc)))
	case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
		return good(ua.MustVariant(uint32(0)))
	case ua.AttributeIDEventNotifier:
		if variable {
			break
		}
		return good(ua.MustVariant(byte(0)))
	case ua.AttributeIDValue:
		if !variable {
			break
		}
		if n.prop != nil {
			return good(n.prop)
		}
		return n.tag.cur.Load()
	case ua.AttributeIDDataType:
		if variable {
			return good(ua.MustVariant(ua.NewNumericNodeID(0, n.dataType)))
		}
	case ua.AttributeIDValueRank:
		if variable {
			return good(ua.MustVariant(int32(-1)))
		}
	case ua.AttributeIDArrayDimensions:
		if variable {
			return good(ua.MustVariant([]uint32{}))
		}
	case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
		if variable {
			return good(ua.MustVariant(s.access(n)))
		}
	case ua.AttributeIDMinimumSamplingInterval:
		if variable {
			return good(ua.MustVariant(s.sample))
		}
	case ua.AttributeIDHistorizing:
		if variable {
			return good(ua.MustVariant(n.tag != nil && s.history))
		}
	}
	return bad(ua.StatusBadAttributeIDInvalid)
}

func (s *space) access(n *node) byte {
	lvl := byte(accessRead)
	if n.tag != nil && n.tag.writable {
		lvl |= accessWrite
	}
	if n.tag != nil && s.history {
		lvl |= accessHistory
	}
	return lvl
}

// Browse answers Browse for the plant's nodes.
func (s *space) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	n := s.lookup(bd.NodeID)
	if n == nil {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	var want uint32
	if bd.ReferenceTypeID != nil && !(bd.ReferenceTypeID.Namespace() == 0 && bd.ReferenceTypeID.IntID() == 0) {
		if bd.ReferenceTypeID.Namespace() != 0 || bd.ReferenceTypeID.Type() == ua.NodeIDTypeString {
			return &ua.BrowseResult{StatusCode: ua.StatusBadReferenceTypeIDInvalid}
		}
		want = bd.ReferenceTypeID.IntID()
	}
	out := []*ua.ReferenceDescription{}
	all := append([]ref{{typ: id.HasTypeDefinition, forward: true}}, n.refs...)
	for i, r := range all {
		switch bd.BrowseDirection {
		case ua.BrowseDirectionForward:
			if !r.forward {
				continue
			}
		case ua.BrowseDirectionInverse:
			if r.forward {
				continue
			}
		}
		if want != 0 && r.typ != want && !(bd.IncludeSubtypes && subtypeOf(r.typ, want)) {
			continue
		}
		var rd *ua.ReferenceDescription
		switch {
		case i == 0: // the type definition
			rd = &ua.ReferenceDescription{NodeID: ua.NewNumericExpandedNodeID(0, n.typeDef), BrowseName: &ua.QualifiedName{Name: typeName(n.typeDef)},
				DisplayName: text(typeName(n.typeDef)), NodeClass: ua.NodeClassObjectType, TypeDefinition: ua.NewTwoByteExpandedNodeID(0)}
			if n.class == ua.NodeClassVariable {
				rd.NodeClass = ua.NodeClassVariableType
			}
		case r.to != nil:
			rd = &ua.ReferenceDescription{NodeID: ua.NewExpandedNodeID(r.to.id, "", 0), BrowseName: &ua.QualifiedName{NamespaceIndex: s.idx, Name: r.to.name},
				DisplayName: text(r.to.name), NodeClass: r.to.class, TypeDefinition: ua.NewNumericExpandedNodeID(0, r.to.typeDef)}
		default:
			rd = &ua.ReferenceDescription{NodeID: ua.NewExpandedNodeID(r.ns0, "", 0), BrowseName: &ua.QualifiedName{Name: r.ns0Name},
				DisplayName: text(r.ns0Name), NodeClass: ua.NodeClassObject, TypeDefinition: ua.NewNumericExpandedNodeID(0, id.FolderType)}
		}
		if bd.NodeClassMask != 0 && bd.NodeClassMask&uint32(rd.NodeClass) == 0 {
			continue
		}
		rd.ReferenceTypeID = ua.NewNumericNodeID(0, r.typ)
		rd.IsForward = r.forward
		out = append(out, rd)
	}
	return &ua.BrowseResult{StatusCode: ua.StatusGood, References: out}
}

// refParent is the supertype of the reference types the plant uses (Part
// 5, 11): enough to answer "HierarchicalReferences with subtypes", which
// is what generic clients browse with.
var refParent = map[uint32]uint32{
	id.HasComponent: id.Aggregates, id.HasProperty: id.Aggregates, id.Aggregates: id.HasChild,
	id.HasChild: id.HierarchicalReferences, id.Organizes: id.HierarchicalReferences,
	id.HierarchicalReferences: id.References, id.HasTypeDefinition: id.NonHierarchicalReferences,
	id.NonHierarchicalReferences: id.References,
}

func subtypeOf(t, want uint32) bool {
	for i := 0; i < 8 && t != 0; i++ {
		if t == want {
			return true
		}
		t = refParent[t]
	}
	return false
}

func typeName(t uint32) string {
	switch t {
	case id.FolderType:
		return "FolderType"
	case id.BaseObjectType:
		return "BaseObjectType"
	case id.PropertyType:
		return "PropertyType"
	}
	return "BaseDataVariableType"
}

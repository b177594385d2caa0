package sim

import (
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"
)

// uaVar is one variable of a simulated OPC UA machine: node id
// ns=2;s=<machine>.<Name>.
type uaVar struct {
	name, desc, unit string
	typ              uint32 // ns=0 data type id (id.Double, ...)
	writable         bool
	get              func(v *Values) any // the value, of the Go type of typ
	cur              atomic.Pointer[ua.DataValue]
}

// uaVars lists the variables of a simulated OPC UA machine, in browse
// order. FeedOverride is the one writable setpoint, as on the Modbus
// machines (hr:6).
func uaVars() []*uaVar {
	return []*uaVar{
		{name: "State", desc: "machine state: 1 idle, 2 running, 3 setup, 4 fault, 5 maintenance", typ: id.UInt16, get: func(v *Values) any { return uint16(v.State) }},
		{name: "StateName", desc: "machine state as text", typ: id.String, get: func(v *Values) any { return v.State.String() }},
		{name: "Running", desc: "true while producing", typ: id.Boolean, get: func(v *Values) any { return v.State == StateRunning }},
		{name: "Speed", desc: "spindle speed (strokes/min on a press)", unit: "rpm", typ: id.Double, get: func(v *Values) any { return round(v.SpindleSpeed, 1) }},
		{name: "Feed", desc: "feed rate", unit: "mm/min", typ: id.Double, get: func(v *Values) any { return round(v.Feed, 1) }},
		{name: "Load", desc: "main drive load", unit: "%", typ: id.Double, get: func(v *Values) any { return round(v.SpindleLoad, 1) }},
		{name: "DriveTemp", desc: "main drive temperature", unit: "degC", typ: id.Double, get: func(v *Values) any { return round(v.SpindleTemp, 2) }},
		{name: "CoolantTemp", desc: "coolant (hydraulic oil on a press) temperature", unit: "degC", typ: id.Double, get: func(v *Values) any { return round(v.CoolantTemp, 2) }},
		{name: "AmbientTemp", desc: "ambient temperature", unit: "degC", typ: id.Double, get: func(v *Values) any { return round(v.AmbientTemp, 2) }},
		{name: "Vibration", desc: "vibration velocity RMS", unit: "mm/s", typ: id.Double, get: func(v *Values) any { return round(v.Vibration, 3) }},
		{name: "Power", desc: "active power", unit: "kW", typ: id.Double, get: func(v *Values) any { return round(v.Power, 2) }},
		{name: "Energy", desc: "energy meter, never decreases", unit: "kWh", typ: id.Double, get: func(v *Values) any { return round(v.Energy, 3) }},
		{name: "GoodCount", desc: "good parts since start", typ: id.UInt32, get: func(v *Values) any { return v.Good }},
		{name: "ScrapCount", desc: "scrapped parts since start", typ: id.UInt32, get: func(v *Values) any { return v.Scrap }},
		{name: "CycleTime", desc: "cycle time of the last part", unit: "s", typ: id.Double, get: func(v *Values) any { return round(v.CycleTime, 2) }},
		{name: "AlarmWord", desc: "alarm bits (see docs/sim.md)", typ: id.UInt16, get: func(v *Values) any { return v.Alarms }},
		{name: "Program", desc: "part program (die) loaded", typ: id.String, get: func(v *Values) any { return v.Program }},
		{name: "DoorOpen", desc: "guard door open", typ: id.Boolean, get: func(v *Values) any { return v.DoorOpen }},
		{name: "FeedOverride", desc: "feed (stroke rate) override, writable 0..200", unit: "%", typ: id.UInt16, writable: true, get: func(v *Values) any { return v.FeedOverride }},
	}
}

// round keeps a value's published precision, so that a subscription sees
// a change only when the shown value changes.
func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if x < 0 {
		return -float64(int64(-x*p+0.5)) / p
	}
	return float64(int64(x*p+0.5)) / p
}

// uaSpace is the address space of one namespace of the simulated server:
// one machine object holding its variables, or (machine nil) an empty
// namespace, the server's own ns=1. gopcua's NodeNameSpace is not used
// because it stores DataType as an ExpandedNodeID (clients want a
// NodeID) and replaces a node's value function on a write without a lock.
type uaSpace struct {
	uri  string
	idx  uint16
	name string // machine object's browse name; "" for an empty namespace
	vars []*uaVar
	by   map[string]*uaVar // by node id string identifier
	root *server.Node      // the gopcua node namespace 0 references
}

func (s *uaSpace) Name() string                        { return s.uri }
func (s *uaSpace) AddNode(n *server.Node) *server.Node { return n } // fixed model
func (s *uaSpace) ID() uint16                          { return s.idx }
func (s *uaSpace) SetID(i uint16)                      { s.idx = i }
func (s *uaSpace) Objects() *server.Node               { return s.root }
func (s *uaSpace) Root() *server.Node                  { return s.root }

func (s *uaSpace) objectID() *ua.NodeID { return ua.NewStringNodeID(s.idx, s.name) }

func (s *uaSpace) varID(v *uaVar) *ua.NodeID { return ua.NewStringNodeID(s.idx, s.name+"."+v.name) }

// lookup returns (isObject, variable) for a node of this namespace.
func (s *uaSpace) lookup(nid *ua.NodeID) (bool, *uaVar) {
	if s.name == "" || nid == nil || nid.Namespace() != s.idx || nid.Type() != ua.NodeIDTypeString {
		return false, nil
	}
	if nid.StringID() == s.name {
		return true, nil
	}
	return false, s.by[nid.StringID()]
}

// Node returns a gopcua node for namespace 0's browse of the Objects
// folder, which asks for what it references.
func (s *uaSpace) Node(nid *ua.NodeID) *server.Node {
	if obj, _ := s.lookup(nid); obj {
		return s.root
	}
	return nil
}

func (s *uaSpace) makeRoot() {
	s.root = server.NewNode(s.objectID(), server.Attributes{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(ua.NodeClassObject)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: s.idx, Name: s.name}),
		ua.AttributeIDDisplayName: server.DataValueFromValue(attrs.DisplayName(s.name, "")),
	}, server.References{{ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsForward: true,
		NodeID: ua.NewNumericExpandedNodeID(0, id.BaseObjectType)}}, nil)
}

// SetAttribute is not used: writes go through the machine's Write handler.
func (s *uaSpace) SetAttribute(*ua.NodeID, ua.AttributeID, *ua.DataValue) ua.StatusCode {
	return ua.StatusBadNotWritable
}

func uaBad(code ua.StatusCode) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp, Status: code, ServerTimestamp: time.Now()}
}

func uaGood(x any) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(x)}
}

func uaText(s string) *ua.LocalizedText {
	return &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: s}
}

// Attribute answers Read.
func (s *uaSpace) Attribute(nid *ua.NodeID, a ua.AttributeID) *ua.DataValue {
	obj, v := s.lookup(nid)
	switch {
	case obj:
		switch a {
		case ua.AttributeIDNodeID:
			return uaGood(nid)
		case ua.AttributeIDNodeClass:
			return uaGood(int32(ua.NodeClassObject))
		case ua.AttributeIDBrowseName:
			return uaGood(&ua.QualifiedName{NamespaceIndex: s.idx, Name: s.name})
		case ua.AttributeIDDisplayName:
			return uaGood(uaText(s.name))
		case ua.AttributeIDDescription:
			return uaGood(uaText("otlink simulated machine"))
		case ua.AttributeIDEventNotifier:
			return uaGood(byte(0))
		case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
			return uaGood(uint32(0))
		}
	case v != nil:
		switch a {
		case ua.AttributeIDNodeID:
			return uaGood(nid)
		case ua.AttributeIDNodeClass:
			return uaGood(int32(ua.NodeClassVariable))
		case ua.AttributeIDBrowseName:
			return uaGood(&ua.QualifiedName{NamespaceIndex: s.idx, Name: v.name})
		case ua.AttributeIDDisplayName:
			return uaGood(uaText(v.name))
		case ua.AttributeIDDescription:
			d := v.desc
			if v.unit != "" {
				d += " (" + v.unit + ")"
			}
			return uaGood(uaText(d))
		case ua.AttributeIDValue:
			if dv := v.cur.Load(); dv != nil {
				return dv
			}
			return uaBad(ua.StatusBadWaitingForInitialData)
		case ua.AttributeIDDataType:
			return uaGood(ua.NewNumericNodeID(0, v.typ))
		case ua.AttributeIDValueRank:
			return uaGood(int32(-1))
		case ua.AttributeIDArrayDimensions:
			return uaGood([]uint32{})
		case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
			lvl := byte(ua.AccessLevelTypeCurrentRead)
			if v.writable {
				lvl |= byte(ua.AccessLevelTypeCurrentWrite)
			}
			return uaGood(lvl)
		case ua.AttributeIDMinimumSamplingInterval:
			return uaGood(float64(100))
		case ua.AttributeIDHistorizing:
			return uaGood(false)
		case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
			return uaGood(uint32(0))
		}
	default:
		return uaBad(ua.StatusBadNodeIDUnknown)
	}
	return uaBad(ua.StatusBadAttributeIDInvalid)
}

// Browse answers Browse: the machine object has its variables as
// components; everything has a type definition.
func (s *uaSpace) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	obj, v := s.lookup(bd.NodeID)
	if !obj && v == nil {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	out := []*ua.ReferenceDescription{}
	if bd.BrowseDirection == ua.BrowseDirectionInverse {
		return &ua.BrowseResult{StatusCode: ua.StatusGood, References: out}
	}
	var want uint32
	if r := bd.ReferenceTypeID; r != nil && !(r.Namespace() == 0 && r.IntID() == 0) {
		want = r.IntID()
	}
	hierarchical := want == 0 || want == id.HasComponent || want == id.References ||
		bd.IncludeSubtypes && (want == id.HierarchicalReferences || want == id.HasChild || want == id.Aggregates)
	typeDef := want == 0 || want == id.HasTypeDefinition || want == id.References ||
		bd.IncludeSubtypes && want == id.NonHierarchicalReferences
	add := func(rd *ua.ReferenceDescription) {
		if bd.NodeClassMask == 0 || bd.NodeClassMask&uint32(rd.NodeClass) != 0 {
			out = append(out, rd)
		}
	}
	if typeDef {
		td, cls, name := uint32(id.BaseObjectType), ua.NodeClassObjectType, "BaseObjectType"
		if v != nil {
			td, cls, name = id.BaseDataVariableType, ua.NodeClassVariableType, "BaseDataVariableType"
		}
		add(&ua.ReferenceDescription{ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsForward: true,
			NodeID: ua.NewNumericExpandedNodeID(0, td), BrowseName: &ua.QualifiedName{Name: name}, DisplayName: uaText(name),
			NodeClass: cls, TypeDefinition: ua.NewTwoByteExpandedNodeID(0)})
	}
	if obj && hierarchical {
		for _, x := range s.vars {
			add(&ua.ReferenceDescription{ReferenceTypeID: ua.NewNumericNodeID(0, id.HasComponent), IsForward: true,
				NodeID: ua.NewExpandedNodeID(s.varID(x), "", 0), BrowseName: &ua.QualifiedName{NamespaceIndex: s.idx, Name: x.name},
				DisplayName: uaText(x.name), NodeClass: ua.NodeClassVariable, TypeDefinition: ua.NewNumericExpandedNodeID(0, id.BaseDataVariableType)})
		}
	}
	return &ua.BrowseResult{StatusCode: ua.StatusGood, References: out}
}

var _ server.NameSpace = (*uaSpace)(nil)

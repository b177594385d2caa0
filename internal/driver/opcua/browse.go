package opcua

import (
	"context"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// BrowseOptions bound a browse: a server's address space can hold
// millions of nodes, and browsing them all would load it like an attack.
type BrowseOptions struct {
	Root     string // node id to start from; "" = the Objects folder
	MaxDepth int    // levels below the root; 0 = 6
	MaxNodes int    // variables to return at most; 0 = 5000
}

// Variable is a variable found by Browse.
type Variable struct {
	NodeID   string
	Path     []string // browse names from the root down, the variable's last
	Type     model.Type
	TypeOK   bool   // false: the DataType has no otlink type (arrays, structures)
	DataType string // the OPC UA data type's name or node id
	Writable bool   // the AccessLevel allows writing the current value
}

// Browse connects to endpoint with the device options opts (as for a
// device) and walks the hierarchical references from the root, returning
// the variables outside namespace 0. It also returns the server's
// identity for naming.
func Browse(ctx context.Context, endpoint string, opts map[string]string, o BrowseOptions) ([]Variable, error) {
	s, err := parseSettings(endpoint, opts, 0)
	if err != nil {
		return nil, err
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 6
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = 5000
	}
	root := ua.NewNumericNodeID(0, id.ObjectsFolder)
	if o.Root != "" {
		if root, err = ParseNodeID(o.Root); err != nil {
			return nil, err
		}
	}
	cl, err := dial(ctx, &s, nil)
	if err != nil {
		return nil, err
	}
	defer cl.Close(context.Background())

	type item struct {
		node *ua.NodeID
		path []string
	}
	var vars []Variable
	seen := map[string]bool{root.String(): true}
	level := []item{{node: root}}
	for depth := 0; depth < o.MaxDepth && len(level) > 0 && len(vars) < o.MaxNodes; depth++ {
		var next []item
		for start := 0; start < len(level) && len(vars) < o.MaxNodes; start += 100 {
			chunk := level[start:min(start+100, len(level))]
			req := &ua.BrowseRequest{RequestedMaxReferencesPerNode: 1000}
			for _, it := range chunk {
				req.NodesToBrowse = append(req.NodesToBrowse, &ua.BrowseDescription{
					NodeID: it.node, BrowseDirection: ua.BrowseDirectionForward,
					ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences), IncludeSubtypes: true,
					NodeClassMask: uint32(ua.NodeClassObject | ua.NodeClassVariable), ResultMask: uint32(ua.BrowseResultMaskAll),
				})
			}
			res, err := cl.Browse(ctx, req)
			if err != nil {
				return nil, errcode.Wrap(errcode.UABrowse, wrapErr(err, "browse"), "browse %s", endpoint)
			}
			for k, r := range res.Results {
				if k >= len(chunk) {
					break
				}
				refs, err := allRefs(ctx, cl, r)
				if err != nil {
					return nil, err
				}
				for _, ref := range refs {
					if ref == nil || ref.NodeID == nil || ref.NodeID.NodeID == nil {
						continue
					}
					n := ref.NodeID.NodeID
					if n.Namespace() == 0 || seen[n.String()] {
						continue // the server's own objects, or a node reached twice
					}
					seen[n.String()] = true
					name := n.String()
					if ref.BrowseName != nil && ref.BrowseName.Name != "" {
						name = ref.BrowseName.Name
					}
					p := append(append([]string(nil), chunk[k].path...), name)
					if ref.NodeClass == ua.NodeClassVariable && len(vars) < o.MaxNodes {
						vars = append(vars, Variable{NodeID: n.String(), Path: p})
					}
					// Variables may have children (properties, components).
					next = append(next, item{node: n, path: p})
				}
			}
		}
		level = next
	}
	if err := describe(ctx, cl, vars); err != nil {
		return nil, err
	}
	return vars, nil
}

// allRefs follows continuation points.
func allRefs(ctx context.Context, cl *opcua.Client, r *ua.BrowseResult) ([]*ua.ReferenceDescription, error) {
	refs := r.References
	cp := r.ContinuationPoint
	for i := 0; len(cp) > 0 && i < 100; i++ {
		res, err := cl.BrowseNext(ctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		if err != nil {
			return nil, errcode.Wrap(errcode.UABrowse, wrapErr(err, "browse next"), "browse")
		}
		if len(res.Results) == 0 {
			break
		}
		refs = append(refs, res.Results[0].References...)
		cp = res.Results[0].ContinuationPoint
	}
	return refs, nil
}

// describe reads DataType, ValueRank and AccessLevel of the variables.
func describe(ctx context.Context, cl *opcua.Client, vars []Variable) error {
	for start := 0; start < len(vars); start += 300 {
		chunk := vars[start:min(start+300, len(vars))]
		req := &ua.ReadRequest{}
		for _, v := range chunk {
			n, _ := ua.ParseNodeID(v.NodeID)
			req.NodesToRead = append(req.NodesToRead,
				&ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDDataType},
				&ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDValueRank},
				&ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDAccessLevel})
		}
		res, err := readAttrs(ctx, cl, req)
		if err != nil {
			return errcode.Wrap(errcode.UABrowse, err, "read data types")
		}
		for k := range chunk {
			v := &chunk[k]
			dt, rank, acc := res[3*k], res[3*k+1], res[3*k+2]
			if dt.Status == ua.StatusOK && dt.Value != nil {
				if n, ok := dt.Value.Value().(*ua.NodeID); ok && n != nil {
					v.DataType = n.String()
					if n.Namespace() == 0 {
						v.Type, v.TypeOK = typeOf(ua.TypeID(n.IntID()))
						v.DataType = ua.TypeID(n.IntID()).String()
					}
				}
			}
			if rank.Status == ua.StatusOK && rank.Value != nil {
				if r, ok := rank.Value.Value().(int32); ok && r >= 1 {
					v.TypeOK = false // arrays have no tag type
				}
			}
			if acc.Status == ua.StatusOK && acc.Value != nil {
				if a, ok := acc.Value.Value().(uint8); ok {
					v.Writable = a&2 != 0 // CurrentWrite
				}
			}
		}
	}
	return nil
}

// typeOf maps an OPC UA built-in type to a tag type.
func typeOf(t ua.TypeID) (model.Type, bool) {
	switch t {
	case ua.TypeIDBoolean:
		return model.Bool, true
	case ua.TypeIDSByte:
		return model.Int8, true
	case ua.TypeIDByte:
		return model.Uint8, true
	case ua.TypeIDInt16:
		return model.Int16, true
	case ua.TypeIDUint16:
		return model.Uint16, true
	case ua.TypeIDInt32:
		return model.Int32, true
	case ua.TypeIDUint32:
		return model.Uint32, true
	case ua.TypeIDInt64, ua.TypeIDDateTime:
		return model.Int64, true
	case ua.TypeIDUint64, ua.TypeIDStatusCode:
		return model.Uint64, true
	case ua.TypeIDFloat:
		return model.Float32, true
	case ua.TypeIDDouble:
		return model.Float64, true
	case ua.TypeIDString, ua.TypeIDLocalizedText:
		return model.String, true
	}
	// Abstract numeric types (Number, Integer, UInteger) and enumerations
	// read as their concrete values; float64 holds any of them.
	switch t {
	case 26, 27, 28: // Number, Integer, UInteger
		return model.Float64, true
	case 29: // Enumeration
		return model.Int32, true
	}
	return model.TypeInvalid, false
}

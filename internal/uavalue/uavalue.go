// Package uavalue converts otlink's values to OPC UA variants, for the
// OPC UA client driver (writes) and otlink's OPC UA server (reads,
// subscriptions, history): one mapping of tag types to UA built-in types.
package uavalue

import (
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/model"
)

// Variant is v as the variant of its type's OPC UA built-in type (Int16
// for int16, Double for float64...), nil for a value of no known type.
func Variant(v model.Value) *ua.Variant {
	var x any
	switch v.T {
	case model.Bool:
		x = v.Bool()
	case model.Int8:
		x = int8(v.Int())
	case model.Uint8:
		x = uint8(v.Uint())
	case model.Int16:
		x = int16(v.Int())
	case model.Uint16:
		x = uint16(v.Uint())
	case model.Int32:
		x = int32(v.Int())
	case model.Uint32:
		x = uint32(v.Uint())
	case model.Int64:
		x = v.Int()
	case model.Uint64:
		x = v.Uint()
	case model.Float32:
		x = float32(v.Float())
	case model.Float64:
		x = v.Float()
	case model.String:
		x = v.Str()
	default:
		return nil
	}
	return ua.MustVariant(x)
}

package uaserver

import (
	"math"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/model"
)

// fromVariant converts a written variant to a value of type t. Numbers of
// any numeric type are accepted when they convert exactly enough (an
// integer tag takes an integral number), as clients often send a Double.
func fromVariant(x *ua.Variant, t model.Type) (model.Value, bool) {
	if x == nil {
		return model.Value{}, false
	}
	if t == model.String {
		s, ok := x.Value().(string)
		return model.StringValue(s), ok
	}
	var f float64
	var i int64
	var u uint64
	isInt, isUint := false, false
	switch y := x.Value().(type) {
	case bool:
		if t != model.Bool {
			return model.Value{}, false
		}
		return model.BoolValue(y), true
	case int8:
		i, isInt = int64(y), true
	case int16:
		i, isInt = int64(y), true
	case int32:
		i, isInt = int64(y), true
	case int64:
		i, isInt = y, true
	case uint8:
		u, isUint = uint64(y), true
	case uint16:
		u, isUint = uint64(y), true
	case uint32:
		u, isUint = uint64(y), true
	case uint64:
		u, isUint = y, true
	case float32:
		f = float64(y)
	case float64:
		f = y
	default:
		return model.Value{}, false
	}
	switch {
	case isInt:
		f = float64(i)
	case isUint:
		f = float64(u)
		i = int64(u)
	}
	switch {
	case t == model.Bool:
		return model.Value{}, false
	case t.IsFloat():
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return model.Value{}, false
		}
		return model.FloatValue(t, f), true
	case !isInt && !isUint && (f != math.Trunc(f) || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62):
		return model.Value{}, false // a fraction for an integer tag
	case !isInt && !isUint:
		i, u = int64(f), uint64(max(f, 0))
	}
	if t.IsSigned() {
		if isUint && u > math.MaxInt64 {
			return model.Value{}, false
		}
		return model.IntValue(t, i), true
	}
	if (isInt || !isUint) && (i < 0 || f < 0) {
		return model.Value{}, false
	}
	if isInt {
		u = uint64(i)
	}
	return model.UintValue(t, u), true
}

package opcua

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// The block a poll-mode Read returns holds one 16-byte slot per node, in
// the order of the points' Start, followed by the bytes of string values:
//
//	off  size  field
//	0    4     OPC UA StatusCode of the value, little-endian
//	4    1     kind: 0 none, 1 bool, 2 signed, 3 unsigned, 4 float, 5 string, 6 unsupported
//	5    3     zero
//	8    8     value, little-endian: bool 0/1, int64, uint64, float64 bits;
//	           for a string, the offset (low 4 bytes) and length (high 4
//	           bytes) of its UTF-8 bytes in the block
//
// Fixed slots let a codec find a point's value in O(1) from its offset,
// so decoding a block of 500 nodes costs 500 steps, not 500².
const slotSize = 16

// Kinds of slot values.
const (
	kindNone byte = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindString
	kindUnsupported
)

// scalar is a decoded OPC UA value, before conversion to a tag type.
type scalar struct {
	kind byte
	bits uint64
	s    string
}

// fromVariant turns a gopcua variant value into a scalar.
func fromVariant(v *ua.Variant) scalar {
	if v == nil {
		return scalar{}
	}
	switch x := v.Value().(type) {
	case nil:
		return scalar{}
	case bool:
		if x {
			return scalar{kind: kindBool, bits: 1}
		}
		return scalar{kind: kindBool}
	case int8:
		return scalar{kind: kindInt, bits: uint64(int64(x))}
	case int16:
		return scalar{kind: kindInt, bits: uint64(int64(x))}
	case int32:
		return scalar{kind: kindInt, bits: uint64(int64(x))}
	case int64:
		return scalar{kind: kindInt, bits: uint64(x)}
	case uint8:
		return scalar{kind: kindUint, bits: uint64(x)}
	case uint16:
		return scalar{kind: kindUint, bits: uint64(x)}
	case uint32:
		return scalar{kind: kindUint, bits: uint64(x)}
	case uint64:
		return scalar{kind: kindUint, bits: x}
	case float32:
		return scalar{kind: kindFloat, bits: math.Float64bits(float64(x))}
	case float64:
		return scalar{kind: kindFloat, bits: math.Float64bits(x)}
	case string:
		return scalar{kind: kindString, s: x}
	case *ua.LocalizedText:
		if x == nil {
			return scalar{kind: kindString}
		}
		return scalar{kind: kindString, s: x.Text}
	case time.Time:
		// DateTime tags are carried as Unix nanoseconds.
		return scalar{kind: kindInt, bits: uint64(x.UnixNano())}
	case ua.StatusCode:
		return scalar{kind: kindUint, bits: uint64(x)}
	}
	return scalar{kind: kindUnsupported}
}

// appendSlot appends one slot for (status, value) to block; string bytes
// go to heap, whose final offset in the block is heapBase.
func appendSlot(block []byte, status ua.StatusCode, v scalar, heap *[]byte, heapBase int) []byte {
	var s [slotSize]byte
	binary.LittleEndian.PutUint32(s[0:], uint32(status))
	s[4] = v.kind
	bits := v.bits
	if v.kind == kindString {
		bits = uint64(heapBase+len(*heap)) | uint64(len(v.s))<<32
		*heap = append(*heap, v.s...)
	}
	binary.LittleEndian.PutUint64(s[8:], bits)
	return append(block, s[:]...)
}

// readSlot decodes slot i of block.
func readSlot(block []byte, i uint32) (ua.StatusCode, scalar, error) {
	at := uint64(i) * slotSize
	if at+slotSize > uint64(len(block)) {
		return 0, scalar{}, errcode.New(errcode.UAMalformed, "value block of %d bytes has no slot %d", len(block), i)
	}
	s := block[at : at+slotSize]
	st := ua.StatusCode(binary.LittleEndian.Uint32(s))
	v := scalar{kind: s[4], bits: binary.LittleEndian.Uint64(s[8:])}
	switch v.kind {
	case kindNone, kindBool, kindInt, kindUint, kindFloat, kindUnsupported:
	case kindString:
		off, n := uint64(uint32(v.bits)), v.bits>>32
		if off+n > uint64(len(block)) {
			return 0, scalar{}, errcode.New(errcode.UAMalformed, "string of slot %d runs past the block (%d+%d > %d)", i, off, n, len(block))
		}
		v.s, v.bits = string(block[off:off+n]), 0
	default:
		return 0, scalar{}, errcode.New(errcode.UAMalformed, "slot %d has unknown value kind %d", i, v.kind)
	}
	return st, v, nil
}

// convert turns a scalar into a value of tag type t. Out-of-range
// integers and non-numeric strings are refused rather than wrapped: a
// wrapped counter would be a wrong value stored as good.
func convert(v scalar, t model.Type) (model.Value, error) {
	mismatch := func(what string) (model.Value, error) {
		return model.Value{}, errcode.New(errcode.UATypeMismatch, "%s does not fit tag type %s", what, t)
	}
	switch v.kind {
	case kindNone:
		return mismatch("an empty value")
	case kindUnsupported:
		return mismatch("an array, structure or unsupported built-in type")
	}
	if t == model.String {
		switch v.kind {
		case kindString:
			return model.StringValue(v.s), nil
		case kindBool:
			return model.StringValue(strconv.FormatBool(v.bits != 0)), nil
		case kindInt:
			return model.StringValue(strconv.FormatInt(int64(v.bits), 10)), nil
		case kindUint:
			return model.StringValue(strconv.FormatUint(v.bits, 10)), nil
		case kindFloat:
			return model.StringValue(strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 64)), nil
		}
	}
	// Numbers and bools: go through int64/uint64/float64 exactly.
	var (
		f        float64
		i        int64
		u        uint64
		isInt    bool
		isUint   bool
		fromBool bool
	)
	switch v.kind {
	case kindBool:
		u, isUint, fromBool = v.bits&1, true, true
	case kindInt:
		i, isInt = int64(v.bits), true
	case kindUint:
		u, isUint = v.bits, true
	case kindFloat:
		f = math.Float64frombits(v.bits)
	case kindString:
		if t == model.Bool {
			b, err := strconv.ParseBool(v.s)
			if err != nil {
				return mismatch("string " + strconv.Quote(v.s))
			}
			return model.BoolValue(b), nil
		}
		x, err := strconv.ParseFloat(v.s, 64)
		if err != nil {
			return mismatch("string " + strconv.Quote(v.s))
		}
		f = x
	}
	_ = fromBool
	switch {
	case t == model.Bool:
		switch {
		case isInt:
			return model.BoolValue(i != 0), nil
		case isUint:
			return model.BoolValue(u != 0), nil
		}
		return model.BoolValue(f != 0), nil
	case t.IsFloat():
		x := f
		switch {
		case isInt:
			x = float64(i)
		case isUint:
			x = float64(u)
		}
		if t == model.Float32 {
			x = float64(float32(x))
		}
		return model.FloatValue(t, x), nil
	case t.IsSigned():
		bits := uint(t.Bits())
		lo, hi := -int64(1)<<(bits-1), int64(1)<<(bits-1)-1
		switch {
		case isInt:
		case isUint:
			if u > uint64(math.MaxInt64) {
				return mismatch(strconv.FormatUint(u, 10))
			}
			i = int64(u)
		default:
			if f != math.Trunc(f) || f < float64(lo) || f >= -float64(lo) {
				return mismatch(strconv.FormatFloat(f, 'g', -1, 64))
			}
			i = int64(f)
		}
		if i < lo || i > hi {
			return mismatch(strconv.FormatInt(i, 10))
		}
		return model.IntValue(t, i), nil
	case t.IsUnsigned():
		bits := uint(t.Bits())
		hi := uint64(math.MaxUint64)
		if bits < 64 {
			hi = uint64(1)<<bits - 1
		}
		switch {
		case isUint:
		case isInt:
			if i < 0 {
				return mismatch(strconv.FormatInt(i, 10))
			}
			u = uint64(i)
		default:
			if f != math.Trunc(f) || f < 0 || f >= 18446744073709551616.0 {
				return mismatch(strconv.FormatFloat(f, 'g', -1, 64))
			}
			u = uint64(f)
		}
		if u > hi {
			return mismatch(strconv.FormatUint(u, 10))
		}
		return model.UintValue(t, u), nil
	}
	return mismatch("a value")
}

// codec decodes slots into values of one tag type. One codec per type is
// shared by all points (see codecs).
type codec struct{ typ model.Type }

var codecs [model.String + 1]*codec

func init() {
	for t := range codecs {
		codecs[t] = &codec{typ: model.Type(t)}
	}
}

func codecFor(t model.Type) *codec {
	if int(t) < len(codecs) {
		return codecs[t]
	}
	return codecs[model.TypeInvalid]
}

// Decode implements driver.Codec. A bad status becomes an error with code
// UABadStatus naming the status; an uncertain value is returned as a value
// (the block encoding carries no quality to the engine).
func (c *codec) Decode(block []byte, off uint32) (model.Value, error) {
	st, v, err := readSlot(block, off)
	if err != nil {
		return model.Value{}, err
	}
	if model.Quality(st).IsBad() {
		return model.Value{}, errcode.New(errcode.UABadStatus, "server returned %s", statusName(st))
	}
	return convert(v, c.typ)
}

// scalarOf is v as a scalar; false for a value of no known type.
func scalarOf(v model.Value) (scalar, bool) {
	switch {
	case v.T == model.Bool:
		s := scalar{kind: kindBool}
		if v.Bool() {
			s.bits = 1
		}
		return s, true
	case v.T.IsSigned():
		return scalar{kind: kindInt, bits: uint64(v.Int())}, true
	case v.T.IsUnsigned():
		return scalar{kind: kindUint, bits: v.Uint()}, true
	case v.T.IsFloat():
		return scalar{kind: kindFloat, bits: math.Float64bits(v.Float())}, true
	case v.T == model.String:
		return scalar{kind: kindString, s: v.String()}, true
	}
	return scalar{}, false
}

// Encode implements driver.Codec: the slot of a good value. Writes use the
// node's data type instead (see variantFor); Encode exists for the codec
// contract and tests.
func (c *codec) Encode(v model.Value) ([]byte, error) {
	if v.T != c.typ {
		return nil, errcode.New(errcode.UATypeMismatch, "value of type %s for a %s tag", v.T, c.typ)
	}
	s, ok := scalarOf(v)
	if !ok {
		return nil, errcode.New(errcode.UATypeMismatch, "no encoding for type %s", v.T)
	}
	var heap []byte
	b := appendSlot(nil, ua.StatusOK, s, &heap, slotSize)
	return append(b, heap...), nil
}

// statusName names a status code for messages: "BadNodeIdUnknown (0x80340000)".
func statusName(st ua.StatusCode) string {
	return st.Error()
}

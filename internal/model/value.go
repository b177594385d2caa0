package model

import (
	"encoding/json"
	"math"
	"strconv"
)

// Value is a typed tag value. It is a small comparable struct so that
// samples can be passed and stored without allocation for numbers.
// Integers are kept as int64/uint64 bit patterns, floats as float64 bits.
type Value struct {
	T    Type
	bits uint64
	s    string
}

// BoolValue returns a bool Value.
func BoolValue(b bool) Value {
	if b {
		return Value{T: Bool, bits: 1}
	}
	return Value{T: Bool}
}

// IntValue returns a signed integer Value of type t (Int8..Int64).
func IntValue(t Type, v int64) Value { return Value{T: t, bits: uint64(v)} }

// UintValue returns an unsigned integer Value of type t (Uint8..Uint64).
func UintValue(t Type, v uint64) Value { return Value{T: t, bits: v} }

// FloatValue returns a float Value of type t (Float32 or Float64).
func FloatValue(t Type, v float64) Value { return Value{T: t, bits: math.Float64bits(v)} }

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{T: String, s: s} }

// IsValid reports whether v holds a value.
func (v Value) IsValid() bool { return v.T != TypeInvalid }

// Bool returns the value as a bool (non-zero numbers are true).
func (v Value) Bool() bool {
	switch {
	case v.T == String:
		return v.s != ""
	case v.T.IsFloat():
		return v.Float() != 0
	}
	return v.bits != 0
}

// Int returns the value as an int64, truncating floats.
func (v Value) Int() int64 {
	switch {
	case v.T.IsFloat():
		return int64(math.Float64frombits(v.bits))
	case v.T == String:
		n, _ := strconv.ParseInt(v.s, 10, 64)
		return n
	}
	return int64(v.bits)
}

// Uint returns the value as a uint64, truncating floats.
func (v Value) Uint() uint64 {
	switch {
	case v.T.IsFloat():
		return uint64(math.Float64frombits(v.bits))
	case v.T == String:
		n, _ := strconv.ParseUint(v.s, 10, 64)
		return n
	}
	return v.bits
}

// Float returns the value as a float64.
func (v Value) Float() float64 {
	switch {
	case v.T.IsFloat():
		return math.Float64frombits(v.bits)
	case v.T.IsSigned():
		return float64(int64(v.bits))
	case v.T == String:
		f, _ := strconv.ParseFloat(v.s, 64)
		return f
	}
	return float64(v.bits)
}

// Str returns the value as a string (the text of a string value, or the
// formatted number).
func (v Value) Str() string {
	if v.T == String {
		return v.s
	}
	return v.String()
}

// String formats the value for people and logs.
func (v Value) String() string {
	switch {
	case v.T == TypeInvalid:
		return "<none>"
	case v.T == Bool:
		return strconv.FormatBool(v.bits != 0)
	case v.T.IsSigned():
		return strconv.FormatInt(int64(v.bits), 10)
	case v.T.IsUnsigned():
		return strconv.FormatUint(v.bits, 10)
	case v.T == Float32:
		return strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 32)
	case v.T == Float64:
		return strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 64)
	}
	return v.s
}

// Equal reports whether v and w have the same type and value.
// Float NaNs compare equal to themselves so that an unchanged NaN is not
// reported as a change.
func (v Value) Equal(w Value) bool { return v == w }

// MarshalJSON encodes numbers and bools as JSON numbers and bools; NaN and
// infinities, which JSON cannot hold, become strings.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case v.T == TypeInvalid:
		return []byte("null"), nil
	case v.T == String:
		return json.Marshal(v.s)
	case v.T.IsFloat():
		f := math.Float64frombits(v.bits)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return json.Marshal(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return []byte(v.String()), nil
}

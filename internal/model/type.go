package model

import "fmt"

// Type is the data type of a tag's value.
type Type uint8

// The tag data types. The zero Type is invalid so that a forgotten type is caught.
const (
	TypeInvalid Type = iota
	Bool
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	String
)

var typeNames = [...]string{
	TypeInvalid: "invalid",
	Bool:        "bool",
	Int8:        "int8",
	Int16:       "int16",
	Int32:       "int32",
	Int64:       "int64",
	Uint8:       "uint8",
	Uint16:      "uint16",
	Uint32:      "uint32",
	Uint64:      "uint64",
	Float32:     "float32",
	Float64:     "float64",
	String:      "string",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseType returns the Type named s ("bool", "int16", "float32", ...).
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if i != 0 && n == s {
			return Type(i), true
		}
	}
	return TypeInvalid, false
}

// TypeNames lists the valid type names in order, for messages and schemas.
func TypeNames() []string { return append([]string(nil), typeNames[1:]...) }

// Bits returns the width of a numeric or bool type in bits, 0 for strings.
func (t Type) Bits() int {
	switch t {
	case Bool:
		return 1
	case Int8, Uint8:
		return 8
	case Int16, Uint16:
		return 16
	case Int32, Uint32, Float32:
		return 32
	case Int64, Uint64, Float64:
		return 64
	}
	return 0
}

// IsSigned reports whether t is a signed integer type.
func (t Type) IsSigned() bool { return t >= Int8 && t <= Int64 }

// IsUnsigned reports whether t is an unsigned integer type.
func (t Type) IsUnsigned() bool { return t >= Uint8 && t <= Uint64 }

// IsFloat reports whether t is float32 or float64.
func (t Type) IsFloat() bool { return t == Float32 || t == Float64 }

// IsNumeric reports whether t is an integer or float type.
func (t Type) IsNumeric() bool { return t >= Int8 && t <= Float64 }

package pg

import (
	"math"
	"unicode/utf8"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// row is one sample as stored: the value is split over three nullable
// columns so that SQL users (Grafana) read numbers as numbers.
//
//	v_num  double precision: bools (0/1), floats, and integers that a
//	       double holds exactly; also an approximation of larger integers
//	       so that numeric queries see every numeric sample.
//	v_int  bigint: 64-bit integers beyond ±2^53 exactly (uint64 above
//	       MaxInt64 as its two's complement bit pattern, read back by vtype).
//	v_text text: strings.
type row struct {
	seriesID int32
	source   int64
	vtype    int16
	num      *float64
	intv     *int64
	text     *string
	quality  int32 // OPC UA StatusCode bits; int4 holds them as signed
	code     int16 // otlink error code bits
	server   int64
}

// exact2p53 is the largest magnitude below which every integer is exact
// in a float64.
const exact2p53 = 1 << 53

func encodeValue(v model.Value) (num *float64, intv *int64, text *string) {
	switch {
	case v.T == model.TypeInvalid:
		return nil, nil, nil
	case v.T == model.String:
		s := v.String()
		return nil, nil, &s
	case v.T == model.Bool, v.T.IsFloat():
		f := v.Float()
		return &f, nil, nil
	case v.T.IsSigned():
		n := v.Int()
		f := float64(n)
		if n > -exact2p53 && n < exact2p53 {
			return &f, nil, nil
		}
		return &f, &n, nil
	case v.T.IsUnsigned():
		u := v.Uint()
		f := float64(u)
		if u < exact2p53 {
			return &f, nil, nil
		}
		n := int64(u)
		return &f, &n, nil
	}
	return nil, nil, nil
}

func decodeValue(t model.Type, num *float64, intv *int64, text *string) model.Value {
	switch {
	case t == model.String:
		if text == nil {
			return model.StringValue("")
		}
		return model.StringValue(*text)
	case t == model.Bool:
		return model.BoolValue(num != nil && *num != 0)
	case t.IsFloat():
		if num == nil {
			return model.FloatValue(t, math.NaN())
		}
		return model.FloatValue(t, *num)
	case t.IsSigned():
		if intv != nil {
			return model.IntValue(t, *intv)
		}
		if num != nil {
			return model.IntValue(t, int64(*num))
		}
	case t.IsUnsigned():
		if intv != nil {
			return model.UintValue(t, uint64(*intv))
		}
		if num != nil {
			return model.UintValue(t, uint64(*num))
		}
	}
	return model.Value{}
}

// textOK reports whether PostgreSQL text can hold s: valid UTF-8 without NUL.
func textOK(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}

func checkSample(i int, s *model.Sample) error {
	if s.Tag == "" {
		return errcode.New(errcode.PGValue, "sample %d has an empty tag", i)
	}
	if !textOK(s.Tag) {
		return errcode.New(errcode.PGValue, "tag %q of sample %d has a NUL byte or invalid UTF-8", s.Tag, i)
	}
	if s.Value.T == model.String && !textOK(s.Value.String()) {
		return errcode.New(errcode.PGValue, "string value of %s at %d has a NUL byte or invalid UTF-8", s.Tag, s.Source)
	}
	if s.Value.T > model.String {
		return errcode.New(errcode.PGValue, "value of %s at %d has unknown type %d", s.Tag, s.Source, s.Value.T)
	}
	return nil
}

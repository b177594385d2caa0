package modbus

import (
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// codec decodes and encodes a tag's units. Register values are taken
// from the wire (big-endian per register), then the byte order swaps the
// two bytes of each register and the word order says whether the first
// register is the most (big) or least (little) significant.
//
// A codec holds no position: the engine passes the point's offset within
// the block. It is immutable, and Resolve shares one per encoding (see
// sharedCodec), so 300,000 tags cost a handful of codecs, not 300,000.
type codec struct {
	typ       model.Type
	table     uint32
	count     uint32 // units: bits or registers
	bit       int    // bit of a register, -1 for none
	swapBytes bool
	swapWords bool
	length    int // string characters
}

func (c *codec) word(b []byte, i int) uint16 {
	w := uint16(b[2*i])<<8 | uint16(b[2*i+1])
	if c.swapBytes {
		w = bits.ReverseBytes16(w)
	}
	return w
}

func (c *codec) putWord(b []byte, i int, w uint16) {
	if c.swapBytes {
		w = bits.ReverseBytes16(w)
	}
	b[2*i], b[2*i+1] = byte(w>>8), byte(w)
}

// wide combines n registers into an integer according to the word order.
func (c *codec) wide(b []byte, n int) uint64 {
	var v uint64
	for i := 0; i < n; i++ {
		j := i
		if c.swapWords {
			j = n - 1 - i
		}
		v = v<<16 | uint64(c.word(b, j))
	}
	return v
}

func (c *codec) putWide(b []byte, n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		j := i
		if c.swapWords {
			j = n - 1 - i
		}
		c.putWord(b, j, uint16(v))
		v >>= 16
	}
}

// Decode implements driver.Codec: the point's first unit is unit off of
// block.
func (c *codec) Decode(block []byte, off uint32) (model.Value, error) {
	if isBitTable(c.table) {
		if int(off/8) >= len(block) {
			return model.Value{}, errcode.New(errcode.ModbusMalformed, "bit block of %d bytes does not hold bit %d", len(block), off)
		}
		return model.BoolValue(block[off/8]>>(off%8)&1 == 1), nil
	}
	end := 2 * (uint64(off) + uint64(c.count))
	if end > uint64(len(block)) {
		return model.Value{}, errcode.New(errcode.ModbusMalformed, "register block of %d bytes does not hold units %d..%d of it", len(block), off, uint64(off)+uint64(c.count)-1)
	}
	b := block[2*off : end]
	switch c.typ {
	case model.Bool:
		w := c.word(b, 0)
		if c.bit >= 0 {
			return model.BoolValue(w>>c.bit&1 == 1), nil
		}
		return model.BoolValue(w != 0), nil
	case model.Int8:
		return model.IntValue(c.typ, int64(int8(c.word(b, 0)))), nil
	case model.Uint8:
		return model.UintValue(c.typ, uint64(uint8(c.word(b, 0)))), nil
	case model.Int16:
		return model.IntValue(c.typ, int64(int16(c.word(b, 0)))), nil
	case model.Uint16:
		return model.UintValue(c.typ, uint64(c.word(b, 0))), nil
	case model.Int32:
		return model.IntValue(c.typ, int64(int32(c.wide(b, 2)))), nil
	case model.Uint32:
		return model.UintValue(c.typ, c.wide(b, 2)), nil
	case model.Float32:
		return model.FloatValue(c.typ, float64(math.Float32frombits(uint32(c.wide(b, 2))))), nil
	case model.Int64:
		return model.IntValue(c.typ, int64(c.wide(b, 4))), nil
	case model.Uint64:
		return model.UintValue(c.typ, c.wide(b, 4)), nil
	case model.Float64:
		return model.FloatValue(c.typ, math.Float64frombits(c.wide(b, 4))), nil
	case model.String:
		var raw [2 * maxStringRegs]byte
		s := raw[:0]
		for i := 0; i < int(c.count); i++ {
			w := c.word(b, i)
			s = append(s, byte(w>>8), byte(w))
		}
		s = s[:c.length]
		return model.StringValue(strings.TrimRight(string(s), "\x00 ")), nil
	}
	return model.Value{}, errcode.New(errcode.ModbusTypeMismatch, "type %s has no modbus codec", c.typ)
}

// codecs holds the shared codecs by encoding. The set is small and
// bounded (tables x types x orders x bits x string lengths), so it is
// never pruned. A plain map, not a sync.Map, whose interface keys would
// allocate on every lookup of a 300,000-tag resolve.
var codecs = struct {
	sync.Mutex
	m map[codec]*codec
}{m: map[codec]*codec{}}

// sharedCodec returns the one codec for the encoding c describes.
func sharedCodec(c codec) *codec {
	codecs.Lock()
	defer codecs.Unlock()
	sc, ok := codecs.m[c]
	if !ok {
		sc = new(codec)
		*sc = c
		codecs.m[c] = sc
	}
	return sc
}

// Encode implements driver.Codec: coils give one packed bit, registers
// their wire bytes. For a bit or byte of a register it gives the register
// with only the tag's part set; Write merges it with a read (see mask).
func (c *codec) Encode(v model.Value) ([]byte, error) {
	if isBitTable(c.table) {
		if v.Bool() {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	}
	out := make([]byte, 2*c.count)
	switch c.typ {
	case model.Bool:
		var w uint16
		if c.bit >= 0 {
			if v.Bool() {
				w = 1 << c.bit
			}
		} else if v.Bool() {
			w = 1
		}
		c.putWord(out, 0, w)
	case model.Int8, model.Int16, model.Int32, model.Int64:
		n, err := signed(v, c.typ)
		if err != nil {
			return nil, err
		}
		if c.typ == model.Int8 {
			n &= 0xFF
		}
		c.putWide(out, int(c.count), uint64(n))
	case model.Uint8, model.Uint16, model.Uint32, model.Uint64:
		n, err := unsigned(v, c.typ)
		if err != nil {
			return nil, err
		}
		c.putWide(out, int(c.count), n)
	case model.Float32:
		c.putWide(out, 2, uint64(math.Float32bits(float32(v.Float()))))
	case model.Float64:
		c.putWide(out, 4, math.Float64bits(v.Float()))
	case model.String:
		s := v.Str()
		if len(s) > c.length {
			return nil, errcode.New(errcode.ModbusValueOutOfRange, "string of %d bytes does not fit %d characters", len(s), c.length)
		}
		raw := make([]byte, 2*c.count)
		copy(raw, s)
		for i := 0; i < int(c.count); i++ {
			c.putWord(out, i, uint16(raw[2*i])<<8|uint16(raw[2*i+1]))
		}
	default:
		return nil, errcode.New(errcode.ModbusTypeMismatch, "type %s has no modbus codec", c.typ)
	}
	return out, nil
}

// mask returns the bits of the register (as a value, after byte order)
// the tag owns, or 0xFFFF when it owns the whole register(s).
func (c *codec) mask() uint16 {
	switch {
	case c.typ == model.Bool && c.bit >= 0:
		return 1 << c.bit
	case c.typ == model.Int8 || c.typ == model.Uint8:
		return 0x00FF
	}
	return 0xFFFF
}

func signed(v model.Value, t model.Type) (int64, error) {
	var n int64
	switch {
	case v.T.IsUnsigned():
		if v.Uint() > math.MaxInt64 {
			return 0, outOfRange(v, t)
		}
		n = int64(v.Uint())
	case v.T.IsFloat():
		f := v.Float()
		if math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, outOfRange(v, t)
		}
		n = int64(f)
	default:
		n = v.Int()
	}
	lim := int64(1) << (t.Bits() - 1)
	if t.Bits() < 64 && (n < -lim || n >= lim) {
		return 0, outOfRange(v, t)
	}
	return n, nil
}

func unsigned(v model.Value, t model.Type) (uint64, error) {
	var n uint64
	switch {
	case v.T.IsSigned():
		if v.Int() < 0 {
			return 0, outOfRange(v, t)
		}
		n = uint64(v.Int())
	case v.T.IsFloat():
		f := v.Float()
		if math.IsNaN(f) || f < 0 || f >= math.MaxUint64 {
			return 0, outOfRange(v, t)
		}
		n = uint64(f)
	default:
		n = v.Uint()
	}
	if t.Bits() < 64 && n >= 1<<t.Bits() {
		return 0, outOfRange(v, t)
	}
	return n, nil
}

func outOfRange(v model.Value, t model.Type) error {
	return errcode.New(errcode.ModbusValueOutOfRange, "value %s does not fit %s", v, t)
}

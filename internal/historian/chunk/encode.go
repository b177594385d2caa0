package chunk

import (
	"encoding/binary"
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Encoder builds one chunk of one tag and one value type. It keeps the
// samples column by column until Finish, so that it can choose the best
// coding of each column (time unit, delta order, float mode) for the whole
// chunk. It is not safe for concurrent use.
type Encoder struct {
	tag  string
	typ  model.Type
	ts   []int64
	srv  []int64
	vals []int64  // numeric and bool values: int64 bits, float64 bits
	strs []string // string values
	runs []qrun

	scratch []uint64 // int column coding
	xbuf    []byte   // the XOR candidate of a float column
	dbuf    []byte   // the decimal candidate of a float column
}

type qrun struct {
	n       uint32
	q       model.Quality
	code    uint16
	noValue bool
}

// NewEncoder returns an encoder for samples of tag whose values have type
// typ. Samples without a value (bad quality, nothing read) fit any chunk.
func NewEncoder(tag string, typ model.Type) *Encoder {
	return &Encoder{tag: tag, typ: typ}
}

// Reset empties e for a new chunk of tag and typ, keeping its buffers.
func (e *Encoder) Reset(tag string, typ model.Type) {
	e.tag, e.typ = tag, typ
	e.ts, e.srv, e.vals, e.strs, e.runs = e.ts[:0], e.srv[:0], e.vals[:0], e.strs[:0], e.runs[:0]
}

// Tag returns the chunk's tag path.
func (e *Encoder) Tag() string { return e.tag }

// Type returns the chunk's value type.
func (e *Encoder) Type() model.Type { return e.typ }

// Len returns the number of samples appended.
func (e *Encoder) Len() int { return len(e.ts) }

// MinT returns the source time of the first sample (0 when empty).
func (e *Encoder) MinT() int64 {
	if len(e.ts) == 0 {
		return 0
	}
	return e.ts[0]
}

// MaxT returns the source time of the last sample (0 when empty).
func (e *Encoder) MaxT() int64 {
	if len(e.ts) == 0 {
		return 0
	}
	return e.ts[len(e.ts)-1]
}

// Append adds s. It fails with HistChunkType when s has a value of
// another type (the caller seals this chunk and starts one for the new
// type), with HistChunkOrder when s is older than the last sample or of
// another tag, and with HistChunkFull at MaxSamples.
func (e *Encoder) Append(s model.Sample) error {
	if s.Tag != "" && s.Tag != e.tag {
		return errcode.New(errcode.HistChunkOrder, "append sample of %q to chunk of %q", s.Tag, e.tag)
	}
	if !e.typ.IsNumeric() && e.typ != model.Bool && e.typ != model.String {
		return errcode.New(errcode.HistChunkType, "chunk of %s has no valid value type %s", e.tag, e.typ)
	}
	noValue := !s.Value.IsValid()
	if !noValue && s.Value.T != e.typ {
		return errcode.New(errcode.HistChunkType, "append %s value to %s chunk of %s", s.Value.T, e.typ, e.tag)
	}
	n := len(e.ts)
	if n >= MaxSamples {
		return errcode.New(errcode.HistChunkFull, "chunk of %s holds %d samples", e.tag, n)
	}
	if n > 0 && s.Source < e.ts[n-1] {
		return errcode.New(errcode.HistChunkOrder, "sample of %s at %d is older than the chunk's last at %d", e.tag, s.Source, e.ts[n-1])
	}
	e.ts = append(e.ts, s.Source)
	e.srv = append(e.srv, s.Server-s.Source)
	if k := len(e.runs); k > 0 && e.runs[k-1].q == s.Quality && e.runs[k-1].code == s.Code && e.runs[k-1].noValue == noValue {
		e.runs[k-1].n++
	} else {
		e.runs = append(e.runs, qrun{n: 1, q: s.Quality, code: s.Code, noValue: noValue})
	}
	if e.typ == model.String {
		v := s.Value.Str()
		if noValue {
			v = ""
			if n > 0 {
				v = e.strs[n-1]
			}
		}
		e.strs = append(e.strs, v)
		return nil
	}
	var x int64
	switch {
	case noValue:
		// Repeat the previous slot so that the column stays cheap.
		if n > 0 {
			x = e.vals[n-1]
		}
	case e.typ.IsFloat():
		x = int64(math.Float64bits(s.Value.Float()))
	case e.typ == model.Bool:
		if s.Value.Bool() {
			x = 1
		}
	case e.typ.IsSigned():
		x = s.Value.Int()
	default:
		x = int64(s.Value.Uint())
	}
	e.vals = append(e.vals, x)
	return nil
}

// Bytes returns the chunk of the samples appended so far; the encoder can
// go on appending. Finish is the same; it names the usual last call.
func (e *Encoder) Bytes() []byte { return e.appendChunk(nil) }

// Finish returns the encoded chunk.
func (e *Encoder) Finish() []byte { return e.Bytes() }

// AppendTo appends the encoded chunk to dst, so a writer can reuse a buffer.
func (e *Encoder) AppendTo(dst []byte) []byte { return e.appendChunk(dst) }

func (e *Encoder) appendChunk(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = binary.AppendUvarint(dst, uint64(len(e.tag)))
	dst = append(dst, e.tag...)
	dst = e.appendCol(dst, func(b []byte) []byte { return appendIntColScratch(b, e.ts, &e.scratch) })
	dst = e.appendCol(dst, func(b []byte) []byte { return appendIntColScratch(b, e.srv, &e.scratch) })
	dst = e.appendCol(dst, e.appendRuns)
	dst = e.appendCol(dst, e.appendValues)
	c := dst[start:]
	putHeader(c, header{typ: uint8(e.typ), count: uint32(len(e.ts)), minT: e.MinT(), maxT: e.MaxT(),
		payloadLen: uint32(len(c) - HeaderSize)})
	binary.LittleEndian.PutUint32(c[32:], checksum(c))
	return dst
}

// appendCol writes a column with a uvarint length prefix. The length is
// not known in advance, so the column is written after a 3-byte gap that
// is closed up when the varint is shorter.
func (e *Encoder) appendCol(dst []byte, f func([]byte) []byte) []byte {
	at := len(dst)
	dst = f(dst)
	n := len(dst) - at
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(n))
	dst = append(dst, lb[:k]...)
	copy(dst[at+k:], dst[at:at+n])
	copy(dst[at:], lb[:k])
	return dst
}

func (e *Encoder) appendRuns(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e.runs)))
	for _, r := range e.runs {
		dst = binary.AppendUvarint(dst, uint64(r.n))
		dst = binary.AppendUvarint(dst, uint64(r.q))
		f := uint64(r.code) << 1
		if r.noValue {
			f |= 1
		}
		dst = binary.AppendUvarint(dst, f)
	}
	return dst
}

func (e *Encoder) appendValues(dst []byte) []byte {
	if len(e.ts) == 0 {
		return dst
	}
	switch {
	case e.typ == model.String:
		return e.appendStrings(dst)
	case e.typ == model.Bool:
		return appendBoolRuns(dst, e.vals)
	case e.typ.IsFloat():
		return e.appendFloats(dst)
	}
	return appendIntColScratch(dst, e.vals, &e.scratch)
}

// appendBoolRuns writes the first value as a byte, then the lengths of the
// alternating runs as uvarints.
func appendBoolRuns(dst []byte, vs []int64) []byte {
	dst = append(dst, byte(vs[0]))
	run := uint64(1)
	for i := 1; i < len(vs); i++ {
		if vs[i] == vs[i-1] {
			run++
			continue
		}
		dst = binary.AppendUvarint(dst, run)
		run = 1
	}
	return binary.AppendUvarint(dst, run)
}

func (e *Encoder) appendStrings(dst []byte) []byte {
	idx := make(map[string]uint64)
	var dict []string
	for _, s := range e.strs {
		if _, ok := idx[s]; !ok {
			idx[s] = uint64(len(dict))
			dict = append(dict, s)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(dict)))
	for _, s := range dict {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	run := uint64(1)
	for i := 1; i <= len(e.strs); i++ {
		if i < len(e.strs) && e.strs[i] == e.strs[i-1] {
			run++
			continue
		}
		dst = binary.AppendUvarint(dst, idx[e.strs[i-1]])
		dst = binary.AppendUvarint(dst, run)
		run = 1
	}
	return dst
}

// decimalDigits returns d such that every value is exactly n/10^d for an
// integer n with |n| ≤ 2^53, and those integers; ok is false when no d ≤
// maxDecimalDigits works. Values from decimal text (5 significant digits)
// or from scaled integer registers are of this kind, and as integers they
// cost a few bits where XOR costs tens.
//
// With mul, the value is n × 10^-d (the float64 nearest to 10^-d) rather
// than n / 10^d: that is how a scaled register (raw × 0.1) comes out, and
// the two differ in the last bit for some n.
func decimalDigits(vals []int64, ns []int64, mul bool) (uint8, []int64, bool) {
	d := 0
	for _, b := range vals {
		f := math.Float64frombits(uint64(b))
		for !isDecimal(f, d, mul) {
			d++
			if d > maxDecimalDigits {
				return 0, nil, false
			}
		}
	}
	p := float64(pow10[d])
	ns = ns[:0]
	for _, b := range vals {
		f := math.Float64frombits(uint64(b))
		if !isDecimal(f, d, mul) {
			return 0, nil, false
		}
		ns = append(ns, int64(math.Round(f*p)))
	}
	return uint8(d), ns, true
}

func isDecimal(f float64, d int, mul bool) bool {
	p := float64(pow10[d])
	x := math.Round(f * p)
	if !(math.Abs(x) <= 1<<53) {
		return false // also NaN and infinities
	}
	if mul {
		return math.Float64bits(x*negPow10[d]) == math.Float64bits(f)
	}
	return math.Float64bits(x/p) == math.Float64bits(f)
}

// negPow10[d] is the float64 nearest to 10^-d.
var negPow10 = [maxDecimalDigits + 1]float64{1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9}

func (e *Encoder) appendFloats(dst []byte) []byte {
	ns := make([]int64, 0, len(e.vals))
	// A decimal chunk (decimal text, a scaled register) is usually best
	// as integers, but a float32 of a large magnitude is a decimal too,
	// of 9 digits with noisy last ones: it competes with the others.
	e.dbuf = e.dbuf[:0]
	if d, ns, ok := decimalDigits(e.vals, ns, false); ok {
		e.dbuf = append(e.dbuf, floatDecimal, d)
		e.dbuf = appendIntColScratch(e.dbuf, ns, &e.scratch)
	} else if d, ns, ok := decimalDigits(e.vals, ns, true); ok {
		e.dbuf = append(e.dbuf, floatDecimalMul, d)
		e.dbuf = appendIntColScratch(e.dbuf, ns, &e.scratch)
	}
	if n := len(e.dbuf); n > 0 && n <= 2+len(e.vals)/4 {
		return append(dst, e.dbuf...) // under 2 bits a value: take it
	}
	// Values that survive a float32 round trip (a float32 tag, or a
	// float64 one fed from float32 registers) are coded over their 32-bit
	// patterns. Of XOR and the ordered int column, the shorter is kept:
	// XOR wins on random mantissas, the ordered deltas on noisy analogues.
	f32 := allFloat32(e.vals)
	ns = ns[:0]
	for _, b := range e.vals {
		if f32 {
			ns = append(ns, ord32(math.Float32bits(float32(math.Float64frombits(uint64(b))))))
		} else {
			ns = append(ns, ord64(uint64(b)))
		}
	}
	at := len(dst)
	ordMode := byte(floatOrd64)
	if f32 {
		ordMode = floatOrd32
	}
	dst = append(dst, ordMode)
	dst = appendIntColScratch(dst, ns, &e.scratch)
	ordLen := len(dst) - at

	w := xorWriter{width: 64, field: 6}
	mode := byte(floatXOR64)
	if f32 {
		w.width, w.field, mode = 32, 5, floatXOR32
	}
	e.xbuf = append(e.xbuf[:0], mode)
	bw := bitWriter{b: e.xbuf}
	w.w = &bw
	for _, b := range e.vals {
		if f32 {
			w.add(uint64(math.Float32bits(float32(math.Float64frombits(uint64(b))))))
		} else {
			w.add(uint64(b))
		}
	}
	e.xbuf = bw.bytes()
	if len(e.xbuf) < ordLen {
		dst = append(dst[:at], e.xbuf...)
	}
	if n := len(e.dbuf); n > 0 && n < len(dst)-at {
		dst = append(dst[:at], e.dbuf...)
	}
	return dst
}

// allFloat32 reports whether every value survives a float32 round trip bit
// for bit (a Float32 tag's values normally do; NaN payloads may not).
func allFloat32(vals []int64) bool {
	for _, b := range vals {
		f := math.Float64frombits(uint64(b))
		if math.Float64bits(float64(float32(f))) != uint64(b) {
			return false
		}
	}
	return true
}

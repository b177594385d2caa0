package chunk

import (
	"encoding/binary"
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Reader is a decoded chunk header with its columns located; the samples
// are decoded by an Iter. A Reader refers to the bytes given to Decode,
// which must not change while it is used.
type Reader struct {
	version    uint8
	tag        string
	typ        model.Type
	n          int
	minT, maxT int64
	ts, srv    []byte
	runs       []byte // after the run count
	nruns      int
	vals       []byte
	dict       []string
}

// Decode checks a chunk's header and checksum and locates its columns.
// Damaged or truncated input gives an error with code HistChunkCorrupt,
// HistChunkTruncated or HistChunkVersion, never a panic; what it allocates
// is bounded by len(data).
func Decode(data []byte) (*Reader, error) {
	if len(data) < HeaderSize {
		return nil, errTrunc("header")
	}
	if [4]byte(data[0:4]) != magic {
		return nil, errCorrupt("bad magic %q", data[0:4])
	}
	if data[4] != Version && data[4] != 1 {
		return nil, errcode.New(errcode.HistChunkVersion, "chunk format version %d, this otlink reads 1 and %d", data[4], Version)
	}
	plen := binary.LittleEndian.Uint32(data[28:])
	if uint64(plen) != uint64(len(data)-HeaderSize) {
		if uint64(plen) > uint64(len(data)-HeaderSize) {
			return nil, errTrunc("payload")
		}
		return nil, errCorrupt("%d bytes after a %d-byte payload", len(data)-HeaderSize-int(plen), plen)
	}
	if got, want := checksum(data), binary.LittleEndian.Uint32(data[32:]); got != want {
		return nil, errCorrupt("checksum %08x, header says %08x", got, want)
	}
	r := &Reader{
		version: data[4],
		typ:     model.Type(data[5]),
		n:       int(binary.LittleEndian.Uint32(data[8:])),
		minT:    int64(binary.LittleEndian.Uint64(data[12:])),
		maxT:    int64(binary.LittleEndian.Uint64(data[20:])),
	}
	if data[6] != 0 || data[7] != 0 {
		return nil, errCorrupt("reserved header bytes set")
	}
	if r.typ == model.TypeInvalid || r.typ > model.String {
		return nil, errCorrupt("value type %d", data[5])
	}
	p := data[HeaderSize:]
	// The count bounds the iteration; what Decode allocates is bounded by
	// the payload's length.
	if r.n > MaxSamples {
		return nil, errCorrupt("%d samples in %d bytes", r.n, len(p))
	}
	i := 0
	tl, err := uvarint(p, &i, "tag length")
	if err != nil {
		return nil, err
	}
	if tl > MaxTagLen || tl > uint64(len(p)-i) {
		return nil, errCorrupt("tag length %d", tl)
	}
	r.tag = string(p[i : i+int(tl)])
	i += int(tl)
	if r.ts, err = column(p, &i, "source times"); err != nil {
		return nil, err
	}
	if r.srv, err = column(p, &i, "server times"); err != nil {
		return nil, err
	}
	runs, err := column(p, &i, "qualities")
	if err != nil {
		return nil, err
	}
	if r.vals, err = column(p, &i, "values"); err != nil {
		return nil, err
	}
	if i != len(p) {
		return nil, errCorrupt("%d bytes after the last column", len(p)-i)
	}
	if err := r.checkRuns(runs); err != nil {
		return nil, err
	}
	if r.n == 0 {
		if len(r.ts)+len(r.srv)+len(r.vals) != 0 {
			return nil, errCorrupt("columns in an empty chunk")
		}
		return r, nil
	}
	if r.typ == model.String {
		if err := r.readDict(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) checkRuns(b []byte) error {
	j := 0
	nr, err := uvarint(b, &j, "quality run count")
	if err != nil {
		return err
	}
	if nr > uint64(r.n) {
		return errCorrupt("%d quality runs for %d samples", nr, r.n)
	}
	r.nruns = int(nr)
	r.runs = b[j:]
	total := uint64(0)
	for range nr {
		n, err := uvarint(b, &j, "quality run")
		if err != nil {
			return err
		}
		q, err := uvarint(b, &j, "quality")
		if err != nil {
			return err
		}
		f, err := uvarint(b, &j, "quality code")
		if err != nil {
			return err
		}
		if n == 0 || q > math.MaxUint32 || f>>1 > math.MaxUint16 {
			return errCorrupt("quality run %d/%d/%d", n, q, f)
		}
		total += n
		if total > uint64(r.n) {
			break
		}
	}
	if total != uint64(r.n) || j != len(b) {
		return errCorrupt("quality runs cover %d of %d samples", total, r.n)
	}
	return nil
}

func (r *Reader) readDict() error {
	b := r.vals
	j := 0
	nd, err := uvarint(b, &j, "dictionary size")
	if err != nil {
		return err
	}
	if nd == 0 || nd > uint64(r.n) || nd > uint64(len(b)) {
		return errCorrupt("dictionary of %d strings", nd)
	}
	r.dict = make([]string, nd)
	for k := range r.dict {
		l, err := uvarint(b, &j, "dictionary entry length")
		if err != nil {
			return err
		}
		if l > uint64(len(b)-j) {
			return errTrunc("dictionary entry")
		}
		r.dict[k] = string(b[j : j+int(l)])
		j += int(l)
	}
	r.vals = b[j:]
	return nil
}

// Tag returns the tag path stored in the chunk.
func (r *Reader) Tag() string { return r.tag }

// Type returns the chunk's value type.
func (r *Reader) Type() model.Type { return r.typ }

// Len returns the number of samples.
func (r *Reader) Len() int { return r.n }

// MinT returns the first sample's source time.
func (r *Reader) MinT() int64 { return r.minT }

// MaxT returns the last sample's source time.
func (r *Reader) MaxT() int64 { return r.maxT }

// Samples decodes all samples into dst (appending) and returns it.
func (r *Reader) Samples(dst []model.Sample) ([]model.Sample, error) {
	it := r.Iter()
	for it.Next() {
		dst = append(dst, it.At())
	}
	return dst, it.Err()
}

// Iter returns an iterator over the samples in time order.
func (r *Reader) Iter() *Iter {
	it := &Iter{}
	it.Reset(r)
	return it
}

// Iter decodes a chunk's samples one by one without allocating.
type Iter struct {
	r       *Reader
	i       int
	ts, srv intColReader
	vi      intColReader
	xr      xorReader
	fmode   byte
	fdiv    float64
	fmul    float64
	runs    []byte
	runLeft uint64
	q       model.Quality
	code    uint16
	noValue bool
	vrun    uint64 // bool and string runs: samples left in the run
	vcur    int64  // bool value or dictionary index
	vb      []byte // bool and string run bytes
	cur     model.Sample
	err     error
}

// Reset points it at the start of r, reusing it.
func (it *Iter) Reset(r *Reader) {
	*it = Iter{r: r, runs: r.runs}
	if r.n == 0 {
		return
	}
	maxOrd, maxMode := uint8(maxOrder), byte(floatOrd64)
	if r.version == 1 {
		maxOrd, maxMode = 2, floatDecimalMul
	}
	if err := it.ts.init(r.ts, maxOrd); err != nil {
		it.err = err
		return
	}
	if err := it.srv.init(r.srv, maxOrd); err != nil {
		it.err = err
		return
	}
	it.cur.Tag = r.tag
	v := r.vals
	switch {
	case r.typ == model.Bool:
		if len(v) < 1 || v[0] > 1 {
			it.err = errCorrupt("bool column")
			return
		}
		it.vcur, it.vb = int64(v[0])^1, v[1:] // flipped back on the first run
	case r.typ == model.String:
		it.vb, it.vcur = v, -1
	case r.typ.IsFloat():
		if len(v) < 1 {
			it.err = errTrunc("float column")
			return
		}
		it.fmode = v[0]
		if v[0] > maxMode {
			it.err = errCorrupt("float column mode %d in a version %d chunk", v[0], r.version)
			return
		}
		switch v[0] {
		case floatOrd32, floatOrd64:
			it.err = it.vi.init(v[1:], maxOrd)
		case floatXOR64:
			it.xr = xorReader{br: newBitReader(v[1:]), width: 64, field: 6}
		case floatXOR32:
			it.xr = xorReader{br: newBitReader(v[1:]), width: 32, field: 5}
		case floatDecimal, floatDecimalMul:
			if len(v) < 2 || v[1] > maxDecimalDigits {
				it.err = errCorrupt("decimal float column")
				return
			}
			it.fdiv = float64(pow10[v[1]])
			it.fmul = negPow10[v[1]]
			it.err = it.vi.init(v[2:], maxOrd)
		default:
			it.err = errCorrupt("float column mode %d", v[0])
		}
	default:
		it.err = it.vi.init(v, maxOrd)
	}
}

// Next advances to the next sample; it returns false at the end or on
// error (see Err).
func (it *Iter) Next() bool {
	if it.err != nil || it.i >= it.r.n {
		return false
	}
	it.i++
	s := &it.cur
	s.Source = it.ts.next()
	s.Server = s.Source + it.srv.next()
	if it.runLeft == 0 {
		// Runs were validated by Decode.
		n, k1 := binary.Uvarint(it.runs)
		q, k2 := binary.Uvarint(it.runs[k1:])
		f, k3 := binary.Uvarint(it.runs[k1+k2:])
		j := k1 + k2 + k3
		it.runs = it.runs[j:]
		it.runLeft, it.q, it.code, it.noValue = n, model.Quality(q), uint16(f>>1), f&1 != 0
	}
	it.runLeft--
	s.Quality, s.Code = it.q, it.code
	t := it.r.typ
	switch {
	case t == model.Bool:
		if it.vrun == 0 {
			if !it.nextRun(false) {
				return false
			}
		}
		it.vrun--
		s.Value = model.BoolValue(it.vcur != 0)
	case t == model.String:
		if it.vrun == 0 {
			if !it.nextRun(true) {
				return false
			}
		}
		it.vrun--
		s.Value = model.StringValue(it.r.dict[it.vcur])
	case t.IsFloat():
		var f float64
		if it.fmode == floatDecimal {
			f = float64(it.vi.next()) / it.fdiv
		} else if it.fmode == floatDecimalMul {
			f = float64(it.vi.next()) * it.fmul
		} else if it.fmode == floatOrd32 {
			f = float64(math.Float32frombits(uint32(ord32(uint32(it.vi.next())))))
		} else if it.fmode == floatOrd64 {
			f = math.Float64frombits(uint64(ord64(uint64(it.vi.next()))))
		} else if it.fmode == floatXOR32 {
			f = float64(math.Float32frombits(uint32(it.xr.next())))
		} else {
			f = math.Float64frombits(it.xr.next())
		}
		s.Value = model.FloatValue(t, f)
	case t.IsSigned():
		s.Value = model.IntValue(t, it.vi.next())
	default:
		s.Value = model.UintValue(t, uint64(it.vi.next()))
	}
	if it.ts.br.eof || it.srv.br.eof || it.vi.br.eof || it.xr.br.eof {
		it.err = errTrunc("sample bits")
		return false
	}
	if it.noValue {
		s.Value = model.Value{}
	}
	return true
}

// nextRun reads the next bool or string run.
func (it *Iter) nextRun(str bool) bool {
	j := 0
	if str {
		k, n := binary.Uvarint(it.vb)
		if n <= 0 || k >= uint64(len(it.r.dict)) {
			it.err = errCorrupt("string run index")
			return false
		}
		j, it.vcur = n, int64(k)
	} else {
		it.vcur ^= 1
	}
	l, n := binary.Uvarint(it.vb[j:])
	if n <= 0 || l == 0 || l > uint64(it.r.n) {
		it.err = errCorrupt("value run length")
		return false
	}
	it.vb = it.vb[j+n:]
	it.vrun = l
	return true
}

// At returns the current sample.
func (it *Iter) At() model.Sample { return it.cur }

// Current returns the current sample in place, valid until the next call
// of Next or Reset; the caller must not modify it. A merge of many
// iterators reads through it without copying each sample.
func (it *Iter) Current() *model.Sample { return &it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *Iter) Err() error { return it.err }

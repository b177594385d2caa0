package bus

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// SchemaVersion is the first byte of every encoded batch. A change that an
// older decoder would misread gets a new version; the subject's "v1" names
// the subject layout, not this byte.
const SchemaVersion = 1

// SchemaHeader is the value of the Otl-Schema header on samples messages.
const SchemaHeader = "samples/1"

// Decoder limits. They bound what a hostile or broken message can make the
// decoder allocate: every length is checked against them and against the
// bytes that remain before anything is allocated.
const (
	MaxNameLen    = 1024    // device and class names
	MaxTagLen     = 4096    // a tag path
	MaxStringLen  = 1 << 20 // a string value
	MaxSamples    = 1 << 20 // samples in one batch
	minSampleSize = 7       // prefix, suffix length, type, quality, source, server, code: one byte each at least
)

// AppendBatch appends the schema v1 encoding of b to dst and returns the
// extended slice. It does not fail: every model.Batch has an encoding.
func AppendBatch(dst []byte, b *model.Batch) []byte {
	dst = append(dst, SchemaVersion)
	dst = appendString(dst, b.Device)
	dst = appendString(dst, b.Class)
	dst = binary.AppendUvarint(dst, b.Seq)
	dst = binary.AppendVarint(dst, b.Start)
	dst = binary.AppendVarint(dst, b.End-b.Start)
	dst = binary.AppendUvarint(dst, b.Missed)
	dst = binary.AppendUvarint(dst, uint64(len(b.Samples)))
	prev := ""
	for i := range b.Samples {
		s := &b.Samples[i]
		// Tags of one device share most of their path, so each tag is
		// sent as the length it shares with the previous one plus the rest.
		p := commonPrefix(prev, s.Tag)
		dst = binary.AppendUvarint(dst, uint64(p))
		dst = appendString(dst, s.Tag[p:])
		prev = s.Tag
		dst = appendValue(dst, s.Value)
		dst = binary.AppendUvarint(dst, uint64(s.Quality))
		dst = binary.AppendVarint(dst, s.Source-b.Start)
		dst = binary.AppendVarint(dst, s.Server-s.Source)
		dst = binary.AppendUvarint(dst, uint64(s.Code))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendValue(dst []byte, v model.Value) []byte {
	dst = append(dst, byte(v.T))
	switch {
	case v.T == model.TypeInvalid:
	case v.T == model.Bool:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case v.T.IsSigned():
		return binary.AppendVarint(dst, v.Int())
	case v.T.IsUnsigned():
		return binary.AppendUvarint(dst, v.Uint())
	case v.T.IsFloat():
		// Eight bytes for float32 too: a float32 tag may hold a scaled
		// value that float32 cannot represent exactly, and NaN payloads
		// and infinities must survive unchanged.
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case v.T == model.String:
		return appendString(dst, v.Str())
	}
	return dst
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// DecodeBatch decodes a schema v1 batch into b, reusing the capacity of
// b.Samples. Tag, device and short string values come from a pool of
// interning caches, so decoding a stream of similar batches allocates
// nothing in steady state. Errors carry codes OTL-3020..3023.
func DecodeBatch(data []byte, b *model.Batch) error {
	d := decoderPool.Get().(*Decoder)
	err := d.Decode(data, b)
	decoderPool.Put(d)
	return err
}

var decoderPool = sync.Pool{New: func() any { return NewDecoder() }}

// Decoder decodes batches and interns the strings it meets. One Decoder is
// not safe for concurrent use; keep one per consumer goroutine for the best
// reuse, or call DecodeBatch.
type Decoder struct {
	intern map[string]string
	tag    []byte // the previous tag, the base of the next one's prefix
}

// maxInterned bounds the cache; a plant has thousands of tags, not millions,
// and a cache that fills up (strings that keep changing) simply starts over.
const (
	maxInterned    = 1 << 14
	maxInternedLen = 256
)

// NewDecoder returns a Decoder with an empty cache.
func NewDecoder() *Decoder {
	return &Decoder{intern: make(map[string]string, 256)}
}

func (d *Decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxInternedLen {
		return string(b)
	}
	if s, ok := d.intern[string(b)]; ok { // no allocation: the compiler spots the lookup
		return s
	}
	if len(d.intern) >= maxInterned {
		clear(d.intern)
	}
	s := string(b)
	d.intern[s] = s
	return s
}

// reader walks data; the first error stops it and is kept.
type reader struct {
	data []byte
	pos  int
	err  error
	what string // what is being read, for messages
}

func (r *reader) fail(c errcode.Code, format string, args ...any) {
	if r.err == nil {
		r.err = errcode.New(c, format, args...)
	}
}

func (r *reader) truncated() {
	r.fail(errcode.BusDecodeTruncated, "samples batch truncated at byte %d reading %s", r.pos, r.what)
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data[r.pos:])
	if n <= 0 {
		if n == 0 {
			r.truncated()
		} else {
			r.fail(errcode.BusDecodeCorrupt, "samples batch has an overlong varint at byte %d reading %s", r.pos, r.what)
		}
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.data[r.pos:])
	if n <= 0 {
		if n == 0 {
			r.truncated()
		} else {
			r.fail(errcode.BusDecodeCorrupt, "samples batch has an overlong varint at byte %d reading %s", r.pos, r.what)
		}
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.data) {
		r.truncated()
		return 0
	}
	c := r.data[r.pos]
	r.pos++
	return c
}

// bytes reads a length-prefixed byte string of at most limit bytes. The
// slice aliases data.
func (r *reader) bytes(limit int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.fail(errcode.BusDecodeTooLong, "samples batch declares %d bytes for %s at byte %d, limit %d", n, r.what, r.pos, limit)
		return nil
	}
	if n > uint64(len(r.data)-r.pos) {
		r.truncated()
		return nil
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// Decode decodes one batch into b; see DecodeBatch.
func (d *Decoder) Decode(data []byte, b *model.Batch) error {
	r := reader{data: data, what: "version"}
	if len(data) == 0 {
		r.truncated()
		return r.err
	}
	if v := r.byte1(); v != SchemaVersion {
		return errcode.New(errcode.BusDecodeVersion, "samples batch has schema version %d, want %d", v, SchemaVersion)
	}
	r.what = "device"
	if dev := r.bytes(MaxNameLen); b.Device != string(dev) {
		b.Device = d.str(dev)
	}
	r.what = "class"
	if cls := r.bytes(MaxNameLen); b.Class != string(cls) {
		b.Class = d.str(cls)
	}
	r.what = "seq"
	b.Seq = r.uvarint()
	r.what = "start"
	b.Start = r.varint()
	r.what = "end"
	b.End = b.Start + r.varint()
	r.what = "missed"
	b.Missed = r.uvarint()
	r.what = "sample count"
	n := r.uvarint()
	if r.err != nil {
		return r.err
	}
	// Check the count against the bytes left before allocating for it.
	if n > MaxSamples {
		return errcode.New(errcode.BusDecodeTooLong, "samples batch declares %d samples, limit %d", n, MaxSamples)
	}
	if n > uint64((len(data)-r.pos)/minSampleSize) {
		r.truncated()
		return r.err
	}
	if cap(b.Samples) < int(n) {
		b.Samples = make([]model.Sample, int(n))
	}
	b.Samples = b.Samples[:n]
	d.tag = d.tag[:0]
	for i := range b.Samples {
		s := &b.Samples[i]
		r.what = "tag"
		p := r.uvarint()
		suffix := r.bytes(MaxTagLen)
		if r.err != nil {
			break
		}
		if p > uint64(len(d.tag)) {
			r.fail(errcode.BusDecodeCorrupt, "samples batch sample %d shares %d bytes with a previous tag of %d", i, p, len(d.tag))
			break
		}
		if int(p)+len(suffix) > MaxTagLen {
			r.fail(errcode.BusDecodeTooLong, "samples batch sample %d has a tag of %d bytes, limit %d", i, int(p)+len(suffix), MaxTagLen)
			break
		}
		d.tag = append(d.tag[:p], suffix...)
		s.Tag = d.str(d.tag)
		r.what = "value"
		s.Value = d.value(&r, i)
		r.what = "quality"
		q := r.uvarint()
		if q > math.MaxUint32 {
			r.fail(errcode.BusDecodeCorrupt, "samples batch sample %d has quality %#x beyond 32 bits", i, q)
		}
		s.Quality = model.Quality(q)
		r.what = "source time"
		s.Source = b.Start + r.varint()
		r.what = "server time"
		s.Server = s.Source + r.varint()
		r.what = "code"
		c := r.uvarint()
		if c > math.MaxUint16 {
			r.fail(errcode.BusDecodeCorrupt, "samples batch sample %d has error code %d beyond 16 bits", i, c)
		}
		s.Code = uint16(c)
		if r.err != nil {
			break
		}
	}
	if r.err != nil {
		b.Samples = b.Samples[:0]
		return r.err
	}
	if r.pos != len(data) {
		b.Samples = b.Samples[:0]
		return errcode.New(errcode.BusDecodeCorrupt, "samples batch has %d trailing bytes after its last sample", len(data)-r.pos)
	}
	return nil
}

func (d *Decoder) value(r *reader, i int) model.Value {
	t := model.Type(r.byte1())
	switch {
	case r.err != nil:
	case t == model.TypeInvalid:
	case t == model.Bool:
		switch r.byte1() {
		case 0:
			return model.BoolValue(false)
		case 1:
			return model.BoolValue(true)
		}
		if r.err == nil {
			r.fail(errcode.BusDecodeCorrupt, "samples batch sample %d has a bool that is neither 0 nor 1", i)
		}
	case t.IsSigned():
		return model.IntValue(t, r.varint())
	case t.IsUnsigned():
		return model.UintValue(t, r.uvarint())
	case t.IsFloat():
		if len(r.data)-r.pos < 8 {
			r.truncated()
			break
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.data[r.pos:]))
		r.pos += 8
		return model.FloatValue(t, f)
	case t == model.String:
		s := r.bytes(MaxStringLen)
		if r.err == nil {
			return model.StringValue(d.str(s))
		}
	default:
		r.fail(errcode.BusDecodeCorrupt, "samples batch sample %d has unknown value type %d", i, uint8(t))
	}
	return model.Value{}
}

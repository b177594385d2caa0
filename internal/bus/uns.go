package bus

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// PublishUNS publishes each sample of batch on the unified namespace: core
// NATS subject model.Subject(tag) (acme.taichung.machining.line1.cnc01.
// spindle_speed), which MQTT clients of the embedded listener see as topic
// acme/taichung/machining/line1/cnc01/spindle_speed. The payload is
// AppendUNSPayload's JSON. Nothing is stored: subscribers that are not
// listening miss the value, as with MQTT QoS 0. Samples whose path makes
// no valid subject are skipped and counted in Stats.UNSFailed; the error
// returned is the last one met.
func (b *Bus) PublishUNS(batch *model.Batch) error {
	if b.closed.Load() {
		return errcode.New(errcode.BusClosed, "publish unified namespace of %s: bus closed", batch.Device)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var last error
	for i := range batch.Samples {
		s := &batch.Samples[i]
		subj := b.unsSubject(s.Tag)
		if subj == "" {
			b.stats.unsFailed.Add(1)
			last = errcode.New(errcode.BusPublishFailed, "publish unified namespace of %s: tag path %q makes no valid subject", batch.Device, s.Tag)
			continue
		}
		*bp = AppendUNSPayload((*bp)[:0], s)
		// Publish copies the payload into the connection's buffer, so the
		// scratch buffer is free again when it returns.
		if err := b.nc.Publish(subj, *bp); err != nil {
			b.stats.unsFailed.Add(1)
			last = errcode.Wrap(errcode.BusPublishFailed, err, "publish unified namespace of %s", batch.Device)
			continue
		}
		b.stats.uns.Add(1)
	}
	return last
}

// unsSubject returns the tag's valid subject or "". Tags repeat every
// cycle, so the answers are kept (up to maxSubjects of them).
func (b *Bus) unsSubject(tag string) string {
	if v, ok := b.subjects.Load(tag); ok {
		return v.(string)
	}
	subj := model.Subject(tag)
	if !validSubject(subj) {
		subj = ""
	}
	if b.nSubjects.Load() < maxSubjects {
		if _, loaded := b.subjects.LoadOrStore(tag, subj); !loaded {
			b.nSubjects.Add(1)
		}
	}
	return subj
}

const maxSubjects = 1 << 16

func validSubject(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	// Wildcards and spaces are replaced by model.Subject; control bytes
	// would still break the protocol line.
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// AppendUNSPayload appends the JSON payload of a unified-namespace message:
//
//	{"v":1500,"q":"Good","t":1700000000000000000,"ts":"2023-11-14T22:13:20Z"}
//
// v is a JSON number, bool or string (NaN and infinities as the strings
// "NaN", "+Inf", "-Inf"; null when nothing was read), q the quality's OPC
// UA name, t the source time in Unix ns and ts the same time in RFC 3339
// (UTC). A sample with an otlink error code also has "code":"OTL-nnnn".
func AppendUNSPayload(dst []byte, s *model.Sample) []byte {
	dst = append(dst, `{"v":`...)
	dst = appendJSONValue(dst, s.Value)
	dst = append(dst, `,"q":`...)
	dst = appendJSONString(dst, s.Quality.String())
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, s.Source, 10)
	dst = append(dst, `,"ts":"`...)
	dst = time.Unix(0, s.Source).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if s.Code != 0 {
		dst = append(dst, `,"code":"`...)
		dst = append(dst, errcode.Code(s.Code).String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v model.Value) []byte {
	switch {
	case v.T == model.TypeInvalid:
		return append(dst, "null"...)
	case v.T == model.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case v.T.IsSigned():
		return strconv.AppendInt(dst, v.Int(), 10)
	case v.T.IsUnsigned():
		return strconv.AppendUint(dst, v.Uint(), 10)
	case v.T.IsFloat():
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			dst = append(dst, '"')
			dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
			return append(dst, '"')
		}
		bits := 64
		if v.T == model.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	}
	return appendJSONString(dst, v.Str())
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s for JSON: quotes, backslashes and control
// bytes escaped, invalid UTF-8 replaced by U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

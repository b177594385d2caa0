package chunk

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func seedChunks(f *testing.F) {
	ints := series(50, model.Int32, func(i int) model.Value { return model.IntValue(model.Int32, int64(i*i)) })
	ints[7].Quality, ints[7].Code, ints[7].Value = model.BadTimeout, 2102, model.Value{}
	f.Add(encode(f, model.Int32, ints))
	f.Add(encode(f, model.Float64, series(40, model.Float64, func(i int) model.Value { return model.FloatValue(model.Float64, math.Sqrt(float64(i))) })))
	f.Add(encode(f, model.Float64, series(40, model.Float64, func(i int) model.Value { return model.FloatValue(model.Float64, float64(i)/4) })))
	f.Add(encode(f, model.Float32, series(40, model.Float32, func(i int) model.Value { return model.FloatValue(model.Float32, float64(float32(i)/3)) })))
	f.Add(encode(f, model.Bool, series(40, model.Bool, func(i int) model.Value { return model.BoolValue(i%6 < 2) })))
	f.Add(encode(f, model.String, series(40, model.String, func(i int) model.Value { return model.StringValue([]string{"x", "yy"}[i/4%2]) })))
	f.Add(encode(f, model.Uint16, nil))
}

// fixup makes the length and checksum fields match, so that the fuzzer
// reaches the column decoders instead of stopping at the checksum.
func fixup(b []byte) []byte {
	if len(b) < HeaderSize {
		return b
	}
	c := append([]byte(nil), b...)
	copy(c, magic[:])
	c[4] = Version
	binary.LittleEndian.PutUint32(c[28:], uint32(len(c)-HeaderSize))
	binary.LittleEndian.PutUint32(c[32:], checksum(c))
	return c
}

func decodeUntrusted(t *testing.T, b []byte) {
	r, err := Decode(b)
	if err != nil {
		if errcode.Of(err) == 0 {
			t.Fatalf("error without a code: %v", err)
		}
		return
	}
	it := r.Iter()
	n := 0
	for it.Next() {
		n++
		s := it.At()
		if s.Source < r.MinT() && n == 1 && s.Source != r.MinT() {
			// Not an error: the header is not cross-checked; only
			// bounds and panics matter here.
			_ = s
		}
	}
	if n > r.Len() {
		t.Fatalf("iterated %d samples of %d", n, r.Len())
	}
	if err := it.Err(); err != nil && errcode.Of(err) == 0 {
		t.Fatalf("iteration error without a code: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	seedChunks(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeUntrusted(t, b)
		decodeUntrusted(t, fixup(b))
	})
}

// FuzzRoundTrip turns fuzz bytes into a sorted series of one type and
// checks that it decodes to exactly the samples encoded.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(11), []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"))
	f.Add(uint8(1), []byte("\xff\x00\xff\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"))
	f.Add(uint8(12), []byte("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"))
	f.Add(uint8(10), []byte("\x40\x49\x0f\xdb\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		ty := model.Type(typ%12 + 1)
		ss := samplesFromBytes(ty, b)
		e := NewEncoder(tagPath, ty)
		for _, s := range ss {
			if err := e.Append(s); err != nil {
				t.Fatal(err)
			}
		}
		checkSame(t, ss, decodeAll(t, e.Finish()))
		if LeafHash(tagPath, ss) != LeafHash(tagPath, decodeAll(t, e.Finish())) {
			t.Fatal("leaf hash changed by a round trip")
		}
	})
}

// samplesFromBytes reads records of 12 bytes: 4 of time step, 2 of server
// offset, 1 of quality choice, 5..8 of value.
func samplesFromBytes(ty model.Type, b []byte) []model.Sample {
	var ss []model.Sample
	ts := int64(binary.LittleEndian.Uint64(append(b[:min(len(b), 8):min(len(b), 8)], make([]byte, 8)...)))
	for len(b) >= 12 {
		rec := b[:12]
		b = b[12:]
		step := int64(binary.LittleEndian.Uint32(rec))
		if step&1 == 0 {
			step = 1e9 // mostly regular
		}
		if ts > math.MaxInt64-step {
			break
		}
		ts += step
		s := model.Sample{Source: ts, Server: ts + int64(int16(binary.LittleEndian.Uint16(rec[4:])))}
		switch rec[6] % 8 {
		case 0:
			s.Quality, s.Code = model.BadCommunicationError, uint16(rec[6])
		case 1:
			s.Quality = model.UncertainSensorNotAccurate
		}
		raw := binary.LittleEndian.Uint64(rec[4:])
		switch {
		case s.Quality.IsBad():
		case ty == model.Bool:
			s.Value = model.BoolValue(rec[7]&1 != 0)
		case ty == model.String:
			s.Value = model.StringValue(string(rec[7 : 7+rec[7]%6]))
		case ty == model.Float32:
			s.Value = model.FloatValue(ty, float64(math.Float32frombits(uint32(raw))))
		case ty == model.Float64:
			if rec[7]%2 == 0 {
				s.Value = model.FloatValue(ty, float64(int64(raw%100000))/100)
			} else {
				s.Value = model.FloatValue(ty, math.Float64frombits(raw))
			}
		case ty.IsSigned():
			s.Value = model.IntValue(ty, int64(raw))
		default:
			s.Value = model.UintValue(ty, raw)
		}
		ss = append(ss, s)
	}
	return ss
}

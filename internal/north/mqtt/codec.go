package mqtt

import (
	"encoding/binary"
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// encodeBatch writes a batch as a queue record: device, class, seq, then per
// sample tag, type, value, source, server, quality, code (uvarints and
// length-prefixed strings).
func encodeBatch(b *model.Batch) []byte {
	out := make([]byte, 0, 64+len(b.Samples)*48)
	str := func(s string) { out = binary.AppendUvarint(out, uint64(len(s))); out = append(out, s...) }
	str(b.Device)
	str(b.Class)
	out = binary.AppendUvarint(out, b.Seq)
	out = binary.AppendUvarint(out, uint64(len(b.Samples)))
	for i := range b.Samples {
		s := &b.Samples[i]
		str(s.Tag)
		out = append(out, byte(s.Value.T))
		switch {
		case s.Value.T == model.String:
			str(s.Value.Str())
		case s.Value.T == model.Bool:
			out = binary.AppendUvarint(out, uint64(s.Value.Uint()))
		case s.Value.T.IsFloat():
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(s.Value.Float()))
		case s.Value.T.IsSigned():
			out = binary.AppendVarint(out, s.Value.Int())
		case s.Value.IsValid():
			out = binary.AppendUvarint(out, s.Value.Uint())
		}
		out = binary.AppendVarint(out, s.Source)
		out = binary.AppendVarint(out, s.Server)
		out = binary.AppendUvarint(out, uint64(s.Quality))
		out = binary.AppendUvarint(out, uint64(s.Code))
	}
	return out
}

func decodeBatch(b []byte) (*model.Batch, error) {
	bad := errcode.New(errcode.NorthQueueCorrupt, "queue record is not a batch")
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			panic(bad)
		}
		b = b[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			panic(bad)
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if n > uint64(len(b)) {
			panic(bad)
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	var out model.Batch
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = bad
			}
		}()
		out.Device, out.Class, out.Seq = str(), str(), uv()
		n := uv()
		if n > uint64(len(b)) {
			panic(bad)
		}
		out.Samples = make([]model.Sample, n)
		for i := range out.Samples {
			s := &out.Samples[i]
			s.Tag = str()
			t := model.Type(b[0])
			b = b[1:]
			switch {
			case t == model.String:
				s.Value = model.StringValue(str())
			case t == model.Bool:
				s.Value = model.BoolValue(uv() != 0)
			case t.IsFloat():
				s.Value = model.FloatValue(t, math.Float64frombits(binary.LittleEndian.Uint64(b)))
				b = b[8:]
			case t.IsSigned():
				s.Value = model.IntValue(t, sv())
			case t != model.TypeInvalid:
				s.Value = model.UintValue(t, uv())
			}
			s.Source, s.Server = sv(), sv()
			s.Quality, s.Code = model.Quality(uv()), uint16(uv())
		}
	}()
	if err != nil {
		return nil, err
	}
	return &out, nil
}

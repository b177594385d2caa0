package sparkplug

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// DataType is the Sparkplug B metric datatype (sparkplug_b.proto DataType).
type DataType uint32

// The scalar datatypes otlink uses.
const (
	TypeUnknown DataType = 0
	TypeInt8    DataType = 1
	TypeInt16   DataType = 2
	TypeInt32   DataType = 3
	TypeInt64   DataType = 4
	TypeUInt8   DataType = 5
	TypeUInt16  DataType = 6
	TypeUInt32  DataType = 7
	TypeUInt64  DataType = 8
	TypeFloat   DataType = 9
	TypeDouble  DataType = 10
	TypeBoolean DataType = 11
	TypeString  DataType = 12
	// DateTime is Unix ms in long_value; Text and UUID are strings. otlink
	// reads them (as uint64 and string values) but never writes them.
	TypeDateTime DataType = 13
	TypeText     DataType = 14
	TypeUUID     DataType = 15
)

// Field numbers from sparkplug_b.proto.
const (
	fPayloadTimestamp = 1
	fPayloadMetrics   = 2
	fPayloadSeq       = 3
	fPayloadUUID      = 4

	fMetricName       = 1
	fMetricAlias      = 2
	fMetricTimestamp  = 3
	fMetricDatatype   = 4
	fMetricHistorical = 5
	fMetricIsNull     = 7
	fMetricProperties = 9
	fMetricInt        = 10
	fMetricLong       = 11
	fMetricFloat      = 12
	fMetricDouble     = 13
	fMetricBool       = 14
	fMetricString     = 15

	fPropSetKeys   = 1
	fPropSetValues = 2
	fPropType      = 1
	fPropIsNull    = 2
	fPropInt       = 3
)

// Ignition-style quality codes carried in the metric property "Quality"
// (an Int32); absent means good, so good values cost no bytes.
const (
	QualityBad       int32 = 0
	QualityUncertain int32 = 64
	QualityGood      int32 = 192
)

// Metric is one Sparkplug B metric. Value carries the datatype for the
// scalar types; Datatype is what goes on the wire.
type Metric struct {
	Name         string
	Alias        uint64
	HasAlias     bool
	Timestamp    uint64 // Unix ms
	Datatype     DataType
	IsHistorical bool
	IsNull       bool
	Value        model.Value
	Quality      int32 // QualityGood when the property is absent

	// The value as it came off the wire, kept when the metric carries no
	// datatype: Sparkplug sends datatypes only in births, so a host types
	// the metrics of NDATA/DDATA from the birth (Typed).
	raw      uint64
	rawStr   string
	rawField protowire.Number
}

// HasRaw reports whether the metric carried a value the decoder could not
// type (no datatype on the wire, as in most NDATA/DDATA).
func (m *Metric) HasRaw() bool { return m.rawField != 0 && !m.Value.IsValid() }

// Typed returns m decoded as datatype d, as a host does with a data
// message's metric and the datatype its birth declared. A metric whose
// value is already typed is returned unchanged.
func (m Metric) Typed(d DataType) (Metric, error) {
	if m.Value.IsValid() || m.rawField == 0 || m.IsNull {
		return m, nil
	}
	m.Datatype = d
	return m, m.decodeValue()
}

// Payload is a Sparkplug B payload.
type Payload struct {
	Timestamp uint64 // Unix ms
	Seq       uint64
	HasSeq    bool // NDEATH carries no seq
	UUID      string
	Metrics   []Metric
}

// TypeOf maps an otlink type to the Sparkplug datatype.
func TypeOf(t model.Type) DataType {
	switch t {
	case model.Bool:
		return TypeBoolean
	case model.Int8:
		return TypeInt8
	case model.Int16:
		return TypeInt16
	case model.Int32:
		return TypeInt32
	case model.Int64:
		return TypeInt64
	case model.Uint8:
		return TypeUInt8
	case model.Uint16:
		return TypeUInt16
	case model.Uint32:
		return TypeUInt32
	case model.Uint64:
		return TypeUInt64
	case model.Float32:
		return TypeFloat
	case model.Float64:
		return TypeDouble
	case model.String:
		return TypeString
	}
	return TypeUnknown
}

func modelType(d DataType) model.Type {
	switch d {
	case TypeBoolean:
		return model.Bool
	case TypeInt8:
		return model.Int8
	case TypeInt16:
		return model.Int16
	case TypeInt32:
		return model.Int32
	case TypeInt64:
		return model.Int64
	case TypeUInt8:
		return model.Uint8
	case TypeUInt16:
		return model.Uint16
	case TypeUInt32:
		return model.Uint32
	case TypeUInt64:
		return model.Uint64
	case TypeFloat:
		return model.Float32
	case TypeDouble:
		return model.Float64
	case TypeString, TypeText, TypeUUID:
		return model.String
	case TypeDateTime:
		return model.Uint64
	}
	return model.TypeInvalid
}

// Marshal appends the protobuf encoding of p to b.
func (p *Payload) Marshal(b []byte) []byte {
	b = protowire.AppendTag(b, fPayloadTimestamp, protowire.VarintType)
	b = protowire.AppendVarint(b, p.Timestamp)
	var m []byte
	for i := range p.Metrics {
		m = p.Metrics[i].marshal(m[:0])
		b = protowire.AppendTag(b, fPayloadMetrics, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	if p.HasSeq {
		b = protowire.AppendTag(b, fPayloadSeq, protowire.VarintType)
		b = protowire.AppendVarint(b, p.Seq)
	}
	if p.UUID != "" {
		b = protowire.AppendTag(b, fPayloadUUID, protowire.BytesType)
		b = protowire.AppendString(b, p.UUID)
	}
	return b
}

func appendVarintField(b []byte, n protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (m *Metric) marshal(b []byte) []byte {
	if m.Name != "" {
		b = protowire.AppendTag(b, fMetricName, protowire.BytesType)
		b = protowire.AppendString(b, m.Name)
	}
	if m.HasAlias {
		b = appendVarintField(b, fMetricAlias, m.Alias)
	}
	b = appendVarintField(b, fMetricTimestamp, m.Timestamp)
	b = appendVarintField(b, fMetricDatatype, uint64(m.Datatype))
	if m.IsHistorical {
		b = appendVarintField(b, fMetricHistorical, 1)
	}
	if m.IsNull || !m.Value.IsValid() {
		b = appendVarintField(b, fMetricIsNull, 1)
	}
	if m.Quality != QualityGood {
		// PropertySet{keys:["Quality"], values:[{type:Int32, int_value:q}]}
		var pv []byte
		pv = appendVarintField(pv, fPropType, uint64(TypeInt32))
		pv = appendVarintField(pv, fPropInt, uint64(uint32(m.Quality)))
		var ps []byte
		ps = protowire.AppendTag(ps, fPropSetKeys, protowire.BytesType)
		ps = protowire.AppendString(ps, "Quality")
		ps = protowire.AppendTag(ps, fPropSetValues, protowire.BytesType)
		ps = protowire.AppendBytes(ps, pv)
		b = protowire.AppendTag(b, fMetricProperties, protowire.BytesType)
		b = protowire.AppendBytes(b, ps)
	}
	if m.IsNull || !m.Value.IsValid() {
		return b
	}
	v := m.Value
	// Spec 3.0 §6.4.16: Int8..Int32, UInt8, UInt16 go in int_value (signed
	// values as two's complement in 32 bits); Int64, UInt32, UInt64 in
	// long_value.
	switch m.Datatype {
	case TypeInt8, TypeInt16, TypeInt32:
		b = appendVarintField(b, fMetricInt, uint64(uint32(int32(v.Int()))))
	case TypeUInt8, TypeUInt16:
		b = appendVarintField(b, fMetricInt, uint64(uint32(v.Uint())))
	case TypeInt64:
		b = appendVarintField(b, fMetricLong, uint64(v.Int()))
	case TypeUInt32, TypeUInt64, TypeDateTime:
		b = appendVarintField(b, fMetricLong, v.Uint())
	case TypeFloat:
		b = protowire.AppendTag(b, fMetricFloat, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(float32(v.Float())))
	case TypeDouble:
		b = protowire.AppendTag(b, fMetricDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case TypeBoolean:
		var x uint64
		if v.Bool() {
			x = 1
		}
		b = appendVarintField(b, fMetricBool, x)
	case TypeString, TypeText, TypeUUID:
		b = protowire.AppendTag(b, fMetricString, protowire.BytesType)
		b = protowire.AppendString(b, v.Str())
	}
	return b
}

func bad(format string, args ...any) error {
	return errcode.New(errcode.NorthSparkplugDecode, "decode sparkplug payload: "+format, args...)
}

// field reads one field: number, type, the varint value (for varint and
// fixed types) or the bytes, and the length consumed.
func field(b []byte) (num protowire.Number, typ protowire.Type, v uint64, bs []byte, n int, err error) {
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, 0, nil, 0, bad("bad tag: %v", protowire.ParseError(n))
	}
	b = b[n:]
	var m int
	switch typ {
	case protowire.VarintType:
		v, m = protowire.ConsumeVarint(b)
	case protowire.Fixed32Type:
		var x uint32
		x, m = protowire.ConsumeFixed32(b)
		v = uint64(x)
	case protowire.Fixed64Type:
		v, m = protowire.ConsumeFixed64(b)
	case protowire.BytesType:
		bs, m = protowire.ConsumeBytes(b)
	default:
		m = protowire.ConsumeFieldValue(num, typ, b)
	}
	if m < 0 {
		return 0, 0, 0, nil, 0, bad("field %d: %v", num, protowire.ParseError(m))
	}
	return num, typ, v, bs, n + m, nil
}

// Unmarshal decodes a Sparkplug B payload. Unknown fields are skipped, as
// protobuf requires; wrong wire types for known fields are errors.
func Unmarshal(b []byte) (*Payload, error) {
	p := &Payload{}
	for len(b) > 0 {
		num, typ, v, bs, n, err := field(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		switch {
		case num == fPayloadTimestamp && typ == protowire.VarintType:
			p.Timestamp = v
		case num == fPayloadSeq && typ == protowire.VarintType:
			p.Seq, p.HasSeq = v, true
		case num == fPayloadUUID && typ == protowire.BytesType:
			p.UUID = string(bs)
		case num == fPayloadMetrics && typ == protowire.BytesType:
			m, err := unmarshalMetric(bs)
			if err != nil {
				return nil, err
			}
			p.Metrics = append(p.Metrics, m)
		case num == 5 && typ == protowire.BytesType: // body: not used by otlink, skipped as the spec allows
		case num <= 5:
			return nil, bad("payload field %d has wire type %d", num, typ)
		}
	}
	return p, nil
}

func unmarshalMetric(b []byte) (Metric, error) {
	m := Metric{Quality: QualityGood}
	for len(b) > 0 {
		num, typ, v, bs, n, err := field(b)
		if err != nil {
			return m, err
		}
		b = b[n:]
		want := protowire.VarintType
		switch num {
		case fMetricName, fMetricString, fMetricProperties:
			want = protowire.BytesType
		case fMetricFloat:
			want = protowire.Fixed32Type
		case fMetricDouble:
			want = protowire.Fixed64Type
		}
		if num <= 19 && num != 8 && num < 16 && typ != want {
			return m, bad("metric field %d has wire type %d", num, typ)
		}
		switch num {
		case fMetricName:
			m.Name = string(bs)
		case fMetricAlias:
			m.Alias, m.HasAlias = v, true
		case fMetricTimestamp:
			m.Timestamp = v
		case fMetricDatatype:
			m.Datatype = DataType(v)
		case fMetricHistorical:
			m.IsHistorical = v != 0
		case fMetricIsNull:
			m.IsNull = v != 0
		case fMetricProperties:
			q, err := quality(bs)
			if err != nil {
				return m, err
			}
			m.Quality = q
		case fMetricInt, fMetricLong, fMetricFloat, fMetricDouble, fMetricBool:
			m.raw, m.rawField = v, num
		case fMetricString:
			m.rawStr, m.rawField = string(bs), num
		}
	}
	if m.IsNull || m.rawField == 0 || m.Datatype == TypeUnknown {
		return m, nil // untyped: the host types it from the birth
	}
	return m, m.decodeValue()
}

// decodeValue types the raw value by m.Datatype. Datatypes otlink has no
// value for (bytes, files, data sets, templates, arrays) leave Value
// invalid rather than fail the payload: one such metric must not cost the
// other metrics of the message.
func (m *Metric) decodeValue() error {
	raw := m.raw
	t := modelType(m.Datatype)
	want := protowire.Number(fMetricInt)
	switch m.Datatype {
	case TypeInt64, TypeUInt32, TypeUInt64, TypeDateTime:
		want = fMetricLong
	case TypeFloat:
		want = fMetricFloat
	case TypeDouble:
		want = fMetricDouble
	case TypeBoolean:
		want = fMetricBool
	case TypeString, TypeText, TypeUUID:
		want = fMetricString
	case TypeInt8, TypeInt16, TypeInt32, TypeUInt8, TypeUInt16:
	default:
		return nil
	}
	// Some edge nodes put small unsigned values in long_value and vice
	// versa; a number in the other integer field is accepted, a number
	// where text is expected is not.
	intField := func(f protowire.Number) bool { return f == fMetricInt || f == fMetricLong }
	if m.rawField != want && !(intField(m.rawField) && intField(want)) {
		return bad("metric %q: datatype %d carried in field %d", m.Name, m.Datatype, m.rawField)
	}
	switch m.Datatype {
	case TypeInt8, TypeInt16, TypeInt32:
		m.Value = model.IntValue(t, int64(int32(uint32(raw))))
	case TypeInt64:
		m.Value = model.IntValue(t, int64(raw))
	case TypeUInt8, TypeUInt16, TypeUInt32, TypeUInt64, TypeDateTime:
		m.Value = model.UintValue(t, raw)
	case TypeFloat:
		m.Value = model.FloatValue(t, float64(math.Float32frombits(uint32(raw))))
	case TypeDouble:
		m.Value = model.FloatValue(t, math.Float64frombits(raw))
	case TypeBoolean:
		m.Value = model.BoolValue(raw != 0)
	case TypeString, TypeText, TypeUUID:
		m.Value = model.StringValue(m.rawStr)
	}
	return nil
}

// quality finds the "Quality" property in a PropertySet.
func quality(b []byte) (int32, error) {
	var keys []string
	var vals []int32
	for len(b) > 0 {
		num, typ, _, bs, n, err := field(b)
		if err != nil {
			return 0, err
		}
		b = b[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case fPropSetKeys:
			keys = append(keys, string(bs))
		case fPropSetValues:
			q := QualityGood
			for len(bs) > 0 {
				pn, pt, pv, _, k, err := field(bs)
				if err != nil {
					return 0, err
				}
				bs = bs[k:]
				if pn == fPropInt && pt == protowire.VarintType {
					q = int32(uint32(pv))
				}
				_ = fPropIsNull
			}
			vals = append(vals, q)
		}
	}
	for i, k := range keys {
		if k == "Quality" && i < len(vals) {
			return vals[i], nil
		}
	}
	return QualityGood, nil
}

// QualityOf maps an OPC UA status code to the Sparkplug quality property.
func QualityOf(q model.Quality) int32 {
	switch q.Severity() {
	case "good":
		return QualityGood
	case "uncertain":
		return QualityUncertain
	}
	return QualityBad
}

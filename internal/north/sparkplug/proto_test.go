package sparkplug

// These tests hold the hand-written protowire codec to the Sparkplug B
// protobuf definition itself: sparkplug_b.proto is compiled at test time
// (protocompile, no generated code) and the official protobuf runtime
// (dynamicpb) reads what we write and writes what we read. Fields are
// looked up by name, never by number, so a wrong number in payload.go or a
// renumbered field in the .proto cannot agree with itself by accident.

import (
	"bytes"
	"context"
	"math"
	"sync"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/otlink/otlink/internal/model"
)

type spbSchema struct {
	dataType                       protoreflect.EnumDescriptor
	payload, metric, propSet, prop protoreflect.MessageDescriptor
	dataSet, dataSetValue, row     protoreflect.MessageDescriptor
	template, param, metaData      protoreflect.MessageDescriptor
	metricExt                      protoreflect.MessageDescriptor
}

var (
	schemaOnce sync.Once
	schema     spbSchema
	schemaErr  error
)

// loadSchema compiles sparkplug_b.proto once per test binary.
func loadSchema(t *testing.T) *spbSchema {
	t.Helper()
	schemaOnce.Do(func() {
		c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{}}
		fs, err := c.Compile(context.Background(), "sparkplug_b.proto")
		if err != nil {
			schemaErr = err
			return
		}
		f := fs[0]
		if f.Package() != "org.eclipse.tahu.protobuf" {
			schemaErr = errString("package is " + string(f.Package()))
			return
		}
		p := f.Messages().ByName("Payload")
		if p == nil {
			schemaErr = errString("no message Payload")
			return
		}
		ds := p.Messages().ByName("DataSet")
		tm := p.Messages().ByName("Template")
		m := p.Messages().ByName("Metric")
		schema = spbSchema{
			dataType: f.Enums().ByName("DataType"),
			payload:  p, metric: m,
			propSet: p.Messages().ByName("PropertySet"), prop: p.Messages().ByName("PropertyValue"),
			dataSet: ds, template: tm, metaData: p.Messages().ByName("MetaData"),
		}
		if ds != nil {
			schema.dataSetValue, schema.row = ds.Messages().ByName("DataSetValue"), ds.Messages().ByName("Row")
		}
		if tm != nil {
			schema.param = tm.Messages().ByName("Parameter")
		}
		if m != nil {
			schema.metricExt = m.Messages().ByName("MetricValueExtension")
		}
		for _, d := range []protoreflect.Descriptor{schema.dataType, schema.metric, schema.propSet, schema.prop,
			schema.dataSet, schema.dataSetValue, schema.row, schema.template, schema.param, schema.metaData, schema.metricExt} {
			if d == nil || d.IsPlaceholder() {
				schemaErr = errString("sparkplug_b.proto lacks a message or enum of the specification")
				return
			}
		}
	})
	if schemaErr != nil {
		t.Fatalf("compile sparkplug_b.proto: %v", schemaErr)
	}
	return &schema
}

type errString string

func (e errString) Error() string { return string(e) }

func fieldOf(t *testing.T, md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	t.Helper()
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		t.Fatalf("%s has no field %q", md.FullName(), name)
	}
	return fd
}

// dtNumber is the number of a DataType enum value, by its name in the spec.
func (s *spbSchema) dtNumber(t *testing.T, name string) uint32 {
	t.Helper()
	v := s.dataType.Values().ByName(protoreflect.Name(name))
	if v == nil {
		t.Fatalf("DataType has no value %q", name)
	}
	return uint32(v.Number())
}

// specTypeName is the spec's name of each datatype the Go codec knows,
// written out here rather than derived, so that a swapped constant shows.
var specTypeName = map[DataType]string{
	TypeUnknown: "Unknown", TypeInt8: "Int8", TypeInt16: "Int16", TypeInt32: "Int32", TypeInt64: "Int64",
	TypeUInt8: "UInt8", TypeUInt16: "UInt16", TypeUInt32: "UInt32", TypeUInt64: "UInt64",
	TypeFloat: "Float", TypeDouble: "Double", TypeBoolean: "Boolean", TypeString: "String",
	TypeDateTime: "DateTime", TypeText: "Text", TypeUUID: "UUID",
}

// valueField is the Metric.value member the spec (3.0, "Datatype Details")
// and Eclipse Tahu use for each datatype.
var valueField = map[DataType]string{
	TypeInt8: "int_value", TypeInt16: "int_value", TypeInt32: "int_value",
	TypeUInt8: "int_value", TypeUInt16: "int_value",
	TypeInt64: "long_value", TypeUInt32: "long_value", TypeUInt64: "long_value", TypeDateTime: "long_value",
	TypeFloat: "float_value", TypeDouble: "double_value", TypeBoolean: "boolean_value",
	TypeString: "string_value", TypeText: "string_value", TypeUUID: "string_value",
}

func TestProtoDataTypeAndFieldNumbers(t *testing.T) {
	s := loadSchema(t)
	for d, name := range specTypeName {
		if got := s.dtNumber(t, name); got != uint32(d) {
			t.Errorf("DataType %s is %d in the .proto, %d in payload.go", name, got, d)
		}
	}
	for _, c := range []struct {
		md   protoreflect.MessageDescriptor
		name string
		num  protowire.Number
		kind protoreflect.Kind
	}{
		{s.payload, "timestamp", fPayloadTimestamp, protoreflect.Uint64Kind},
		{s.payload, "metrics", fPayloadMetrics, protoreflect.MessageKind},
		{s.payload, "seq", fPayloadSeq, protoreflect.Uint64Kind},
		{s.payload, "uuid", fPayloadUUID, protoreflect.StringKind},
		{s.metric, "name", fMetricName, protoreflect.StringKind},
		{s.metric, "alias", fMetricAlias, protoreflect.Uint64Kind},
		{s.metric, "timestamp", fMetricTimestamp, protoreflect.Uint64Kind},
		{s.metric, "datatype", fMetricDatatype, protoreflect.Uint32Kind},
		{s.metric, "is_historical", fMetricHistorical, protoreflect.BoolKind},
		{s.metric, "is_null", fMetricIsNull, protoreflect.BoolKind},
		{s.metric, "properties", fMetricProperties, protoreflect.MessageKind},
		{s.metric, "int_value", fMetricInt, protoreflect.Uint32Kind},
		{s.metric, "long_value", fMetricLong, protoreflect.Uint64Kind},
		{s.metric, "float_value", fMetricFloat, protoreflect.FloatKind},
		{s.metric, "double_value", fMetricDouble, protoreflect.DoubleKind},
		{s.metric, "boolean_value", fMetricBool, protoreflect.BoolKind},
		{s.metric, "string_value", fMetricString, protoreflect.StringKind},
		{s.propSet, "keys", fPropSetKeys, protoreflect.StringKind},
		{s.propSet, "values", fPropSetValues, protoreflect.MessageKind},
		{s.prop, "type", fPropType, protoreflect.Uint32Kind},
		{s.prop, "is_null", fPropIsNull, protoreflect.BoolKind},
		{s.prop, "int_value", fPropInt, protoreflect.Uint32Kind},
	} {
		fd := fieldOf(t, c.md, c.name)
		if fd.Number() != c.num || fd.Kind() != c.kind {
			t.Errorf("%s.%s: .proto says %d %v, payload.go uses %d %v", c.md.Name(), c.name, fd.Number(), fd.Kind(), c.num, c.kind)
		}
	}
}

// noUnknown fails when any message in the tree carries fields the
// definition does not know.
func noUnknown(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	if u := m.GetUnknown(); len(u) > 0 {
		t.Errorf("%s: %d bytes of unknown fields %x", path, len(u), u)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				noUnknown(t, path+"."+string(fd.Name()), v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			noUnknown(t, path+"."+string(fd.Name()), v.Message())
		}
		return true
	})
}

// get returns the named field and whether it is present.
func get(t *testing.T, m protoreflect.Message, name string) (protoreflect.Value, bool) {
	t.Helper()
	fd := fieldOf(t, m.Descriptor(), name)
	return m.Get(fd), m.Has(fd)
}

// decodeOfficial reads b with the official runtime and checks the payload
// header and every metric against what was encoded.
func decodeOfficial(t *testing.T, s *spbSchema, label string, b []byte, want *Payload) {
	t.Helper()
	msg := dynamicpb.NewMessage(s.payload)
	if err := proto.Unmarshal(b, msg); err != nil {
		t.Fatalf("%s: official runtime rejects our payload: %v", label, err)
	}
	noUnknown(t, label, msg)
	if v, ok := get(t, msg, "timestamp"); !ok || v.Uint() != want.Timestamp {
		t.Errorf("%s: timestamp %v (present %v), want %d", label, v, ok, want.Timestamp)
	}
	if v, ok := get(t, msg, "seq"); ok != want.HasSeq || ok && v.Uint() != want.Seq {
		t.Errorf("%s: seq %v (present %v), want %d (present %v)", label, v, ok, want.Seq, want.HasSeq)
	}
	if v, ok := get(t, msg, "uuid"); ok != (want.UUID != "") || v.String() != want.UUID {
		t.Errorf("%s: uuid %q, want %q", label, v.String(), want.UUID)
	}
	if _, ok := get(t, msg, "body"); ok {
		t.Errorf("%s: body set", label)
	}
	ms, _ := get(t, msg, "metrics")
	if ms.List().Len() != len(want.Metrics) {
		t.Fatalf("%s: %d metrics, want %d", label, ms.List().Len(), len(want.Metrics))
	}
	for i := range want.Metrics {
		checkMetric(t, s, label+"/"+want.Metrics[i].Name, ms.List().Get(i).Message(), &want.Metrics[i])
	}
	// Our fields come in ascending number order with minimal varints, so
	// the official deterministic encoding of what it read is our bytes:
	// nothing is encoded in a way another implementation would redo.
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("%s: official re-encoding differs (%v):\n ours %x\n  pb  %x", label, err, b, again)
	}
}

func checkMetric(t *testing.T, s *spbSchema, label string, m protoreflect.Message, w *Metric) {
	t.Helper()
	if v, ok := get(t, m, "name"); ok != (w.Name != "") || v.String() != w.Name {
		t.Errorf("%s: name %q (present %v)", label, v.String(), ok)
	}
	if v, ok := get(t, m, "alias"); ok != w.HasAlias || v.Uint() != w.Alias {
		t.Errorf("%s: alias %d (present %v), want %d (present %v)", label, v.Uint(), ok, w.Alias, w.HasAlias)
	}
	if v, _ := get(t, m, "timestamp"); v.Uint() != w.Timestamp {
		t.Errorf("%s: timestamp %d, want %d", label, v.Uint(), w.Timestamp)
	}
	dt, _ := get(t, m, "datatype")
	ev := s.dataType.Values().ByNumber(protoreflect.EnumNumber(dt.Uint()))
	if ev == nil || string(ev.Name()) != specTypeName[w.Datatype] {
		t.Errorf("%s: datatype %d is %v in the spec, want %s", label, dt.Uint(), ev, specTypeName[w.Datatype])
	}
	if v, _ := get(t, m, "is_historical"); v.Bool() != w.IsHistorical {
		t.Errorf("%s: is_historical %v", label, v.Bool())
	}
	for _, unused := range []string{"is_transient", "metadata"} {
		if _, ok := get(t, m, unused); ok {
			t.Errorf("%s: %s set", label, unused)
		}
	}
	checkQuality(t, s, label, m, w.Quality)

	null := w.IsNull || !w.Value.IsValid()
	isNull, _ := get(t, m, "is_null")
	oneof := m.WhichOneof(s.metric.Oneofs().ByName("value"))
	if null {
		if !isNull.Bool() || oneof != nil {
			t.Errorf("%s: null metric has is_null %v and value %v", label, isNull.Bool(), oneof)
		}
		return
	}
	if isNull.Bool() {
		t.Errorf("%s: is_null set on a value", label)
	}
	if oneof == nil || string(oneof.Name()) != valueField[w.Datatype] {
		var in protoreflect.Name = "no field"
		if oneof != nil {
			in = oneof.Name()
		}
		t.Fatalf("%s: value in %s, the spec puts %s in %s", label, in, specTypeName[w.Datatype], valueField[w.Datatype])
	}
	got := m.Get(oneof)
	v := w.Value
	ok := true
	switch w.Datatype {
	case TypeInt8, TypeInt16, TypeInt32: // two's complement in uint32
		ok = got.Uint() == uint64(uint32(int32(v.Int())))
	case TypeUInt8, TypeUInt16, TypeUInt32, TypeUInt64, TypeDateTime:
		ok = got.Uint() == v.Uint()
	case TypeInt64:
		ok = got.Uint() == uint64(v.Int())
	case TypeFloat:
		ok = float32(got.Float()) == float32(v.Float())
	case TypeDouble:
		ok = got.Float() == v.Float()
	case TypeBoolean:
		ok = got.Bool() == v.Bool()
	case TypeString, TypeText, TypeUUID:
		ok = got.String() == v.Str()
	default:
		t.Fatalf("%s: test has no check for datatype %d", label, w.Datatype)
	}
	if !ok {
		t.Errorf("%s: %s = %v, want %v", label, oneof.Name(), got, v)
	}
}

// checkQuality: a good metric has no properties; any other has the one
// property "Quality", an Int32 in int_value.
func checkQuality(t *testing.T, s *spbSchema, label string, m protoreflect.Message, q int32) {
	t.Helper()
	ps, ok := get(t, m, "properties")
	if q == QualityGood {
		if ok {
			t.Errorf("%s: good quality needs no properties", label)
		}
		return
	}
	if !ok {
		t.Fatalf("%s: quality %d not sent", label, q)
	}
	keys, _ := get(t, ps.Message(), "keys")
	vals, _ := get(t, ps.Message(), "values")
	if keys.List().Len() != 1 || keys.List().Get(0).String() != "Quality" || vals.List().Len() != 1 {
		t.Fatalf("%s: properties %v", label, ps.Message())
	}
	pv := vals.List().Get(0).Message()
	typ, _ := get(t, pv, "type")
	n, _ := get(t, pv, "is_null")
	which := pv.WhichOneof(s.prop.Oneofs().ByName("value"))
	if uint32(typ.Uint()) != s.dtNumber(t, "Int32") || n.Bool() || which == nil || which.Name() != "int_value" ||
		pv.Get(which).Uint() != uint64(uint32(q)) {
		t.Errorf("%s: quality property %v, want Int32 %d in int_value", label, pv, q)
	}
}

// TestOfficialDecodesOurPayloads: every message the edge node sends, and
// every datatype the codec writes, read by the official runtime.
func TestOfficialDecodesOurPayloads(t *testing.T) {
	s := loadSchema(t)
	const now = 1_700_000_000_000
	n := NewNode("plant", "edge1", 5)
	bdSeq := func(ts uint64) Metric {
		return Metric{Name: "bdSeq", Timestamp: ts, Datatype: TypeInt64, Value: model.IntValue(model.Int64, 5), Quality: QualityGood}
	}

	will := n.Connect(now)
	decodeOfficial(t, s, "NDEATH", will.Payload, &Payload{Timestamp: now, Metrics: []Metric{bdSeq(now)}})

	nb := n.Birth(now + 1)
	decodeOfficial(t, s, "NBIRTH", nb[0].Payload, &Payload{Timestamp: now + 1, HasSeq: true, Seq: 0, Metrics: []Metric{
		bdSeq(now + 1),
		{Name: RebirthMetric, Timestamp: now + 1, Datatype: TypeBoolean, Value: model.BoolValue(false), Quality: QualityGood},
	}})

	values := []model.Value{
		model.BoolValue(true),
		model.IntValue(model.Int8, math.MinInt8), model.IntValue(model.Int16, -300), model.IntValue(model.Int32, math.MinInt32),
		model.IntValue(model.Int64, math.MinInt64),
		model.UintValue(model.Uint8, math.MaxUint8), model.UintValue(model.Uint16, math.MaxUint16),
		model.UintValue(model.Uint32, math.MaxUint32), model.UintValue(model.Uint64, math.MaxUint64),
		model.FloatValue(model.Float32, float64(float32(-1.25e-3))), model.FloatValue(model.Float64, math.Inf(-1)),
		model.StringValue("主軸 spindle"),
	}
	qualities := []model.Quality{model.Good, model.UncertainLastUsableValue, model.BadTimeout}
	b := &model.Batch{Device: "cnc01"}
	var birth []Metric
	for i, v := range values {
		q := qualities[i%len(qualities)]
		ts := int64(now-1000+i) * 1e6
		b.Samples = append(b.Samples, model.Sample{Tag: "m/" + v.T.String(), Value: v, Source: ts, Quality: q})
		birth = append(birth, Metric{Name: "m/" + v.T.String(), Alias: uint64(i), HasAlias: true, Timestamp: uint64(ts / 1e6),
			Datatype: TypeOf(v.T), Value: v, Quality: QualityOf(q)})
	}
	msgs := n.Data(b, now+2)
	if len(msgs) != 1 || msgs[0].Topic != "spBv1.0/plant/DBIRTH/edge1/cnc01" {
		t.Fatalf("first data: %v", msgs)
	}
	decodeOfficial(t, s, "DBIRTH", msgs[0].Payload, &Payload{Timestamp: now + 2, HasSeq: true, Seq: 1, Metrics: birth})

	// DDATA: aliases only; one value lost (null, bad), one changed.
	b.Samples = []model.Sample{
		{Tag: "m/int16", Value: model.IntValue(model.Int16, 7), Source: now * 1e6, Quality: model.Good},
		{Tag: "m/float64", Source: now * 1e6, Quality: model.BadNoCommunication},
	}
	msgs = n.Data(b, now+3)
	if len(msgs) != 1 || msgs[0].Topic != "spBv1.0/plant/DDATA/edge1/cnc01" {
		t.Fatalf("second data: %v", msgs)
	}
	decodeOfficial(t, s, "DDATA", msgs[0].Payload, &Payload{Timestamp: now + 3, HasSeq: true, Seq: 2, Metrics: []Metric{
		{Alias: 2, HasAlias: true, Timestamp: now, Datatype: TypeInt16, Value: model.IntValue(model.Int16, 7), Quality: QualityGood},
		{Alias: 10, HasAlias: true, Timestamp: now, Datatype: TypeDouble, IsNull: true, Quality: QualityBad},
	}})

	// A host's rebirth NCMD as this package writes it, and the rebirth.
	cmd := &Payload{Timestamp: now + 4, Metrics: []Metric{{Name: RebirthMetric, Timestamp: now + 4, Datatype: TypeBoolean,
		Value: model.BoolValue(true), Quality: QualityGood}}}
	decodeOfficial(t, s, "NCMD", cmd.Marshal(nil), cmd)
	re, err := n.Command(n.CommandTopic(), cmd.Marshal(nil), now+5)
	if err != nil || len(re) != 2 {
		t.Fatalf("rebirth: %v %v", re, err)
	}
	decodeOfficial(t, s, "NBIRTH after rebirth", re[0].Payload, &Payload{Timestamp: now + 5, HasSeq: true, Seq: 0, Metrics: []Metric{
		bdSeq(now + 5),
		{Name: RebirthMetric, Timestamp: now + 5, Datatype: TypeBoolean, Value: model.BoolValue(false), Quality: QualityGood},
	}})

	// The edge node has no node-level data yet; an NDATA is a Payload with
	// aliased metrics, and here carries what else the codec can write:
	// historical values, DateTime, Text, UUID, the payload uuid, seq 255.
	nd := &Payload{Timestamp: now + 6, HasSeq: true, Seq: 255, UUID: "otlink-1", Metrics: []Metric{
		{Alias: 1000, HasAlias: true, Timestamp: now - 60_000, Datatype: TypeDouble, IsHistorical: true,
			Value: model.FloatValue(model.Float64, 21.5), Quality: QualityUncertain},
		{Name: "clock", Timestamp: now, Datatype: TypeDateTime, Value: model.UintValue(model.Uint64, now), Quality: QualityGood},
		{Name: "note", Timestamp: now, Datatype: TypeText, Value: model.StringValue("line 1\nline 2"), Quality: QualityGood},
		{Name: "id", Timestamp: now, Datatype: TypeUUID, Value: model.StringValue("123e4567-e89b-12d3-a456-426614174000"), Quality: QualityGood},
		{Name: "zero", Datatype: TypeInt32, Value: model.IntValue(model.Int32, 0), Quality: QualityGood},
		{Name: "empty", Datatype: TypeString, Value: model.StringValue(""), Quality: QualityGood},
		{Name: "off", Datatype: TypeBoolean, Value: model.BoolValue(false), Quality: QualityBad},
	}}
	decodeOfficial(t, s, "NDATA", nd.Marshal(nil), nd)
}

// builder sets fields of dynamic messages by name.
type builder struct {
	t *testing.T
	s *spbSchema
}

func (b builder) msg(md protoreflect.MessageDescriptor, kv ...any) *dynamicpb.Message {
	b.t.Helper()
	m := dynamicpb.NewMessage(md)
	for i := 0; i+1 < len(kv); i += 2 {
		fd := fieldOf(b.t, md, kv[i].(string))
		switch v := kv[i+1].(type) {
		case []string:
			l := m.Mutable(fd).List()
			for _, x := range v {
				l.Append(protoreflect.ValueOfString(x))
			}
		case []uint32:
			l := m.Mutable(fd).List()
			for _, x := range v {
				l.Append(protoreflect.ValueOfUint32(x))
			}
		case []*dynamicpb.Message:
			l := m.Mutable(fd).List()
			for _, x := range v {
				l.Append(protoreflect.ValueOfMessage(x))
			}
		case *dynamicpb.Message:
			m.Set(fd, protoreflect.ValueOfMessage(v))
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

func (b builder) dt(name string) uint32 { return b.s.dtNumber(b.t, name) }

// extensionLike appends fields no one in this test knows: a varint and a
// length-delimited field at number n, as a third-party extension would.
func extensionLike(m *dynamicpb.Message, n protowire.Number) *dynamicpb.Message {
	u := protowire.AppendTag(nil, n, protowire.VarintType)
	u = protowire.AppendVarint(u, 1<<40)
	u = protowire.AppendTag(u, n+1, protowire.BytesType)
	u = protowire.AppendString(u, "vendor data")
	m.SetUnknown(append(m.GetUnknown(), u...))
	return m
}

// TestWeDecodeOfficialPayloads: payloads built by field name and encoded
// by the official runtime, with every part of the definition otlink does
// not use, decode with our Unmarshal.
func TestWeDecodeOfficialPayloads(t *testing.T) {
	s := loadSchema(t)
	bb := builder{t, s}
	const ts = uint64(1_700_000_000_000)
	props := func(q int32) *dynamicpb.Message {
		return bb.msg(s.propSet, "keys", []string{"engUnit", "limits", "Quality"}, "values", []*dynamicpb.Message{
			bb.msg(s.prop, "type", bb.dt("String"), "string_value", "rpm"),
			bb.msg(s.prop, "type", bb.dt("PropertySet"), "propertyset_value",
				bb.msg(s.propSet, "keys", []string{"hi"}, "values", []*dynamicpb.Message{bb.msg(s.prop, "type", bb.dt("Double"), "double_value", 9000.0)})),
			bb.msg(s.prop, "type", bb.dt("Int32"), "int_value", uint32(q)),
		})
	}
	type tc struct {
		dt    string
		field string
		pv    any         // the value in field
		want  model.Value // invalid: otlink has no value for it, the metric must still decode
	}
	cases := []tc{
		{"Int8", "int_value", uint32(0xFFFFFF80), model.IntValue(model.Int8, -128)},
		{"Int16", "int_value", uint32(0xFFFFFED4), model.IntValue(model.Int16, -300)},
		{"Int32", "int_value", uint32(0x80000000), model.IntValue(model.Int32, math.MinInt32)},
		{"Int64", "long_value", uint64(1 << 63), model.IntValue(model.Int64, math.MinInt64)},
		{"UInt8", "int_value", uint32(255), model.UintValue(model.Uint8, 255)},
		{"UInt16", "int_value", uint32(65535), model.UintValue(model.Uint16, 65535)},
		{"UInt32", "long_value", uint64(math.MaxUint32), model.UintValue(model.Uint32, math.MaxUint32)},
		// some edge nodes put UInt32 in int_value
		{"UInt32", "int_value", uint32(math.MaxUint32), model.UintValue(model.Uint32, math.MaxUint32)},
		{"UInt64", "long_value", uint64(math.MaxUint64), model.UintValue(model.Uint64, math.MaxUint64)},
		{"Float", "float_value", float32(-1.5), model.FloatValue(model.Float32, -1.5)},
		{"Double", "double_value", math.Pi, model.FloatValue(model.Float64, math.Pi)},
		{"Boolean", "boolean_value", true, model.BoolValue(true)},
		{"String", "string_value", "héllo 世界", model.StringValue("héllo 世界")},
		{"Text", "string_value", "a\nb", model.StringValue("a\nb")},
		{"UUID", "string_value", "123e4567-e89b-12d3-a456-426614174000", model.StringValue("123e4567-e89b-12d3-a456-426614174000")},
		{"DateTime", "long_value", ts, model.UintValue(model.Uint64, ts)},
		{"Bytes", "bytes_value", []byte{0, 1, 2, 0xff}, model.Value{}},
		{"Int32Array", "bytes_value", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, model.Value{}},
		{"DataSet", "dataset_value", bb.msg(s.dataSet, "num_of_columns", uint64(2), "columns", []string{"a", "b"},
			"types", []uint32{bb.dt("Int32"), bb.dt("String")}, "rows", []*dynamicpb.Message{
				extensionLike(bb.msg(s.row, "elements", []*dynamicpb.Message{
					bb.msg(s.dataSetValue, "int_value", uint32(1)), bb.msg(s.dataSetValue, "string_value", "x")}), 10),
			}), model.Value{}},
		{"Template", "template_value", bb.msg(s.template, "version", "1.0", "template_ref", "Motor", "is_definition", false,
			"metrics", []*dynamicpb.Message{bb.msg(s.metric, "name", "rpm", "datatype", bb.dt("Double"), "double_value", 1.0)},
			"parameters", []*dynamicpb.Message{bb.msg(s.param, "name", "max", "type", bb.dt("Int32"), "int_value", uint32(9))}),
			model.Value{}},
		{"File", "bytes_value", []byte("G0 X1"), model.Value{}},
		{"Unknown", "extension_value", extensionLike(bb.msg(s.metricExt), 1), model.Value{}},
	}
	payload := bb.msg(s.payload, "timestamp", ts, "seq", uint64(42), "uuid", "schema-7")
	var metrics []*dynamicpb.Message
	for i, c := range cases {
		m := bb.msg(s.metric, "name", "m/"+c.dt, "alias", uint64(100+i), "timestamp", ts+uint64(i),
			"datatype", bb.dt(c.dt), "is_historical", i%2 == 0, "is_transient", true,
			"properties", props(int32(i%3)*64), c.field, c.pv)
		if c.dt == "File" {
			m.Set(fieldOf(t, s.metric, "metadata"), protoreflect.ValueOfMessage(bb.msg(s.metaData,
				"is_multi_part", false, "content_type", "text/plain", "size", uint64(5), "file_name", "a.nc", "md5", "x")))
		}
		metrics = append(metrics, extensionLike(m, 40))
	}
	// A data message's metric: alias and value, no name or datatype.
	metrics = append(metrics, bb.msg(s.metric, "alias", uint64(7), "timestamp", ts, "int_value", uint32(0xFFFFFFF9)))
	// An explicit null.
	metrics = append(metrics, bb.msg(s.metric, "name", "lost", "timestamp", ts, "datatype", bb.dt("Double"), "is_null", true,
		"properties", bb.msg(s.propSet, "keys", []string{"Quality"}, "values", []*dynamicpb.Message{
			bb.msg(s.prop, "type", bb.dt("Int32"), "is_null", true)})))
	payload.Set(fieldOf(t, s.payload, "metrics"), protoreflect.ValueOfList(listOf(payload, s.payload, metrics)))
	extensionLike(payload, 6)

	wire, err := proto.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Unmarshal(wire)
	if err != nil {
		t.Fatalf("our decoder rejects an official payload: %v", err)
	}
	if p.Timestamp != ts || !p.HasSeq || p.Seq != 42 || p.UUID != "schema-7" || len(p.Metrics) != len(cases)+2 {
		t.Fatalf("header: ts %d seq %d/%v uuid %q metrics %d", p.Timestamp, p.Seq, p.HasSeq, p.UUID, len(p.Metrics))
	}
	for i, c := range cases {
		m := p.Metrics[i]
		label := "m/" + c.dt + " in " + c.field
		wantQ := int32(i%3) * 64
		if m.Name != "m/"+c.dt || !m.HasAlias || m.Alias != uint64(100+i) || m.Timestamp != ts+uint64(i) ||
			uint32(m.Datatype) != bb.dt(c.dt) || m.IsHistorical != (i%2 == 0) || m.IsNull || m.Quality != wantQ {
			t.Errorf("%s: %+v", label, m)
		}
		if !m.Value.Equal(c.want) {
			t.Errorf("%s: value %v, want %v", label, m.Value, c.want)
		}
	}
	data := p.Metrics[len(cases)]
	if data.Name != "" || data.Alias != 7 || !data.HasRaw() {
		t.Errorf("data metric: %+v", data)
	}
	if typed, err := data.Typed(TypeInt16); err != nil || !typed.Value.Equal(model.IntValue(model.Int16, -7)) {
		t.Errorf("data metric typed from its birth: %v %v", typed.Value, err)
	}
	null := p.Metrics[len(cases)+1]
	if null.Name != "lost" || !null.IsNull || null.Value.IsValid() || null.Datatype != TypeDouble {
		t.Errorf("null metric: %+v", null)
	}
}

func listOf(m *dynamicpb.Message, md protoreflect.MessageDescriptor, ms []*dynamicpb.Message) protoreflect.List {
	l := m.NewField(md.Fields().ByName("metrics")).List()
	for _, x := range ms {
		l.Append(protoreflect.ValueOfMessage(x))
	}
	return l
}

// TestUnmarshalSkipsPayloadBody: Payload.body (bytes) is in the definition
// "to optionally bypass the whole definition"; otlink does not use it, so a
// payload carrying it must decode like one without it.
func TestUnmarshalSkipsPayloadBody(t *testing.T) {
	s := loadSchema(t)
	bb := builder{t, s}
	payload := bb.msg(s.payload, "timestamp", uint64(1), "seq", uint64(2), "body", []byte("opaque"))
	payload.Set(fieldOf(t, s.payload, "metrics"), protoreflect.ValueOfList(listOf(payload, s.payload, []*dynamicpb.Message{
		bb.msg(s.metric, "name", "x", "datatype", bb.dt("Boolean"), "boolean_value", true)})))
	wire, err := proto.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Unmarshal(wire)
	if err != nil {
		t.Fatalf("payload with a body: %v", err)
	}
	if p.Timestamp != 1 || p.Seq != 2 || len(p.Metrics) != 1 || !p.Metrics[0].Value.Equal(model.BoolValue(true)) {
		t.Fatalf("payload with a body: %+v", p)
	}
}

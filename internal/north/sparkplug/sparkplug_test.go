package sparkplug

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func TestPayloadRoundTrip(t *testing.T) {
	values := []model.Value{
		model.BoolValue(true), model.IntValue(model.Int8, -5), model.IntValue(model.Int16, -300),
		model.IntValue(model.Int32, math.MinInt32), model.IntValue(model.Int64, math.MinInt64),
		model.UintValue(model.Uint8, 255), model.UintValue(model.Uint16, 65535),
		model.UintValue(model.Uint32, math.MaxUint32), model.UintValue(model.Uint64, math.MaxUint64),
		model.FloatValue(model.Float32, float64(float32(1.5))), model.FloatValue(model.Float64, -2.25),
		model.StringValue("héllo"),
	}
	p := Payload{Timestamp: 1700000000123, Seq: 7, HasSeq: true}
	for i, v := range values {
		p.Metrics = append(p.Metrics, Metric{Name: v.T.String(), Alias: uint64(i), HasAlias: true,
			Timestamp: 1700000000000 + uint64(i), Datatype: TypeOf(v.T), Value: v, Quality: QualityGood})
	}
	p.Metrics = append(p.Metrics, Metric{Name: "broken", Datatype: TypeDouble, IsNull: true, Quality: QualityBad})
	got, err := Unmarshal(p.Marshal(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Timestamp != p.Timestamp || got.Seq != 7 || !got.HasSeq || len(got.Metrics) != len(p.Metrics) {
		t.Fatalf("header %+v", got)
	}
	for i, m := range got.Metrics {
		w := p.Metrics[i]
		if m.Name != w.Name || m.Alias != w.Alias || m.Timestamp != w.Timestamp || m.Datatype != w.Datatype ||
			m.IsNull != w.IsNull || m.Quality != w.Quality || !m.Value.Equal(w.Value) {
			t.Errorf("metric %d: got %+v want %+v", i, m, w)
		}
	}
}

// TestWireFieldNumbers decodes an encoded payload with plain protowire and
// the field numbers of sparkplug_b.proto, independent of Unmarshal.
func TestWireFieldNumbers(t *testing.T) {
	p := Payload{Timestamp: 42, Seq: 3, HasSeq: true, Metrics: []Metric{{
		Name: "a/b", Alias: 9, HasAlias: true, Timestamp: 41, Datatype: TypeInt32,
		Value: model.IntValue(model.Int32, -1), Quality: QualityGood}}}
	b := p.Marshal(nil)
	top := map[protowire.Number][]byte{}
	var topVarint = map[protowire.Number]uint64{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			topVarint[num], b = v, b[m:]
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			top[num], b = v, b[m:]
		default:
			t.Fatalf("unexpected wire type %d", typ)
		}
	}
	if topVarint[1] != 42 || topVarint[3] != 3 {
		t.Fatalf("timestamp(1)/seq(3): %v", topVarint)
	}
	m := top[2] // Payload.metrics = 2
	fields := map[protowire.Number]any{}
	for len(m) > 0 {
		num, typ, n := protowire.ConsumeTag(m)
		m = m[n:]
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(m)
			fields[num], m = string(v), m[k:]
		} else {
			v, k := protowire.ConsumeVarint(m)
			fields[num], m = v, m[k:]
		}
	}
	// name=1, alias=2, timestamp=3, datatype=4 (Int32=3), int_value=10 (two's complement)
	want := map[protowire.Number]any{1: "a/b", 2: uint64(9), 3: uint64(41), 4: uint64(3), 10: uint64(0xFFFFFFFF)}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("metric field %d = %v, want %v", k, fields[k], v)
		}
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	good := (&Payload{Timestamp: 1, HasSeq: true, Metrics: []Metric{{Name: "x", Datatype: TypeString, Value: model.StringValue("abc"), Quality: QualityGood}}}).Marshal(nil)
	for i := 1; i < len(good); i++ {
		if _, err := Unmarshal(good[:i]); err != nil && errcode.Of(err) != errcode.NorthSparkplugDecode {
			t.Fatalf("truncated at %d: %v has no code", i, err)
		}
	}
	if _, err := Unmarshal([]byte{0x12, 0x05, 0x01}); errcode.Of(err) != errcode.NorthSparkplugDecode {
		t.Fatalf("short metric: %v", err)
	}
	if _, err := Unmarshal([]byte{0x0d, 1, 2, 3, 4}); errcode.Of(err) != errcode.NorthSparkplugDecode {
		t.Fatalf("timestamp as fixed32: %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add((&Payload{Timestamp: 1, HasSeq: true, Metrics: []Metric{{Name: "x", Datatype: TypeDouble, Value: model.FloatValue(model.Float64, 1), Quality: QualityBad}}}).Marshal(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(b)
		if err != nil {
			return
		}
		q, err := Unmarshal(p.Marshal(nil))
		if err != nil || len(q.Metrics) != len(p.Metrics) {
			t.Fatalf("re-encoding a decoded payload failed: %v", err)
		}
	})
}

func decode(t *testing.T, m Message) *Payload {
	t.Helper()
	p, err := Unmarshal(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNodeLifecycle(t *testing.T) {
	n := NewNode("plant", "edge1", 0)
	will := n.Connect(1)
	if will.Topic != "spBv1.0/plant/NDEATH/edge1" {
		t.Fatal(will.Topic)
	}
	d := decode(t, will)
	if d.HasSeq || d.Metrics[0].Name != "bdSeq" || d.Metrics[0].Value.Int() != 0 {
		t.Fatalf("NDEATH %+v", d)
	}
	birth := n.Birth(2)
	if len(birth) != 1 || birth[0].Topic != "spBv1.0/plant/NBIRTH/edge1" {
		t.Fatalf("birth %v", birth)
	}
	nb := decode(t, birth[0])
	if nb.Seq != 0 || nb.Metrics[0].Value.Int() != 0 || nb.Metrics[1].Name != RebirthMetric {
		t.Fatalf("NBIRTH %+v", nb)
	}
	b := &model.Batch{Device: "cnc01", Samples: []model.Sample{
		{Tag: "a/speed", Value: model.FloatValue(model.Float64, 1), Source: 5e6},
		{Tag: "a/run", Value: model.BoolValue(true), Source: 5e6},
	}}
	msgs := n.Data(b, 3)
	if len(msgs) != 1 || msgs[0].Topic != "spBv1.0/plant/DBIRTH/edge1/cnc01" {
		t.Fatalf("first data must be a DBIRTH: %v", msgs)
	}
	db := decode(t, msgs[0])
	if db.Seq != 1 || len(db.Metrics) != 2 || db.Metrics[0].Name != "a/speed" || !db.Metrics[0].HasAlias {
		t.Fatalf("DBIRTH %+v", db)
	}
	b.Samples = b.Samples[:1]
	b.Samples[0].Value = model.FloatValue(model.Float64, 2)
	msgs = n.Data(b, 4)
	dd := decode(t, msgs[0])
	if msgs[0].Topic != "spBv1.0/plant/DDATA/edge1/cnc01" || dd.Seq != 2 || dd.Metrics[0].Name != "" ||
		dd.Metrics[0].Alias != db.Metrics[0].Alias || dd.Metrics[0].Value.Float() != 2 {
		t.Fatalf("DDATA %+v", dd)
	}
	// seq wraps 255 -> 0
	var last uint64
	for i := 0; i < 300; i++ {
		last = decode(t, n.Data(b, 5)[0]).Seq
		if want := uint64(3+i) % 256; last != want {
			t.Fatalf("seq %d, want %d", last, want)
		}
	}
	// a new metric forces a DBIRTH with every metric
	b.Samples = append(b.Samples, model.Sample{Tag: "a/new", Value: model.IntValue(model.Int16, 1)})
	msgs = n.Data(b, 6)
	if msgs[0].Topic != "spBv1.0/plant/DBIRTH/edge1/cnc01" || len(decode(t, msgs[0]).Metrics) != 3 {
		t.Fatalf("new metric: %v", msgs[0].Topic)
	}
	// rebirth request
	cmd := (&Payload{Timestamp: 7, Metrics: []Metric{{Name: RebirthMetric, Datatype: TypeBoolean, Value: model.BoolValue(true), Quality: QualityGood}}}).Marshal(nil)
	re, err := n.Command("spBv1.0/plant/NCMD/edge1", cmd, 8)
	if err != nil || len(re) != 2 || decode(t, re[0]).Seq != 0 || decode(t, re[1]).Seq != 1 {
		t.Fatalf("rebirth: %v %v", re, err)
	}
	if decode(t, re[0]).Metrics[0].Value.Int() != 0 {
		t.Fatal("rebirth must keep bdSeq")
	}
	if _, err := n.Command("spBv1.0/plant/NCMD/other", cmd, 8); errcode.Of(err) != errcode.NorthSparkplugTopic {
		t.Fatalf("foreign topic: %v", err)
	}
	// new session: bdSeq+1, devices reborn
	d = decode(t, n.Connect(9))
	if d.Metrics[0].Value.Int() != 1 {
		t.Fatalf("bdSeq after reconnect %d", d.Metrics[0].Value.Int())
	}
	if got := n.Birth(10); len(got) != 2 || decode(t, got[0]).Metrics[0].Value.Int() != 1 {
		t.Fatalf("NBIRTH after reconnect must carry the NDEATH's bdSeq")
	}
}

// A tag whose first sample is bad has no datatype yet; a birth must give
// every metric one, so the metric waits for its first value, which brings
// a new DBIRTH with it typed.
func TestUntypedMetricWaitsForItsFirstValue(t *testing.T) {
	n := NewNode("plant", "edge1", 0)
	n.Connect(1)
	n.Birth(2)
	bad := &model.Batch{Device: "cnc01", Samples: []model.Sample{{Tag: "a/temp", Quality: model.BadNotConnected, Source: 5e6}}}
	if msgs := n.Data(bad, 3); len(msgs) != 0 {
		t.Fatalf("a device with only an untyped metric is born: %v", msgs)
	}
	mixed := &model.Batch{Device: "cnc01", Samples: []model.Sample{
		{Tag: "a/speed", Value: model.FloatValue(model.Float64, 1), Source: 5e6},
		{Tag: "a/temp", Quality: model.BadNotConnected, Source: 5e6},
	}}
	msgs := n.Data(mixed, 4)
	if len(msgs) != 1 || msgs[0].Topic != "spBv1.0/plant/DBIRTH/edge1/cnc01" {
		t.Fatalf("want a DBIRTH: %v", msgs)
	}
	for _, m := range decode(t, msgs[0]).Metrics {
		if m.Datatype == TypeUnknown || m.Name == "a/temp" {
			t.Fatalf("DBIRTH carries an untyped metric: %+v", m)
		}
	}
	// Untyped alone: no DDATA for an alias the host was never told.
	if msgs := n.Data(bad, 5); len(msgs) != 0 {
		t.Fatalf("DDATA of an unborn metric: %v", msgs)
	}
	good := &model.Batch{Device: "cnc01", Samples: []model.Sample{{Tag: "a/temp", Value: model.FloatValue(model.Float64, 21.5), Source: 6e6}}}
	msgs = n.Data(good, 6)
	if len(msgs) != 1 || msgs[0].Topic != "spBv1.0/plant/DBIRTH/edge1/cnc01" {
		t.Fatalf("the first value of a/temp must bring a DBIRTH: %v", msgs)
	}
	var typed bool
	for _, m := range decode(t, msgs[0]).Metrics {
		typed = typed || m.Name == "a/temp" && m.Datatype == TypeDouble
	}
	if !typed {
		t.Fatal("a/temp is not in the new DBIRTH as a double")
	}
}

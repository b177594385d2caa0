package sparkplug

import (
	"sort"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Namespace is the Sparkplug B topic namespace.
const Namespace = "spBv1.0"

// RebirthMetric is the node control metric a host writes true to ask for
// a new NBIRTH and DBIRTHs.
const RebirthMetric = "Node Control/Rebirth"

// Message is one MQTT message to publish.
type Message struct {
	Topic   string
	Payload []byte
}

type metricState struct {
	alias uint64
	last  Metric
}

type device struct {
	metrics map[string]*metricState
	born    bool
}

// Node is the state of one Sparkplug B edge node. It is not safe for
// concurrent use: the publisher's sender goroutine owns it.
type Node struct {
	Group, ID string
	bdSeq     uint64 // of the current session
	sessions  int
	seq       uint64
	nextAlias uint64
	devices   map[string]*device
}

// NewNode returns an edge node. bdSeq is the birth/death sequence of the
// first session (0 for a fresh node; give the last one + 1 when it is
// persisted across restarts).
func NewNode(group, id string, bdSeq uint64) *Node {
	return &Node{Group: group, ID: id, bdSeq: bdSeq % 256, devices: map[string]*device{}}
}

// ValidID reports whether s can be a group, edge node or device id.
func ValidID(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/+#")
}

// Topic builds spBv1.0/<group>/<type>/<node>[/<device>].
func (n *Node) Topic(typ, dev string) string {
	t := Namespace + "/" + n.Group + "/" + typ + "/" + n.ID
	if dev != "" {
		t += "/" + dev
	}
	return t
}

// BdSeq returns the bdSeq of the current session.
func (n *Node) BdSeq() uint64 { return n.bdSeq }

// Connect starts a new MQTT session: it advances bdSeq (except for the
// first session) and returns the NDEATH to register as the MQTT will.
// Every device must be born again after it.
func (n *Node) Connect(nowMs uint64) Message {
	if n.sessions > 0 {
		n.bdSeq = (n.bdSeq + 1) % 256
	}
	n.sessions++
	for _, d := range n.devices {
		d.born = false
	}
	return n.Death(nowMs)
}

// Death returns the NDEATH of the current session (no seq, bdSeq metric).
func (n *Node) Death(nowMs uint64) Message {
	p := Payload{Timestamp: nowMs, Metrics: []Metric{n.bdSeqMetric(nowMs)}}
	return Message{Topic: n.Topic("NDEATH", ""), Payload: p.Marshal(nil)}
}

func (n *Node) bdSeqMetric(nowMs uint64) Metric {
	return Metric{Name: "bdSeq", Timestamp: nowMs, Datatype: TypeInt64,
		Value: model.IntValue(model.Int64, int64(n.bdSeq)), Quality: QualityGood}
}

func (n *Node) nextSeq() uint64 {
	s := n.seq
	n.seq = (n.seq + 1) % 256
	return s
}

// Birth returns the NBIRTH (seq 0, bdSeq, the rebirth control) and a DBIRTH
// for every known device.
func (n *Node) Birth(nowMs uint64) []Message {
	n.seq = 0
	p := Payload{Timestamp: nowMs, HasSeq: true, Seq: n.nextSeq(), Metrics: []Metric{
		n.bdSeqMetric(nowMs),
		{Name: RebirthMetric, Timestamp: nowMs, Datatype: TypeBoolean, Value: model.BoolValue(false), Quality: QualityGood},
	}}
	out := []Message{{Topic: n.Topic("NBIRTH", ""), Payload: p.Marshal(nil)}}
	names := make([]string, 0, len(n.devices))
	for name := range n.devices {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, n.deviceBirth(name, nowMs))
	}
	return out
}

func (n *Node) deviceBirth(name string, nowMs uint64) Message {
	d := n.devices[name]
	d.born = true
	ms := make([]Metric, 0, len(d.metrics))
	for _, st := range d.metrics {
		if st.last.Datatype == TypeUnknown {
			continue // not typed yet (see Data)
		}
		m := st.last
		m.Name, m.Alias, m.HasAlias = st.last.Name, st.alias, true
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Alias < ms[j].Alias })
	p := Payload{Timestamp: nowMs, HasSeq: true, Seq: n.nextSeq(), Metrics: ms}
	return Message{Topic: n.Topic("DBIRTH", name), Payload: p.Marshal(nil)}
}

func metricOf(s *model.Sample) Metric {
	return Metric{
		Name:      s.Tag,
		Timestamp: uint64(s.Source / 1e6),
		Datatype:  TypeOf(s.Value.T),
		IsNull:    !s.Value.IsValid(),
		Value:     s.Value,
		Quality:   QualityOf(s.Quality),
	}
}

// Data turns a batch into messages: a DBIRTH when the device or one of its
// metrics is new (a DBIRTH must list every metric of the device), else a
// DDATA with aliases only. The device id is the batch's device name.
func (n *Node) Data(b *model.Batch, nowMs uint64) []Message {
	if len(b.Samples) == 0 {
		return nil
	}
	d := n.devices[b.Device]
	if d == nil {
		d = &device{metrics: map[string]*metricState{}}
		n.devices[b.Device] = d
	}
	rebirth := !d.born
	ms := make([]Metric, 0, len(b.Samples))
	for i := range b.Samples {
		m := metricOf(&b.Samples[i])
		st := d.metrics[m.Name]
		if st == nil {
			st = &metricState{alias: n.nextAlias}
			n.nextAlias++
			d.metrics[m.Name] = st
		}
		if m.Datatype != TypeUnknown && st.last.Datatype != m.Datatype {
			rebirth = true // new, or its type changed: a DBIRTH lists it
		}
		if m.Datatype == TypeUnknown { // a bad sample with no value keeps its type
			m.Datatype = st.last.Datatype
		}
		st.last = m
		if m.Datatype == TypeUnknown {
			// Never had a value: a birth must give every metric a
			// datatype, so the metric waits for its first value (which
			// brings a DBIRTH) instead of being born untyped.
			continue
		}
		m.Name, m.Alias, m.HasAlias = "", st.alias, true
		ms = append(ms, m)
	}
	if rebirth && d.typed() {
		return []Message{n.deviceBirth(b.Device, nowMs)}
	}
	if rebirth || len(ms) == 0 {
		return nil // nothing typed to tell yet: the device is born with its first value
	}
	p := Payload{Timestamp: nowMs, HasSeq: true, Seq: n.nextSeq(), Metrics: ms}
	return []Message{{Topic: n.Topic("DDATA", b.Device), Payload: p.Marshal(nil)}}
}

// typed reports whether any metric of d has had a value (a datatype).
func (d *device) typed() bool {
	for _, st := range d.metrics {
		if st.last.Datatype != TypeUnknown {
			return true
		}
	}
	return false
}

// CommandTopic is the NCMD topic the node subscribes to.
func (n *Node) CommandTopic() string { return n.Topic("NCMD", "") }

// Command handles an NCMD. A write of true to Node Control/Rebirth returns
// a fresh NBIRTH and all DBIRTHs; other commands return nothing.
func (n *Node) Command(topic string, payload []byte, nowMs uint64) ([]Message, error) {
	if topic != n.CommandTopic() {
		return nil, errcode.New(errcode.NorthSparkplugTopic, "command topic %q is not %q", topic, n.CommandTopic())
	}
	p, err := Unmarshal(payload)
	if err != nil {
		return nil, err
	}
	for _, m := range p.Metrics {
		if m.Name == RebirthMetric && m.Value.T == model.Bool && m.Value.Bool() {
			return n.Birth(nowMs), nil
		}
	}
	return nil, nil
}

package mqtt

import (
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// hostRig drives a host with the messages of otlink's own edge node, in
// memory: the node is the independent encoder of the births and data.
type hostRig struct {
	t    *testing.T
	h    *host
	node *sparkplug.Node
	now  time.Time
	got  map[int]driver.Update
	cmds []sparkplug.Message
	errs []error
}

func newRig(t *testing.T, addrs ...string) *hostRig {
	h, err := newHost("otlink-test", items([]model.Type{model.Float64}, addrs...), noLen, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &hostRig{t: t, h: h, node: sparkplug.NewNode("g", "e", 0), now: time.Unix(1700000000, 0), got: map[int]driver.Update{}}
}

func (r *hostRig) feed(ms ...sparkplug.Message) {
	for _, m := range ms {
		res := r.h.handle(m.Topic, m.Payload, r.now, nil)
		for _, u := range res.updates {
			r.got[u.Item] = u
		}
		r.cmds = append(r.cmds, res.cmds...)
		if res.err != nil {
			r.errs = append(r.errs, res.err)
		}
	}
}

func (r *hostRig) want(item int, v float64, q model.Quality, code errcode.Code) {
	r.t.Helper()
	u, ok := r.got[item]
	if !ok {
		r.t.Fatalf("item %d: no update", item)
	}
	if u.Quality != q || errcode.Code(u.Code) != code || (q.IsGood() && u.Value.Float() != v) {
		r.t.Fatalf("item %d: %+v, want %v %s %s", item, u, v, q, code)
	}
}

func batch(dev string, vals map[string]float64) *model.Batch {
	b := &model.Batch{Device: dev}
	for tag, v := range vals {
		b.Samples = append(b.Samples, model.Sample{Tag: tag, Value: model.FloatValue(model.Float64, v), Source: 1700000000e9})
	}
	return b
}

func TestHostLifecycle(t *testing.T) {
	r := newRig(t, "g/e/press/line1/temp", "g/e/press/missing", "g/e/bdSeq")
	if f := r.h.filters(); len(f) != 1 || f[0] != "spBv1.0/g/+/e/#" {
		t.Fatalf("filters %v", f)
	}
	// Data before any birth: the host asks for one and reports nothing.
	r.node.Connect(1)
	r.node.Birth(1) // lost: the host was not there
	r.node.Data(batch("press", map[string]float64{"line1/temp": 1}), 2)
	r.feed(r.node.Data(batch("press", map[string]float64{"line1/temp": 2}), 3)...)
	if len(r.got) != 0 || len(r.cmds) != 1 || r.cmds[0].Topic != "spBv1.0/g/NCMD/e" {
		t.Fatalf("before birth: updates %v, cmds %v", r.got, r.cmds)
	}
	// The node answers the rebirth request.
	ms, err := r.node.Command(r.cmds[0].Topic, r.cmds[0].Payload, 4)
	if err != nil || len(ms) != 2 {
		t.Fatalf("rebirth: %d messages, %v", len(ms), err)
	}
	r.cmds = nil
	r.feed(ms...)
	r.want(0, 2, model.Good, 0)
	r.want(1, 0, model.BadConfigurationError, errcode.MQTTNotBorn)
	r.want(2, 0, model.Good, 0) // the node's bdSeq metric, by name
	// DDATA by alias, typed from the birth.
	r.feed(r.node.Data(batch("press", map[string]float64{"line1/temp": 3}), 5)...)
	r.want(0, 3, model.Good, 0)
	if r.got[0].Source != 1700000000e9 {
		t.Fatalf("source %d", r.got[0].Source)
	}
	// A lost message: the next seq is off by one.
	r.now = r.now.Add(2 * time.Second)
	r.node.Data(batch("press", map[string]float64{"line1/temp": 4}), 6)
	r.feed(r.node.Data(batch("press", map[string]float64{"line1/temp": 5}), 7)...)
	r.want(0, 5, model.Good, 0) // the value itself is fine
	if len(r.errs) != 1 || errcode.Of(r.errs[0]) != errcode.MQTTSeqGap || len(r.cmds) != 1 || r.h.stats.Gaps != 1 {
		t.Fatalf("gap: errs %v cmds %d stats %+v", r.errs, len(r.cmds), r.h.stats)
	}
	// A second gap within rebirth_interval asks no second time.
	r.node.Data(batch("press", map[string]float64{"line1/temp": 6}), 8)
	r.feed(r.node.Data(batch("press", map[string]float64{"line1/temp": 7}), 9)...)
	if len(r.cmds) != 1 {
		t.Fatalf("rebirth asked %d times within the interval", len(r.cmds))
	}
	// Still no birth after the interval: the next message asks again,
	// since the request (QoS 0) may have been lost.
	r.now = r.now.Add(2 * time.Second)
	r.feed(r.node.Data(batch("press", map[string]float64{"line1/temp": 8}), 10)...)
	if len(r.cmds) != 2 {
		t.Fatalf("no second request while the node stays unborn: cmds %d stats %+v", len(r.cmds), r.h.stats)
	}
	r.cmds = r.cmds[:1]
	// A malformed payload: the device's tags go bad, a rebirth is asked.
	r.now = r.now.Add(2 * time.Second)
	r.feed(sparkplug.Message{Topic: "spBv1.0/g/DDATA/e/press", Payload: []byte{0x12, 0x05, 0x01}})
	r.want(0, 0, model.BadDecodingError, errcode.MQTTSparkplugDecode)
	if len(r.cmds) != 2 || r.h.stats.Malformed != 1 {
		t.Fatalf("malformed: cmds %d stats %+v", len(r.cmds), r.h.stats)
	}
	ms, _ = r.node.Command(r.cmds[1].Topic, r.cmds[1].Payload, 10)
	r.feed(ms...)
	r.want(0, 8, model.Good, 0)
	// The death of an earlier session is ignored; this session's is not.
	old := sparkplug.NewNode("g", "e", 200)
	r.feed(old.Death(11))
	r.want(0, 8, model.Good, 0)
	r.feed(r.node.Death(12))
	r.want(0, 0, model.BadNotConnected, errcode.MQTTNodeDead)
	r.want(2, 0, model.BadNotConnected, errcode.MQTTNodeDead)
	// A new session: bdSeq 1, birth again.
	r.feed(r.node.Connect(13))
	r.feed(r.node.Birth(14)...)
	r.want(0, 8, model.Good, 0)
	r.want(2, 1, model.Good, 0)
}

func TestHostIgnoresOthers(t *testing.T) {
	r := newRig(t, "g/e/m")
	other := sparkplug.NewNode("g", "x", 0)
	other.Connect(1)
	r.feed(other.Birth(1)...)
	r.feed(sparkplug.Message{Topic: "spBv1.0/STATE/h", Payload: []byte(`{"online":true}`)},
		sparkplug.Message{Topic: "spBv1.0/g/NCMD/e", Payload: []byte("junk")},
		sparkplug.Message{Topic: "a/b", Payload: nil})
	if len(r.got) != 0 || len(r.cmds) != 0 || len(r.errs) != 0 {
		t.Fatalf("updates %v cmds %v errs %v", r.got, r.cmds, r.errs)
	}
}

// FuzzHost feeds arbitrary payloads on the topics of a known node after a
// valid birth: no panic, and every update is good with a value or bad
// with a code.
func FuzzHost(f *testing.F) {
	n := sparkplug.NewNode("g", "e", 0)
	n.Connect(1)
	n.Data(batch("d", map[string]float64{"m": 1}), 1)
	birth := n.Birth(2)
	f.Add(uint8(2), n.Data(batch("d", map[string]float64{"m": 2}), 3)[0].Payload)
	f.Add(uint8(0), birth[0].Payload)
	f.Add(uint8(1), birth[1].Payload)
	f.Add(uint8(3), n.Death(4).Payload)
	topics := []string{"spBv1.0/g/NBIRTH/e", "spBv1.0/g/DBIRTH/e/d", "spBv1.0/g/DDATA/e/d", "spBv1.0/g/NDEATH/e", "spBv1.0/g/NDATA/e", "spBv1.0/g/DDEATH/e/d"}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		h, err := newHost("h", items([]model.Type{model.Float64, model.String, model.Int8}, "g/e/d/m", "g/e/bdSeq", "g/e/d/x"), noLen, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1700000000, 0)
		for _, m := range birth {
			h.handle(m.Topic, m.Payload, now, nil)
		}
		r := h.handle(topics[int(which)%len(topics)], payload, now, nil)
		for _, u := range r.updates {
			if u.Quality.IsGood() && !u.Value.IsValid() || u.Quality.IsBad() && u.Code == 0 && u.Quality != model.Bad {
				t.Fatalf("update %+v", u)
			}
		}
	})
}

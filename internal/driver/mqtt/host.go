package mqtt

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

type nodeKey struct{ group, edge string }

type devKey struct {
	nodeKey
	device string
}

type metricKey struct {
	devKey
	metric string
}

// target is what a birth said of a metric.
type target struct {
	device, name string
	typ          sparkplug.DataType
}

// nodeState is what the host knows of one edge node since its last birth.
type nodeState struct {
	born        bool
	bdSeq       uint64
	hasBdSeq    bool
	next        uint64 // expected seq of the next message
	aliases     map[uint64]target
	named       map[devKey]map[string]sparkplug.DataType // metric types by device and name
	devBorn     map[string]bool
	lastRebirth time.Time
	stale       bool // a seq gap was seen: rebirth asked until the node is born again
}

// hostStats count what went wrong, for the device's health.
type hostStats struct {
	Malformed, Gaps, Rebirths, UnknownAlias, Deaths uint64
}

// host is a Sparkplug B 3.0 host application's view of the edge nodes its
// tags name. It does no I/O: handle returns the updates for the engine and
// the commands (rebirth requests) to publish.
type host struct {
	id           string
	rebirthEvery time.Duration
	types        []model.Type
	maxLen       []int
	byMetric     map[metricKey][]int
	byDevice     map[devKey][]int
	nodes        map[nodeKey]*nodeState
	order        []nodeKey
	stats        hostStats
}

func newHost(id string, items []driver.Item, maxLen func(int) int, rebirthEvery time.Duration) (*host, error) {
	h := &host{id: id, rebirthEvery: rebirthEvery, byMetric: map[metricKey][]int{}, byDevice: map[devKey][]int{}, nodes: map[nodeKey]*nodeState{}}
	for i, it := range items {
		a, err := parseSparkplugAddr(it.Address)
		if err != nil {
			return nil, err
		}
		k := metricKey{devKey{a.node(), a.device}, a.metric}
		h.byMetric[k] = append(h.byMetric[k], i)
		h.byDevice[k.devKey] = append(h.byDevice[k.devKey], i)
		if h.nodes[a.node()] == nil {
			h.nodes[a.node()] = &nodeState{}
			h.order = append(h.order, a.node())
		}
		h.types = append(h.types, it.Point.Type)
		h.maxLen = append(h.maxLen, maxLen(i))
	}
	return h, nil
}

// filters are the subscriptions: every message type of each edge node.
// "spBv1.0/g/+/e/#" matches the node's own topics and its devices'.
func (h *host) filters() []string {
	out := make([]string, len(h.order))
	for i, k := range h.order {
		out[i] = sparkplug.Namespace + "/" + k.group + "/+/" + k.edge + "/#"
	}
	return out
}

// stateTopic is the host's STATE topic (Sparkplug 3.0 §7.4).
func stateTopic(id string) string { return sparkplug.Namespace + "/STATE/" + id }

// statePayload is {"online":true|false,"timestamp":ms}; the death (the
// will) carries the timestamp of the birth it ends.
func statePayload(online bool, ms int64) []byte {
	return []byte(`{"online":` + strconv.FormatBool(online) + `,"timestamp":` + strconv.FormatInt(ms, 10) + `}`)
}

// rebirth is the NCMD that asks an edge node for its births.
func rebirth(k nodeKey, now time.Time) sparkplug.Message {
	ms := uint64(now.UnixMilli())
	p := sparkplug.Payload{Timestamp: ms, Metrics: []sparkplug.Metric{{Name: sparkplug.RebirthMetric, Timestamp: ms,
		Datatype: sparkplug.TypeBoolean, Value: model.BoolValue(true), Quality: sparkplug.QualityGood}}}
	return sparkplug.Message{Topic: sparkplug.Namespace + "/" + k.group + "/NCMD/" + k.edge, Payload: p.Marshal(nil)}
}

// result is what one message gives.
type result struct {
	updates []driver.Update
	cmds    []sparkplug.Message
	err     error // the problem to count and log, if any
}

func (h *host) bad(r *result, items []int, q model.Quality, c errcode.Code) {
	for _, i := range items {
		r.updates = append(r.updates, driver.Update{Item: i, Quality: q, Code: uint16(c)})
	}
}

// nodeItems lists the items of every device of node k (the node's own
// metrics are device "").
func (h *host) nodeItems(k nodeKey) []int {
	var out []int
	for dk, items := range h.byDevice {
		if dk.nodeKey == k {
			out = append(out, items...)
		}
	}
	return out
}

func (h *host) askRebirth(r *result, k nodeKey, st *nodeState, now time.Time) {
	if !st.lastRebirth.IsZero() && now.Sub(st.lastRebirth) < h.rebirthEvery {
		return
	}
	st.lastRebirth = now
	h.stats.Rebirths++
	r.cmds = append(r.cmds, rebirth(k, now))
}

// handle processes one message of the subscriptions. now is the arrival
// time.
func (h *host) handle(topic string, payload []byte, now time.Time, out []driver.Update) result {
	r := result{updates: out}
	parts := strings.Split(topic, "/")
	if len(parts) < 4 || len(parts) > 5 || parts[0] != sparkplug.Namespace {
		return r
	}
	k := nodeKey{parts[1], parts[3]}
	typ := parts[2]
	device := ""
	if len(parts) == 5 {
		device = parts[4]
	}
	st := h.nodes[k]
	if st == nil || typ == "NCMD" || typ == "DCMD" {
		return r
	}
	p, err := sparkplug.Unmarshal(payload)
	if err != nil {
		h.stats.Malformed++
		r.err = errcode.Wrap(errcode.MQTTSparkplugDecode, err, "%s", topic)
		items := h.byDevice[devKey{k, device}]
		if typ == "NBIRTH" || typ == "NDATA" || typ == "NDEATH" {
			items = h.nodeItems(k)
		}
		h.bad(&r, items, model.BadDecodingError, errcode.MQTTSparkplugDecode)
		if typ != "NDEATH" && typ != "DDEATH" {
			st.born = false
			h.askRebirth(&r, k, st, now)
		}
		return r
	}
	switch typ {
	case "NBIRTH":
		h.nodeBirth(&r, k, st, p, now)
		return r
	case "NDEATH":
		bd, ok := bdSeqOf(p)
		if ok && st.hasBdSeq && bd != st.bdSeq {
			return r // the death of an earlier session, after the new birth
		}
		st.born = false
		h.stats.Deaths++
		h.bad(&r, h.nodeItems(k), model.BadNotConnected, errcode.MQTTNodeDead)
		return r
	case "DBIRTH", "NDATA", "DDATA", "DDEATH":
	default:
		return r
	}
	if !st.born {
		// Data from a node whose birth this host has not seen: it
		// started after the node, or lost the birth.
		h.askRebirth(&r, k, st, now)
		return r
	}
	if !p.HasSeq || p.Seq != st.next {
		h.stats.Gaps++
		got := "none"
		if p.HasSeq {
			got = strconv.FormatUint(p.Seq, 10)
		}
		r.err = errcode.New(errcode.MQTTSeqGap, "edge node %s/%s: seq %s, expected %d: asked for a rebirth", k.group, k.edge, got, st.next)
		h.askRebirth(&r, k, st, now)
		// Until the new birth comes, every message asks again (at most
		// once per rebirth interval): the request goes at QoS 0 and may
		// be lost, or may have been rate-limited away.
		st.stale = true
	} else if st.stale {
		h.askRebirth(&r, k, st, now)
	}
	st.next = (p.Seq + 1) % 256
	switch typ {
	case "DBIRTH":
		h.deviceBirth(&r, k, st, device, p)
	case "DDEATH":
		st.devBorn[device] = false
		h.stats.Deaths++
		h.bad(&r, h.byDevice[devKey{k, device}], model.BadNotConnected, errcode.MQTTNodeDead)
	case "NDATA", "DDATA":
		if typ == "DDATA" && !st.devBorn[device] {
			h.askRebirth(&r, k, st, now)
			return r
		}
		h.data(&r, k, st, device, p, now)
	}
	return r
}

func bdSeqOf(p *sparkplug.Payload) (uint64, bool) {
	for _, m := range p.Metrics {
		if m.Name == "bdSeq" && m.Value.IsValid() {
			return m.Value.Uint(), true
		}
	}
	return 0, false
}

func (h *host) nodeBirth(r *result, k nodeKey, st *nodeState, p *sparkplug.Payload, now time.Time) {
	*st = nodeState{born: true, next: (p.Seq + 1) % 256, aliases: map[uint64]target{}, named: map[devKey]map[string]sparkplug.DataType{},
		devBorn: map[string]bool{}, lastRebirth: st.lastRebirth}
	st.bdSeq, st.hasBdSeq = bdSeqOf(p)
	h.births(r, k, st, "", p)
}

func (h *host) deviceBirth(r *result, k nodeKey, st *nodeState, device string, p *sparkplug.Payload) {
	for a, t := range st.aliases {
		if t.device == device {
			delete(st.aliases, a)
		}
	}
	st.devBorn[device] = true
	h.births(r, k, st, device, p)
}

// births records the metrics of a birth and reports their values; tags of
// that node or device whose metric the birth lacks are configuration
// errors.
func (h *host) births(r *result, k nodeKey, st *nodeState, device string, p *sparkplug.Payload) {
	dk := devKey{k, device}
	types := map[string]sparkplug.DataType{}
	st.named[dk] = types
	for _, m := range p.Metrics {
		if m.Name == "" {
			continue
		}
		types[m.Name] = m.Datatype
		if m.HasAlias {
			st.aliases[m.Alias] = target{device: device, name: m.Name, typ: m.Datatype}
		}
		h.report(r, metricKey{dk, m.Name}, m, p.Timestamp)
	}
	for mk, items := range h.byMetric {
		if mk.devKey == dk {
			if _, ok := types[mk.metric]; !ok {
				h.bad(r, items, model.BadConfigurationError, errcode.MQTTNotBorn)
			}
		}
	}
}

func (h *host) data(r *result, k nodeKey, st *nodeState, device string, p *sparkplug.Payload, now time.Time) {
	dk := devKey{k, device}
	for _, m := range p.Metrics {
		name, typ := m.Name, sparkplug.TypeUnknown
		if m.HasAlias && name == "" {
			t, ok := st.aliases[m.Alias]
			if !ok || t.device != device {
				h.stats.UnknownAlias++
				if r.err == nil {
					r.err = errcode.New(errcode.MQTTUnknownAlias, "edge node %s/%s: alias %d is not in its birth: asked for a rebirth", k.group, k.edge, m.Alias)
				}
				h.askRebirth(r, k, st, now)
				continue
			}
			name, typ = t.name, t.typ
		} else if ts, ok := st.named[dk]; ok {
			typ = ts[name]
		}
		if m.Datatype == sparkplug.TypeUnknown && typ != sparkplug.TypeUnknown {
			tm, err := m.Typed(typ)
			if err != nil {
				h.stats.Malformed++
				if r.err == nil {
					r.err = errcode.Wrap(errcode.MQTTSparkplugDecode, err, "edge node %s/%s", k.group, k.edge)
				}
				h.bad(r, h.byMetric[metricKey{dk, name}], model.BadDecodingError, errcode.MQTTSparkplugDecode)
				continue
			}
			m = tm
		}
		h.report(r, metricKey{dk, name}, m, p.Timestamp)
	}
}

// report gives a metric's value to the tags that name it.
func (h *host) report(r *result, mk metricKey, m sparkplug.Metric, payloadMs uint64) {
	items := h.byMetric[mk]
	if len(items) == 0 {
		return
	}
	ts := m.Timestamp
	if ts == 0 {
		ts = payloadMs
	}
	var src int64
	if ts != 0 && ts <= math.MaxInt64/1_000_000 {
		src = int64(ts) * 1e6
	}
	q := model.Good
	switch {
	case m.Quality >= sparkplug.QualityGood:
	case m.Quality >= sparkplug.QualityUncertain:
		q = model.Uncertain
	default:
		q = model.Bad
	}
	for _, i := range items {
		u := driver.Update{Item: i, Source: src, Quality: q}
		switch {
		case m.IsNull:
			u.Quality, u.Code = model.Bad, uint16(errcode.MQTTNoValue)
		case !m.Value.IsValid():
			u.Quality, u.Code = model.BadDecodingError, uint16(errcode.MQTTBadValue)
		default:
			v, bv := convertValue(m.Value, h.types[i], h.maxLen[i])
			if bv != nil {
				u.Quality, u.Code = bv.q, uint16(errcode.Of(bv.err))
			} else {
				u.Value = v
			}
		}
		r.updates = append(r.updates, u)
	}
}

// convertValue converts a typed value to the tag's type.
func convertValue(v model.Value, t model.Type, maxLen int) (model.Value, *badValue) {
	switch {
	case v.T == t && t != model.String:
		return v, nil
	case v.T == model.Bool:
		return convert(v.Bool(), t, maxLen)
	case v.T == model.String:
		return convert(v.Str(), t, maxLen)
	}
	return convertText(v.String(), t, maxLen)
}

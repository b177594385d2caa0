package mqtt

import (
	"fmt"
	"strings"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// binding is one tag on a topic.
type binding struct {
	item   int
	value  path // nil: the whole payload
	time   path // nil: no timestamp in the payload
	typ    model.Type
	maxLen int
}

// jsonMap routes the messages of json mode to tags. It does no I/O.
type jsonMap struct {
	topics map[string][]binding
	order  []string // topics in the order of the items, for SUBSCRIBE
}

// newJSONMap builds the routing table. defaultTime is the device's
// timestamp option ("" = none); it applies to tags with a value path and
// no time path of their own. maxLen gives each item's string length.
func newJSONMap(items []driver.Item, maxLen func(i int) int, defaultTime string) (*jsonMap, error) {
	var dt path
	if defaultTime != "" {
		p, n, err := parsePath(defaultTime)
		if err != nil || n != len(defaultTime) {
			if err == nil {
				err = errcode.New(errcode.MQTTBadOptions, "unexpected %q", defaultTime[n:])
			}
			return nil, errcode.Wrap(errcode.MQTTBadOptions, err, "timestamp option %q", defaultTime)
		}
		dt = p
	}
	m := &jsonMap{topics: map[string][]binding{}}
	for i, it := range items {
		a, err := parseJSONAddr(it.Address)
		if err != nil {
			return nil, err
		}
		b := binding{item: i, value: a.value, time: a.time, typ: it.Point.Type, maxLen: maxLen(i)}
		if !a.hasTS && a.value != nil {
			b.time = dt
		}
		if _, seen := m.topics[a.topic]; !seen {
			m.order = append(m.order, a.topic)
		}
		m.topics[a.topic] = append(m.topics[a.topic], b)
	}
	return m, nil
}

// handle decodes one message into updates for the tags on its topic,
// appended to out. A payload that cannot be decoded gives each of them a
// bad update with the code that says why; err reports the first such
// failure for counting and logging.
func (m *jsonMap) handle(topic string, payload []byte, out []driver.Update) ([]driver.Update, error) {
	bs := m.topics[topic]
	if len(bs) == 0 {
		return out, nil
	}
	var doc any
	var docErr error
	decoded := false
	var first error
	fail := func(b binding, bv *badValue) {
		out = append(out, driver.Update{Item: b.item, Quality: bv.q, Code: uint16(errcode.Of(bv.err))})
		if first == nil {
			first = fmt.Errorf("topic %s: %w", topic, bv.err)
		}
	}
	for _, b := range bs {
		if b.value == nil {
			v, bv := plain(payload, b.typ, b.maxLen)
			if bv != nil {
				fail(b, bv)
				continue
			}
			out = append(out, driver.Update{Item: b.item, Value: v, Quality: model.Good})
			continue
		}
		if !decoded {
			doc, docErr = decodeJSON(payload)
			decoded = true
		}
		if docErr != nil {
			fail(b, &badValue{q: model.BadDecodingError, err: docErr})
			continue
		}
		x, ok := b.value.find(doc)
		if !ok {
			fail(b, failed(model.BadDecodingError, errcode.MQTTNoValue, "path %s finds nothing in the payload", b.value))
			continue
		}
		v, bv := convert(x, b.typ, b.maxLen)
		if bv != nil {
			fail(b, bv)
			continue
		}
		u := driver.Update{Item: b.item, Value: v, Quality: model.Good}
		if b.time != nil {
			// A missing or bad timestamp keeps the value (with the
			// arrival time): the reading itself is fine.
			if tx, ok := b.time.find(doc); !ok {
				if first == nil {
					first = errcode.New(errcode.MQTTBadTimestamp, "topic %s: timestamp path %s finds nothing", topic, b.time)
				}
			} else if ts, err := parseTime(tx); err != nil {
				if first == nil {
					first = fmt.Errorf("topic %s: %w", topic, err)
				}
			} else {
				u.Source = ts
			}
		}
		out = append(out, u)
	}
	return out, first
}

// plain reads a payload mapped without a path: a JSON scalar ("21.5",
// "true", "\"text\"") or bare text ("ON" for a string tag, " 42\n").
func plain(payload []byte, t model.Type, maxLen int) (model.Value, *badValue) {
	s := strings.TrimSpace(string(payload))
	if s == "" {
		return model.Value{}, failed(model.BadDecodingError, errcode.MQTTNoValue, "the payload is empty")
	}
	if c := s[0]; c == '{' || c == '[' || c == '"' {
		doc, err := decodeJSON(payload)
		if err != nil {
			if t == model.String {
				return model.StringValue(truncate(s, maxLen)), nil
			}
			return model.Value{}, &badValue{q: model.BadDecodingError, err: err}
		}
		return convert(doc, t, maxLen)
	}
	if t == model.String {
		return model.StringValue(truncate(string(payload), maxLen)), nil
	}
	if s == "null" {
		return model.Value{}, failed(model.BadDecodingError, errcode.MQTTNoValue, "the value is null")
	}
	return convertText(s, t, maxLen)
}

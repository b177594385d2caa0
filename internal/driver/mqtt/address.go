package mqtt

import (
	"strings"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// jsonAddr is a tag address in json mode:
//
//	topic                       the whole payload is the value
//	topic#$.path.to[0].value    the value at a JSON path
//	topic#$.value#$.ts          ... and its source timestamp
//
// '#' cannot be part of a topic name (it is a filter wildcard), so it
// separates the parts without ambiguity; a path's own '#' must be inside
// ['quoted'] keys.
type jsonAddr struct {
	topic string
	value path // nil: the whole payload
	time  path // nil: the device's timestamp option, or arrival time
	hasTS bool
}

func parseJSONAddr(s string) (jsonAddr, error) {
	var a jsonAddr
	topic, rest, hasPath := strings.Cut(s, "#")
	if err := checkTopic(topic); err != nil {
		return a, err
	}
	a.topic = topic
	if !hasPath {
		return a, nil
	}
	if rest == "" {
		return a, errcode.New(errcode.MQTTBadAddress, "address %q: '#' is a wildcard; a tag names one exact topic (write topic#$.path for a JSON path)", s)
	}
	p, n, err := parsePath(rest)
	if err != nil {
		return a, errcode.Wrap(errcode.MQTTBadAddress, err, "address %q: value path", s)
	}
	a.value = p
	rest = rest[n:]
	if rest == "" {
		return a, nil
	}
	if rest[0] != '#' || len(rest) == 1 {
		return a, errcode.New(errcode.MQTTBadAddress, "address %q: unexpected %q after the value path", s, rest)
	}
	tp, n, err := parsePath(rest[1:])
	if err != nil {
		return a, errcode.Wrap(errcode.MQTTBadAddress, err, "address %q: timestamp path", s)
	}
	if n != len(rest)-1 {
		return a, errcode.New(errcode.MQTTBadAddress, "address %q: unexpected %q after the timestamp path", s, rest[1+n:])
	}
	a.time, a.hasTS = tp, true
	return a, nil
}

// checkTopic accepts an MQTT topic name: not empty, no wildcard, no NUL,
// at most 65535 bytes.
func checkTopic(t string) error {
	switch {
	case t == "":
		return errcode.New(errcode.MQTTBadAddress, "empty topic")
	case strings.ContainsAny(t, "+#"):
		return errcode.New(errcode.MQTTBadAddress, "topic %q has a wildcard: a tag names one exact topic", t)
	case strings.ContainsRune(t, 0):
		return errcode.New(errcode.MQTTBadAddress, "topic %q holds a NUL character", t)
	case len(t) > 65535:
		return errcode.New(errcode.MQTTBadAddress, "topic is longer than 65535 bytes")
	}
	return nil
}

// spAddr is a tag address in sparkplug mode:
//
//	group/edge/metric               a metric of the edge node itself
//	group/edge/device/metric        a metric of a device of the node
//	group/edge//metric/with/slashes a node metric whose name holds '/'
//
// Metric names may contain '/', ids may not (Sparkplug 3.0), so with four
// or more segments the third is the device; an empty third segment says
// "node metric" when the name has slashes.
type spAddr struct {
	group, edge, device, metric string
}

func (a spAddr) node() nodeKey { return nodeKey{a.group, a.edge} }

func parseSparkplugAddr(s string) (spAddr, error) {
	parts := strings.SplitN(s, "/", 4)
	var a spAddr
	if len(parts) < 3 {
		return a, errcode.New(errcode.MQTTBadAddress, "sparkplug address %q: write group/edge/metric or group/edge/device/metric", s)
	}
	a.group, a.edge = parts[0], parts[1]
	if len(parts) == 3 {
		a.metric = parts[2]
	} else {
		a.device, a.metric = parts[2], parts[3]
	}
	for _, id := range []string{a.group, a.edge} {
		if !sparkplug.ValidID(id) {
			return a, errcode.New(errcode.MQTTBadAddress, "sparkplug address %q: group and edge node ids must be non-empty without + #", s)
		}
	}
	if a.device != "" && !sparkplug.ValidID(a.device) {
		return a, errcode.New(errcode.MQTTBadAddress, "sparkplug address %q: device id %q has + or #", s, a.device)
	}
	if a.metric == "" {
		return a, errcode.New(errcode.MQTTBadAddress, "sparkplug address %q names no metric", s)
	}
	return a, nil
}

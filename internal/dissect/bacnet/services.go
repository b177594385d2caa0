package bacnet

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/otlink/otlink/internal/dissect"
)

const deviceType = 8

// property walks the tags of ReadProperty, WriteProperty, their ACKs and
// the Multiple variants: the object identifier is context tag 0 at the top
// level; the property id is context tag 1 at the top level for the single
// services, and context tag 0 (2 in an ACK) inside the list for the
// multiple ones; the first application-tagged value inside the next
// opening tag is the property's value.
func (p *parser) property(body []byte, multiple, ack bool) {
	propDepth, propTag := 0, uint8(1)
	if multiple {
		propDepth, propTag = 1, 0
		if ack {
			propTag = 2
		}
	}
	var objType, inst uint32
	haveObj, haveVal := false, true
	depth := 0
	r := reader{b: body}
	for {
		t, ok := r.next()
		if !ok {
			break
		}
		switch {
		case t.open:
			depth++
			continue
		case t.close:
			depth--
			if depth < 0 {
				p.pdu.Malformed = "unbalanced closing tag"
				return
			}
			continue
		}
		switch {
		case depth == 0 && t.context && t.num == 0:
			objType, inst, haveObj = t.objectID()
		case depth == propDepth && t.context && t.num == propTag && haveObj:
			if len(p.objs) == maxObjects {
				return
			}
			prop := t.uint()
			k := uint64(objType)<<32 | uint64(prop)
			sp := names.Get(k)
			if sp == "" {
				sp = names.Put(k, objectTypeName(objType)+" "+propertyName(prop))
			}
			p.objs = append(p.objs, dissect.Object{Space: sp, Start: inst, Count: 1})
			haveVal = false
		case depth == propDepth+1 && !t.context && !haveVal && len(p.objs) > 0:
			haveVal = true
			o := &p.objs[len(p.objs)-1]
			if v, ok := t.number(); ok {
				if cap(p.vals) == 0 {
					p.vals = make([]float64, 0, maxObjects)
				}
				p.vals = append(p.vals, v)
				n := len(p.vals)
				o.Values = p.vals[n-1 : n : n]
			}
			if objType == deviceType && ack {
				p.deviceProperty(o.Space, t)
			}
		}
	}
	if r.bad != "" {
		p.pdu.Malformed = r.bad
	}
}

// deviceProperty records an identity field read from the device object.
func (p *parser) deviceProperty(space string, t tag) {
	name := ""
	switch space[len("device "):] {
	case "vendor-name":
		name = "vendor"
	case "model-name":
		name = "product"
	case "firmware-revision":
		name = "firmware"
	case "application-software-version":
		name = "software"
	case "object-name":
		name = "name"
	case "vendor-identifier":
		name = "vendor_id"
	case "location":
		name = "location"
	case "description":
		name = "description"
	default:
		return
	}
	s, ok := t.text()
	if !ok || s == "" {
		return
	}
	p.identity(name, s)
	if name == "vendor_id" {
		if id, err := strconv.Atoi(s); err == nil && vendors[id] != "" && p.pdu.Identity["vendor"] == "" {
			p.identity("vendor", vendors[id])
		}
	}
}

func (p *parser) identity(k, v string) {
	if p.pdu.Identity == nil {
		// The PDU's receiver copies what it keeps (dissect.PDU), so one
		// map serves every I-Am of the flow.
		if p.id == nil {
			p.id = map[string]string{}
		} else {
			clear(p.id)
		}
		p.pdu.Identity = p.id
	}
	p.pdu.Identity[k] = v
}

// firstObject records the first object identifier of a service that names
// one object (SubscribeCOV, AtomicReadFile, AtomicWriteFile).
func (p *parser) firstObject(body []byte) {
	r := reader{b: body}
	for range 4 {
		t, ok := r.next()
		if !ok {
			return
		}
		if (t.context && t.num == 1 || !t.context && t.num == 12) && len(t.val) == 4 {
			typ, inst, _ := t.objectID()
			p.objs = append(p.objs, dissect.Object{Space: objectTypeName(typ), Start: inst, Count: 1})
			return
		}
	}
}

var segmentationNames = [...]string{"both", "transmit", "receive", "none"}

// iAm reads the device identity of an I-Am: device object, max APDU,
// segmentation supported and vendor id.
func (p *parser) iAm(body []byte) {
	r := reader{b: body}
	var ts [4]tag
	for i := range ts {
		t, ok := r.next()
		if !ok || t.context {
			p.pdu.Malformed = "truncated i-am"
			if r.bad != "" {
				p.pdu.Malformed = r.bad
			}
			return
		}
		ts[i] = t
	}
	typ, inst, ok := ts[0].objectID()
	if !ok || ts[0].num != 12 {
		p.pdu.Malformed = "i-am without a device identifier"
		return
	}
	p.objs = append(p.objs, dissect.Object{Space: objectTypeName(typ), Start: inst, Count: 1})
	p.pdu.Objects = p.objs
	p.identity("device_instance", strconv.FormatUint(uint64(inst), 10))
	p.identity("max_apdu", strconv.FormatUint(uint64(ts[1].uint()), 10))
	if s := ts[2].uint(); s < uint32(len(segmentationNames)) {
		p.identity("segmentation", segmentationNames[s])
	}
	vid := int(ts[3].uint())
	p.identity("vendor_id", strconv.Itoa(vid))
	if v := vendors[vid]; v != "" {
		p.identity("vendor", v)
	}
}

// number reads a numeric application value: boolean, unsigned, signed,
// real, double or enumerated.
func (t tag) number() (float64, bool) {
	if t.context {
		return 0, false
	}
	switch t.num {
	case 1:
		return float64(t.lvt & 1), true
	case 2, 9:
		if len(t.val) > 4 {
			return 0, false
		}
		return float64(t.uint()), true
	case 3:
		if len(t.val) == 0 || len(t.val) > 4 {
			return 0, false
		}
		v := int32(int8(t.val[0]))
		for _, c := range t.val[1:] {
			v = v<<8 | int32(c)
		}
		return float64(v), true
	case 4:
		if len(t.val) == 4 {
			return float64(math.Float32frombits(binary.BigEndian.Uint32(t.val))), true
		}
	case 5:
		if len(t.val) == 8 {
			return math.Float64frombits(binary.BigEndian.Uint64(t.val)), true
		}
	}
	return 0, false
}

var objectTypes = [...]string{
	"analog-input", "analog-output", "analog-value", "binary-input", "binary-output", "binary-value",
	"calendar", "command", "device", "event-enrollment", "file", "group", "loop", "multi-state-input",
	"multi-state-output", "notification-class", "program", "schedule", "averaging", "multi-state-value",
	"trend-log", "life-safety-point", "life-safety-zone", "accumulator", "pulse-converter", "event-log",
	"global-group", "trend-log-multiple", "load-control", "structured-view", "access-door",
}

func objectTypeName(t uint32) string {
	if int(t) < len(objectTypes) {
		return objectTypes[t]
	}
	return "object-type-" + strconv.FormatUint(uint64(t), 10)
}

var propertyNames = map[uint32]string{
	8: "all", 11: "apdu-timeout", 12: "application-software-version", 28: "description",
	30: "device-address-binding", 36: "event-state", 44: "firmware-revision", 56: "local-date",
	57: "local-time", 58: "location", 62: "max-apdu-length-accepted", 70: "model-name",
	73: "number-of-apdu-retries", 75: "object-identifier", 76: "object-list", 77: "object-name",
	79: "object-type", 80: "optional", 81: "out-of-service", 85: "present-value", 87: "priority-array",
	96: "protocol-object-types-supported", 97: "protocol-services-supported", 98: "protocol-version",
	104: "relinquish-default", 105: "required", 107: "segmentation-supported", 111: "status-flags",
	112: "system-status", 117: "units", 120: "vendor-identifier", 121: "vendor-name",
	139: "protocol-revision", 155: "database-revision",
}

func propertyName(id uint32) string {
	if n, ok := propertyNames[id]; ok {
		return n
	}
	return "property-" + strconv.FormatUint(uint64(id), 10)
}

// vendors names the BACnet vendor identifiers most often seen (ASHRAE's
// registry has over a thousand).
var vendors = map[int]string{
	0: "ASHRAE", 1: "NIST", 2: "The Trane Company", 3: "McQuay International", 4: "PolarSoft",
	5: "Johnson Controls", 6: "American Auto-Matrix", 7: "Siemens Schweiz AG", 8: "Delta Controls",
	9: "Siemens Schweiz AG", 10: "Schneider Electric", 11: "TAC", 12: "Orion Analysis Corporation",
	13: "Teletrol Systems", 14: "Cimetrics Technology", 15: "Cornell University",
	16: "United Technologies Carrier", 17: "Honeywell", 18: "Alerton / Honeywell", 19: "TAC AB",
	20: "Hewlett-Packard", 21: "Dorsette's", 22: "Siemens Schweiz AG (Cerberus)",
	23: "York Controls Group", 24: "Automated Logic Corporation", 25: "CSI Control Systems International",
	26: "Phoenix Controls", 27: "Innovex Technologies", 28: "KMC Controls", 29: "Xn Technologies",
	30: "Hyundai Information Technology", 31: "Tokimec", 32: "Simplex", 33: "North Building Technologies",
	34: "Notifier", 35: "Reliable Controls", 36: "Tridium", 260: "BACnet Stack at SourceForge",
}

package bacnet

import (
	"fmt"
	"strconv"

	"github.com/otlink/otlink/internal/dissect"
)

// APDU types (the high nibble of the first octet).
const (
	confirmedReq = iota
	unconfirmedReq
	simpleACK
	complexACK
	segmentACK
	errorPDU
	rejectPDU
	abortPDU
)

var apduNames = [...]string{"Confirmed-Request", "Unconfirmed-Request", "SimpleACK", "ComplexACK", "SegmentACK", "Error", "Reject", "Abort"}

var confirmedNames = [...]string{
	"acknowledgeAlarm", "confirmedCOVNotification", "confirmedEventNotification", "getAlarmSummary",
	"getEnrollmentSummary", "subscribeCOV", "atomicReadFile", "atomicWriteFile", "addListElement",
	"removeListElement", "createObject", "deleteObject", "readProperty", "readPropertyConditional",
	"readPropertyMultiple", "writeProperty", "writePropertyMultiple", "deviceCommunicationControl",
	"confirmedPrivateTransfer", "confirmedTextMessage", "reinitializeDevice", "vtOpen", "vtClose",
	"vtData", "authenticate", "requestKey", "readRange", "lifeSafetyOperation", "subscribeCOVProperty",
	"getEventInformation", "subscribeCOVPropertyMultiple", "confirmedCOVNotificationMultiple",
	"confirmedAuditNotification", "auditLogQuery",
}

var unconfirmedNames = [...]string{
	"i-Am", "i-Have", "unconfirmedCOVNotification", "unconfirmedEventNotification",
	"unconfirmedPrivateTransfer", "unconfirmedTextMessage", "timeSynchronization", "who-Has", "who-Is",
	"utcTimeSynchronization", "writeGroup", "unconfirmedCOVNotificationMultiple",
	"unconfirmedAuditNotification", "who-Am-I", "you-Are",
}

var confirmedActions = [256]dissect.Action{
	0: dissect.ActWrite, 1: dissect.ActData, 2: dissect.ActData, 3: dissect.ActRead, 4: dissect.ActRead,
	5: dissect.ActSubscribe, 6: dissect.ActUpload, 7: dissect.ActDownload, 8: dissect.ActWrite,
	9: dissect.ActWrite, 10: dissect.ActWrite, 11: dissect.ActWrite, 12: dissect.ActRead, 13: dissect.ActRead,
	14: dissect.ActRead, 15: dissect.ActWrite, 16: dissect.ActWrite, 17: dissect.ActModeChange,
	20: dissect.ActRestart, 24: dissect.ActAuth, 25: dissect.ActAuth, 26: dissect.ActRead,
	27: dissect.ActWrite, 28: dissect.ActSubscribe, 29: dissect.ActRead, 30: dissect.ActSubscribe,
	31: dissect.ActData, 32: dissect.ActData, 33: dissect.ActRead,
}

var unconfirmedActions = [256]dissect.Action{
	0: dissect.ActIdentify, 1: dissect.ActIdentify, 2: dissect.ActData, 3: dissect.ActData,
	6: dissect.ActTimeSet, 7: dissect.ActIdentify, 8: dissect.ActIdentify, 9: dissect.ActTimeSet,
	10: dissect.ActWrite, 11: dissect.ActData, 12: dissect.ActData, 13: dissect.ActIdentify, 14: dissect.ActIdentify,
}

// apdu decodes the application layer. tshark shows bacapp.confirmed_service
// in confirmed requests, SimpleACK, ComplexACK (every segment) and Error,
// and bacapp.unconfirmed_service in unconfirmed requests; SegmentACK,
// Reject and Abort carry no service and are not counted.
func (p *parser) apdu(b []byte) {
	if len(b) < 1 {
		p.pdu.Malformed = "npdu without an apdu"
		return
	}
	typ := b[0] >> 4
	if int(typ) >= len(apduNames) {
		p.pdu.Malformed = fmt.Sprintf("reserved apdu type %d", typ)
		return
	}
	p.pdu.Name = apduNames[typ]
	var svcOff int
	seg := b[0]&0x08 != 0
	switch typ {
	case confirmedReq:
		svcOff = 3
		if seg {
			svcOff = 5
		}
		p.pdu.Request = true
	case unconfirmedReq:
		svcOff = 1
		p.pdu.Request = true
	case simpleACK, errorPDU:
		svcOff = 2
		p.pdu.Response = true
	case complexACK:
		svcOff = 2
		if seg {
			svcOff = 4
		}
		p.pdu.Response = true
	case segmentACK, rejectPDU, abortPDU:
		p.pdu.Response = typ != segmentACK
		if len(b) < 3 {
			p.pdu.Malformed = "truncated " + apduNames[typ]
			return
		}
		if typ != segmentACK {
			p.pdu.Exception = uint32(b[2])
		}
		return
	}
	if len(b) <= svcOff {
		p.pdu.Malformed = "truncated " + apduNames[typ]
		return
	}
	svc := b[svcOff]
	p.pdu.Function = uint32(svc)
	body := b[svcOff+1:]
	if typ == unconfirmedReq {
		p.pdu.Counting = dissect.CountUnconfirmed
		p.pdu.Action = unconfirmedActions[svc]
		p.pdu.Name = serviceName(unconfirmedNames[:], svc)
		if svc == 0 {
			p.iAm(body)
		}
		return
	}
	p.pdu.Counting = dissect.CountFunction
	p.pdu.Action = confirmedActions[svc]
	p.pdu.Name = serviceName(confirmedNames[:], svc)
	if typ != confirmedReq {
		k := 1<<63 | uint64(typ)<<8 | uint64(svc)
		if n := names.Get(k); n != "" {
			p.pdu.Name = n
		} else {
			p.pdu.Name = names.Put(k, p.pdu.Name+" "+apduNames[typ])
		}
	}
	if typ == errorPDU {
		p.pdu.Exception = errorCode(body)
		return
	}
	// A segment after the first carries the middle of the service data:
	// its tags cannot be read on their own.
	if seg && b[svcOff-2] != 0 {
		return
	}
	switch svc {
	case 12, 15: // readProperty, writeProperty
		p.property(body, false, typ == complexACK)
	case 14, 16: // readPropertyMultiple, writePropertyMultiple
		p.property(body, true, typ == complexACK)
	case 5, 6, 7, 28: // subscribeCOV (object in [1]), atomicRead/WriteFile (object first)
		p.firstObject(body)
	}
	if len(p.objs) > 0 {
		p.pdu.Objects = p.objs
	}
}

func serviceName(names []string, svc byte) string {
	if int(svc) < len(names) {
		return names[svc]
	}
	return "service " + strconv.Itoa(int(svc))
}

// errorCode reads the error class and code of an Error PDU as
// class<<16 | code, the way both are shown together.
func errorCode(b []byte) uint32 {
	var vals [2]uint32
	n := 0
	for r := (reader{b: b}); n < 2; {
		t, ok := r.next()
		if !ok {
			break
		}
		if t.open || t.close {
			continue
		}
		vals[n] = t.uint()
		n++
	}
	if n < 2 {
		return 1
	}
	return vals[0]<<16 | vals[1]
}

// names caches the names built from numbers (a service with its APDU
// type; an object type with a property), process-wide: keys of the first
// kind have the top bit set.
var names dissect.Names

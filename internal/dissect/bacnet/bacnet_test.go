package bacnet

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// bvlc wraps an APDU in an Original-Unicast-NPDU with a plain NPDU.
func bvlc(apdu ...byte) []byte {
	n := 4 + 2 + len(apdu)
	return append([]byte{0x81, 0x0a, byte(n >> 8), byte(n), 0x01, 0x04}, apdu...)
}

func parse(t *testing.T, b []byte) dissect.PDU {
	t.Helper()
	var got []dissect.PDU
	Dissector{}.NewParser().Data(dissect.Meta{T: dissect.UDP}, b, func(p *dissect.PDU) {
		q := *p
		q.Objects = append([]dissect.Object(nil), p.Objects...)
		for i := range q.Objects { // the parser reuses the values' memory
			q.Objects[i].Values = append([]float64(nil), q.Objects[i].Values...)
		}
		got = append(got, q)
	})
	if len(got) != 1 {
		t.Fatalf("%d pdus from one datagram", len(got))
	}
	return got[0]
}

func TestEncodedServices(t *testing.T) {
	// I-Am device 1001, max APDU 1476, segmentation both, vendor 8.
	iam := parse(t, []byte{0x81, 0x0b, 0x00, 0x14, 0x01, 0x00, 0x10, 0x00,
		0xc4, 0x02, 0x00, 0x03, 0xe9, 0x22, 0x05, 0xc4, 0x91, 0x00, 0x21, 0x08})
	if iam.Counting != dissect.CountUnconfirmed || iam.Function != 0 || iam.Action != dissect.ActIdentify ||
		iam.Identity["device_instance"] != "1001" || iam.Identity["vendor"] != "Delta Controls" ||
		iam.Identity["max_apdu"] != "1476" || iam.Identity["segmentation"] != "both" || iam.Malformed != "" {
		t.Fatalf("i-am: %+v", iam)
	}
	// WriteProperty analog-value 3 present-value = 42.5 (real), priority 8.
	wp := parse(t, bvlc(0x00, 0x05, 0x07, 0x0f, 0x0c, 0x00, 0x80, 0x00, 0x03, 0x19, 0x55,
		0x3e, 0x44, 0x42, 0x2a, 0x00, 0x00, 0x3f, 0x49, 0x08))
	if wp.Counting != dissect.CountFunction || wp.Function != 15 || wp.Action != dissect.ActWrite || !wp.Request ||
		len(wp.Objects) != 1 || wp.Objects[0].Space != "analog-value present-value" || wp.Objects[0].Start != 3 ||
		len(wp.Objects[0].Values) != 1 || wp.Objects[0].Values[0] != 42.5 {
		t.Fatalf("write property: %+v", wp)
	}
	// ReadProperty ComplexACK of device 1001 model-name "CX-1" (UTF-8).
	ack := parse(t, bvlc(0x30, 0x07, 0x0c, 0x0c, 0x02, 0x00, 0x03, 0xe9, 0x19, 70,
		0x3e, 0x75, 0x05, 0x00, 'C', 'X', '-', '1', 0x3f))
	if ack.Function != 12 || !ack.Response || ack.Identity["product"] != "CX-1" {
		t.Fatalf("read property ack: %+v", ack)
	}
	// ReinitializeDevice, then a Reject (not counted) and a truncated APDU.
	if p := parse(t, bvlc(0x00, 0x05, 0x01, 0x14, 0x09, 0x00)); p.Action != dissect.ActRestart || p.Function != 20 {
		t.Fatalf("reinitialize: %+v", p)
	}
	if p := parse(t, bvlc(0x60, 0x01, 0x02)); p.Counting != dissect.CountNone || p.Exception != 2 {
		t.Fatalf("reject: %+v", p)
	}
	if p := parse(t, bvlc(0x00, 0x05)); p.Malformed == "" || p.Counting != dissect.CountNone {
		t.Fatalf("truncated: %+v", p)
	}
	if p := parse(t, []byte("hello")); p.Malformed == "" {
		t.Fatalf("garbage: %+v", p)
	}
}

func TestProbe(t *testing.T) {
	d := Dissector{}
	if !d.Probe(dissect.UDP, bvlc(0x10, 0x08)) || d.Probe(dissect.UDP, []byte{0x81, 0x0a, 0, 99, 1, 0}) {
		t.Fatal("probe")
	}
}

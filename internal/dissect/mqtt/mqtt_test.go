package mqtt

import (
	"encoding/binary"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// pkt encodes one MQTT packet, independently of the decoder.
func pkt(first byte, body []byte) []byte {
	b := []byte{first}
	n := len(body)
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

func s(v string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(v))), v...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

type collect struct{ pdus []dissect.PDU }

func (c *collect) emit(p *dissect.PDU) {
	q := *p
	q.Objects = append([]dissect.Object(nil), p.Objects...)
	for i := range q.Objects { // the parser reuses the values' memory
		q.Objects[i].Values = append([]float64(nil), q.Objects[i].Values...)
	}
	c.pdus = append(c.pdus, q)
}

func feed(p dissect.Parser, dir dissect.Dir, b []byte, n int, c *collect) {
	for i := 0; i < len(b); i += n {
		p.Data(dissect.Meta{Dir: dir, T: dissect.TCP}, b[i:min(i+n, len(b))], c.emit)
	}
}

// connect5 is an MQTT 5 CONNECT with properties, a will, a username and a
// password.
func connect5() []byte {
	return pkt(0x10, cat(s("MQTT"), []byte{5, 0x80 | 0x40 | 0x04 | 0x02, 0, 60},
		[]byte{5, 0x11, 0, 0, 0, 30}, // properties: session expiry
		s("line1-gw"),
		[]byte{0}, s("plant/will"), s("gone"), // will properties, topic, payload
		s("operator"), s("secret")))
}

func TestExchangeSplitAnywhere(t *testing.T) {
	big := make([]byte, 300)
	cli := cat(
		connect5(),
		pkt(0x32, cat(s("spBv1.0/plant/DCMD/edge1/pump"), []byte{0, 9}, []byte{0}, []byte("payload"))),
		pkt(0x30, cat(s("plant/line1/temp"), []byte{0}, []byte("21.5"))),
		pkt(0x30, cat(s("plant/line1/image"), []byte{0}, big)),
		pkt(0x82, cat([]byte{0, 10}, []byte{0}, s("plant/#"), []byte{1}, s("spBv1.0/+/NDATA/#"), []byte{0})),
		pkt(0xc0, nil),
		pkt(0xe0, []byte{0}),
	)
	srv := cat(pkt(0x20, []byte{0, 0x87, 0}), pkt(0x40, []byte{0, 9, 0x10}), pkt(0x90, []byte{0, 10, 0, 1, 0x80}), pkt(0xd0, nil))
	for _, seg := range []int{1, 2, 5, 1000} {
		p := Dissector{}.NewParser()
		var c collect
		feed(p, dissect.ToServer, cli, seg, &c)
		feed(p, dissect.ToClient, srv, seg, &c)
		var fns []uint32
		for _, u := range c.pdus {
			fns = append(fns, u.Function)
			if u.Malformed != "" {
				t.Errorf("seg %d: %s malformed: %s", seg, u.Name, u.Malformed)
			}
			if u.Variant == "" {
				t.Errorf("seg %d: %s without variant", seg, u.Name)
			}
		}
		want := []uint32{1, 3, 3, 3, 8, 12, 14, 2, 4, 9, 13}
		if len(fns) != len(want) {
			t.Fatalf("seg %d: functions %v, want %v", seg, fns, want)
		}
		for i := range want {
			if fns[i] != want[i] {
				t.Fatalf("seg %d: functions %v, want %v", seg, fns, want)
			}
		}
		con := c.pdus[0]
		if con.Action != dissect.ActAuth || con.Identity["client_id"] != "line1-gw" || con.Identity["username"] != "present" ||
			con.Identity["password"] != "present" || con.Identity["will_topic"] != "plant/will" || con.Identity["keep_alive"] != "60" || con.Variant != "mqtt 5" {
			t.Errorf("connect %+v", con)
		}
		for k, v := range con.Identity {
			if v == "secret" || v == "operator" {
				t.Errorf("credential stored under %s", k)
			}
		}
		cmd := c.pdus[1]
		if cmd.Variant != "sparkplug b" || cmd.Action != dissect.ActWrite || cmd.Objects[0].Space != "spBv1.0/plant/DCMD/edge1/pump" || cmd.Objects[0].Count != 7 {
			t.Errorf("sparkplug command %+v", cmd)
		}
		temp := c.pdus[2]
		if temp.Action != dissect.ActData || len(temp.Objects[0].Values) != 1 || temp.Objects[0].Values[0] != 21.5 {
			t.Errorf("publish %+v", temp)
		}
		if c.pdus[3].Objects[0].Count != 300 {
			t.Errorf("payload size %+v", c.pdus[3].Objects)
		}
		sub := c.pdus[4]
		if sub.Action != dissect.ActSubscribe || len(sub.Objects) != 2 || sub.Objects[1].Space != "spBv1.0/+/NDATA/#" {
			t.Errorf("subscribe %+v", sub)
		}
		if c.pdus[7].Exception != 0x87 || c.pdus[9].Exception != 0x80 {
			t.Errorf("connack %+v suback %+v", c.pdus[7], c.pdus[9])
		}
	}
}

func TestMQTT31AndInvalidQoS(t *testing.T) {
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, cat(
		pkt(0x10, cat(s("MQIsdp"), []byte{3, 0x02, 0, 10}, s("old"))),
		pkt(0x36, cat(s("a/b"), []byte{0, 1}, []byte("x"))),
		pkt(0x30, cat(s("a/b"), []byte("y"))),
	), 3, &c)
	if len(c.pdus) != 3 || c.pdus[0].Variant != "mqtt 3.1" || c.pdus[0].Identity["client_id"] != "old" {
		t.Fatalf("%+v", c.pdus)
	}
	if c.pdus[1].Malformed == "" || c.pdus[1].Function != 3 || c.pdus[1].Counting != dissect.CountFunction {
		t.Errorf("QoS 3 publish: %+v", c.pdus[1])
	}
	if c.pdus[2].Malformed != "" || c.pdus[2].Objects[0].Space != "a/b" {
		t.Errorf("publish after: %+v", c.pdus[2])
	}
}

func TestTLSRecognised(t *testing.T) {
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, []byte{0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3}, 100, &c)
	feed(p, dissect.ToServer, []byte{0x10, 0x20, 0, 4}, 100, &c)
	if len(c.pdus) != 1 || c.pdus[0].Variant != "tls" || c.pdus[0].Counting != dissect.CountNone {
		t.Fatalf("%+v", c.pdus)
	}
}

func TestGarbageStopsAndGapResyncs(t *testing.T) {
	p := Dissector{}.NewParser()
	var c collect
	feed(p, dissect.ToServer, connect5(), 100, &c)
	feed(p, dissect.ToServer, []byte{0x00, 0x05, 1, 2, 3, 4, 5}, 100, &c)
	feed(p, dissect.ToServer, pkt(0xc0, nil), 100, &c)
	if len(c.pdus) != 2 || c.pdus[1].Malformed == "" {
		t.Fatalf("%+v", c.pdus)
	}
	// Gap: the tail of a PUBLISH, then whole packets ending the segment.
	p = Dissector{}.NewParser()
	c.pdus = nil
	pub := pkt(0x30, cat(s("plant/x"), []byte("12345678")))
	feed(p, dissect.ToClient, pub[:5], 100, &c)
	p.Gap(dissect.ToClient)
	feed(p, dissect.ToClient, cat(pub[9:], pub, pkt(0xd0, nil)), 100, &c)
	if len(c.pdus) != 2 || c.pdus[0].Function != 3 || c.pdus[1].Function != 13 {
		t.Fatalf("after gap: %+v", c.pdus)
	}
}

func TestProbe(t *testing.T) {
	d := Dissector{}
	if !d.Probe(dissect.TCP, connect5()) || !d.Probe(dissect.TCP, pkt(0x10, cat(s("MQIsdp"), []byte{3, 2, 0, 10}, s("c")))) {
		t.Error("connect not recognised")
	}
	for _, b := range [][]byte{[]byte("GET / HTTP/1.1\r\n"), pkt(0x10, cat(s("MQTT"), []byte{9, 2, 0, 10}, s("c"))), pkt(0x30, s("a"))} {
		if d.Probe(dissect.TCP, b) {
			t.Errorf("probe accepted %q", b)
		}
	}
}

package modbus

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// exchange is one request and its response, as PDUs.
type exchange struct{ q, r []byte }

// scenario returns Modbus exchanges built with the project's codec.
func scenario() []exchange {
	regs := []byte{0, 1, 0, 2, 0x12, 0x34}
	return []exchange{
		{mb.AppendReadRequest(nil, mb.FuncReadHoldingRegisters, 100, 3), mb.AppendReadResponse(nil, mb.FuncReadHoldingRegisters, regs)},
		{mb.AppendReadRequest(nil, mb.FuncReadCoils, 0, 10), mb.AppendReadResponse(nil, mb.FuncReadCoils, []byte{0x05, 0x02})},
		{mb.AppendWriteSingleRegister(nil, 7, 4242), mb.AppendWriteResponse(nil, mb.FuncWriteSingleRegister, 7, 4242)},
		{mb.AppendWriteMultipleRegisters(nil, 10, regs), mb.AppendWriteResponse(nil, mb.FuncWriteMultipleRegisters, 10, 3)},
		{mb.AppendWriteSingleCoil(nil, 3, true), mb.AppendExceptionResponse(nil, mb.FuncWriteSingleCoil, 2)},
		{mb.AppendReadDeviceIDRequest(nil, mb.DeviceIDBasic, 0), mb.AppendReadDeviceIDResponse(nil, mb.DeviceIDBasic, 0x81, false, 0, []mb.DeviceObject{
			{ID: 0, Value: []byte("otlink")}, {ID: 1, Value: []byte("SIM-1")}, {ID: 2, Value: []byte("v1.2")}})},
		{[]byte{8, 0, 1, 0, 0}, []byte{8, 0, 1, 0, 0}},                     // diagnostics: restart communications
		{[]byte{17}, []byte{17, 4, 0x2a, 0xff, 'P', 'L'}},                  // report server id
		{[]byte{22, 0, 5, 0xff, 0, 0, 1}, []byte{22, 0, 5, 0xff, 0, 0, 1}}, // mask write: unknown to the codec
	}
}

// writePcap writes the exchanges as one TCP connection on port 502, each
// ADU in its own segment except the last request, split in two.
func writePcap(t *testing.T, path string, xs []exchange) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	cli, srv := net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	seq := [2]uint32{1000, 5000}
	ts := time.Unix(1700000000, 0)
	send := func(toServer bool, payload []byte, syn bool) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cli, DstIP: srv}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 502, ACK: !syn, SYN: syn, PSH: len(payload) > 0, Window: 65535}
		d := 0
		if !toServer {
			ip.SrcIP, ip.DstIP = srv, cli
			tcp.SrcPort, tcp.DstPort = 502, 40000
			eth.SrcMAC, eth.DstMAC = eth.DstMAC, eth.SrcMAC
			d = 1
		}
		tcp.Seq, tcp.Ack = seq[d], seq[1-d]
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		seq[d] += uint32(len(payload))
		if syn {
			seq[d]++
		}
		ts = ts.Add(time.Millisecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	send(true, nil, true)
	send(false, nil, true)
	for i, x := range xs {
		q := mb.AppendMBAP(nil, uint16(i+1), 1, len(x.q))
		q = append(q, x.q...)
		if i == len(xs)-1 {
			send(true, q[:9], false)
			send(true, q[9:], false)
		} else {
			send(true, q, false)
		}
		r := append(mb.AppendMBAP(nil, uint16(i+1), 1, len(x.r)), x.r...)
		send(false, r, false)
	}
}

func TestGeneratedCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.pcap")
	xs := scenario()
	writePcap(t, path, xs)
	var pdus []dissect.PDU
	dissecttest.Replay(t, path, Dissector{}, func(p *dissect.PDU) {
		c := *p
		c.Objects = append([]dissect.Object(nil), p.Objects...)
		for i := range c.Objects {
			c.Objects[i].Values = append([]float64(nil), c.Objects[i].Values...)
		}
		c.Identity = map[string]string{}
		for k, v := range p.Identity {
			c.Identity[k] = v
		}
		pdus = append(pdus, c)
	})
	if len(pdus) != 2*len(xs) {
		t.Fatalf("%d PDUs, want %d", len(pdus), 2*len(xs))
	}
	for i, p := range pdus {
		if p.Malformed != "" {
			t.Errorf("PDU %d (%s) malformed: %s", i, p.Name, p.Malformed)
		}
		if p.Request != (i%2 == 0) || p.Unit != 1 {
			t.Errorf("PDU %d: request %v unit %d", i, p.Request, p.Unit)
		}
	}
	// Read response: values at the request's addresses.
	if o := pdus[1].Objects; len(o) != 1 || o[0].Space != "holding" || o[0].Start != 100 || o[0].Count != 3 ||
		len(o[0].Values) != 3 || o[0].Values[2] != 0x1234 {
		t.Errorf("read holding response objects = %+v", o)
	}
	if o := pdus[3].Objects; len(o) != 1 || o[0].Space != "coil" || len(o[0].Values) != 10 || o[0].Values[0] != 1 || o[0].Values[1] != 0 || o[0].Values[2] != 1 || o[0].Values[9] != 1 {
		t.Errorf("read coils response objects = %+v", o)
	}
	if p := pdus[4]; p.Action != dissect.ActWrite || p.Objects[0].Values[0] != 4242 {
		t.Errorf("write single register = %+v", p)
	}
	if p := pdus[6]; p.Action != dissect.ActWrite || len(p.Objects[0].Values) != 3 {
		t.Errorf("write multiple registers = %+v", p)
	}
	if p := pdus[9]; p.Exception != 2 || p.Function != 5 {
		t.Errorf("exception response = %+v", p)
	}
	if p := pdus[11]; p.Action != dissect.ActIdentify || p.Identity["vendor"] != "otlink" || p.Identity["product_code"] != "SIM-1" || p.Identity["revision"] != "v1.2" {
		t.Errorf("device identification = %+v", p)
	}
	if p := pdus[12]; p.Action != dissect.ActRestart {
		t.Errorf("diagnostics restart: action %v", p.Action)
	}
	if p := pdus[15]; p.Action != dissect.ActIdentify || p.Identity["server_id"] != "42" || p.Identity["run"] != "on" {
		t.Errorf("report server id = %+v", p)
	}
	if p := pdus[16]; p.Function != 22 || p.Action != dissect.ActWrite {
		t.Errorf("mask write = %+v", p)
	}
	if dissecttest.HasTshark() {
		ours := dissecttest.CountPDUs(t, path, Dissector{}, dissect.CountFunction)
		theirs := dissecttest.Tshark(t, path, "modbus.func_code")
		if d := dissecttest.Diff(ours, theirs); d != "" {
			t.Errorf("generated capture disagrees with tshark:%s", d)
		}
	} else {
		t.Log("tshark not installed: agreement not checked")
	}
}

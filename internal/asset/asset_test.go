package asset_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/flow"
)

func mac(s string) [6]byte {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return [6]byte(hw)
}

func fl(cli, srv string, sport uint16, proto string) *flow.Flow {
	return &flow.Flow{T: dissect.TCP, Client: netip.MustParseAddrPort(cli + ":40000"), Server: netip.AddrPortFrom(netip.MustParseAddr(srv), sport),
		Proto: proto, First: 1e18, Last: 1e18 + 5e9, Packets: [2]uint64{10, 8}, Bytes: [2]uint64{120, 300}, PDUs: 9}
}

func req(p *dissect.PDU, a dissect.Action, fn uint32, objs ...dissect.Object) *dissect.PDU {
	*p = dissect.PDU{Proto: "modbus", Function: fn, Request: true, Action: a, Objects: objs, Meta: dissect.Meta{Dir: dissect.ToServer, Time: 1e18}}
	return p
}

func TestRolesVendorsAndExport(t *testing.T) {
	inv := asset.New()
	var p dissect.PDU
	// An HMI polling one PLC, a historian reading six, an engineering
	// station downloading a program.
	hmiPLC := fl("10.0.0.10", "10.0.0.20", 502, "modbus")
	hmiPLC.MAC = [2][6]byte{mac("00:1b:1b:00:00:10"), mac("00:0e:8c:00:00:20")} // Siemens
	for range 5 {
		inv.PDU(hmiPLC, req(&p, dissect.ActRead, 3, dissect.Object{Space: "holding", Start: 0, Count: 10}))
	}
	inv.PDU(hmiPLC, req(&p, dissect.ActWrite, 6, dissect.Object{Space: "holding", Start: 100, Count: 1}))
	resp := dissect.PDU{Proto: "modbus", Function: 43, Response: true, Action: dissect.ActIdentify,
		Identity: map[string]string{"vendor": "Siemens", "firmware": "V4.2", "password": "present"}, Meta: dissect.Meta{Dir: dissect.ToClient}}
	inv.PDU(hmiPLC, &resp)
	inv.FlowEnd(hmiPLC)
	for i := range 6 {
		f := fl("10.0.0.30", netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}).String(), 502, "modbus")
		inv.PDU(f, req(&p, dissect.ActRead, 3, dissect.Object{Space: "holding", Start: 0, Count: 50}))
		inv.FlowEnd(f)
	}
	ews := fl("10.0.0.40", "10.0.0.20", 102, "s7comm")
	inv.PDU(ews, req(&p, dissect.ActDownload, 0x1a))
	inv.FlowEnd(ews)
	// A port scan probe makes nobody a server.
	probe := fl("10.0.0.66", "10.0.0.21", 502, "modbus")
	probe.PDUs, probe.Packets = 0, [2]uint64{1, 1}
	inv.FlowEnd(probe)
	inv.Configure(asset.FromConfig(&config.Config{Devices: []config.Device{
		{Name: "press-3", Driver: "modbus", Endpoint: "tcp://10.0.0.20:502"},
		{Name: "spare", Driver: "modbus", Endpoint: "10.0.9.9:502"},
		{Name: "named", Driver: "opcua", Endpoint: "opc.tcp://plc.local:4840"},
	}}))

	// A Who-Is to the subnet broadcast address: no asset for .255.
	who := fl("10.0.0.50", "10.0.0.255", 47808, "bacnet")
	who.Packets = [2]uint64{1, 0}
	inv.FlowEnd(who)
	if n := len(inv.Assets()); inv.Len() != n || n != 15 {
		t.Errorf("Len %d, Assets %d, want 15 (13 hosts seen, .255 not one, 2 configured unseen)", inv.Len(), n)
	}

	got := map[string]asset.Asset{}
	for _, a := range inv.Assets() {
		got[a.IP+a.Name] = a
	}
	want := map[string]asset.Role{"10.0.0.10": asset.HMI, "10.0.0.20press-3": asset.Controller, "10.0.0.30": asset.Historian,
		"10.0.0.40": asset.Engineering, "10.0.1.1": asset.Controller, "10.0.0.66": asset.Unknown, "10.0.0.21": asset.Unknown, "10.0.9.9spare": asset.Unknown}
	for k, r := range want {
		if got[k].Role != r {
			t.Errorf("%s: role %q (%s), want %q", k, got[k].Role, got[k].RoleReason, r)
		}
	}
	plc := got["10.0.0.20press-3"]
	if !plc.Configured || !plc.Seen || plc.Vendor != "Siemens" || plc.MAC != "00:0e:8c:00:00:20" || plc.Identity["firmware"] != "V4.2" ||
		plc.Identity["password"] != "" || strings.Join(plc.ServerOf, ",") != "modbus,s7comm" || plc.Packets != 36 || plc.First.IsZero() {
		t.Errorf("plc %+v", plc)
	}
	if s := got["10.0.9.9spare"]; !s.Configured || s.Seen {
		t.Errorf("configured, unseen %+v", s)
	}
	if n := got["named"]; !n.Configured || n.IP != "" {
		t.Errorf("named %+v", n)
	}
	if got["10.0.0.21"].ServerOf == nil || len(got["10.0.0.21"].ServerOf) != 0 {
		t.Errorf("probed host %+v", got["10.0.0.21"])
	}
	var buf bytes.Buffer
	if err := asset.WriteCSV(&buf, inv.Assets()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != len(inv.Assets())+1 || len(rows[0]) != len(asset.CSVHeader) {
		t.Fatalf("csv %d rows, %v", len(rows), err)
	}
	buf.Reset()
	if err := asset.WriteJSON(&buf, inv.Assets()); err != nil {
		t.Fatal(err)
	}
	var back []asset.Asset
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != len(rows)-1 {
		t.Fatalf("json %v", err)
	}
}

func TestVendor(t *testing.T) {
	for m, want := range map[string]string{"00:0e:8c:01:02:03": "Siemens", "00:00:bc:00:00:01": "Rockwell Automation",
		"00:80:f4:00:00:01": "Schneider Electric", "00:30:de:00:00:01": "WAGO", "02:00:0a:00:00:01": "", "01:00:5e:00:00:01": ""} {
		hw, _ := net.ParseMAC(m)
		if got := asset.Vendor(hw); got != want {
			t.Errorf("%s: %q, want %q", m, got, want)
		}
	}
}

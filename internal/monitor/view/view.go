// Package view holds the read model of live network monitoring that the
// war-room page shows: rates per protocol, the connection map by zone, top
// talkers, alerts with their handling, assets, flows and their recent PDUs.
//
// It is a leaf package of plain JSON-encodable types, so that the web
// server can declare what it needs of the monitor without importing the
// capture, dissection and detection packages. It must not hold logic or
// state: internal/monitor fills these values.
package view

import "time"

// Alert states, as detect names them.
const (
	StateNew          = "new"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Rates are the live packet and byte rates of the monitor.
type Rates struct {
	Learning bool        `json:"learning"`
	Window   int         `json:"window_sec"` // the rates average this many complete seconds
	Packets  uint64      `json:"packets"`    // since start, every interface
	Bytes    uint64      `json:"bytes"`      // on the wire, since start
	Drops    uint64      `json:"drops"`      // dropped by the kernel
	Protos   []ProtoRate `json:"protos"`     // by packets/s, highest first
}

// ProtoRate is the traffic of one protocol: a dissector's name (modbus,
// s7comm, ...), or tcp / udp for flows no dissector took, or other for
// frames that are not TCP or UDP over IP.
type ProtoRate struct {
	Proto   string   `json:"proto"`
	PPS     float64  `json:"pps"`
	BPS     float64  `json:"bps"` // wire bytes per second
	Packets uint64   `json:"packets"`
	Bytes   uint64   `json:"bytes"`
	Series  []uint64 `json:"series"` // packets in each of the last seconds, oldest first
}

// Map is the connection map: hosts grouped by zone and who talks to whom.
type Map struct {
	Rule  string `json:"rule"` // how zones are derived
	Zones []Zone `json:"zones"`
	Edges []Edge `json:"edges"`
}

// Zone is a group of hosts.
type Zone struct {
	Name  string `json:"name"`
	Hosts []Host `json:"hosts"`
}

// Host is an address on the map.
type Host struct {
	IP      string `json:"ip"`
	Name    string `json:"name,omitempty"`
	Role    string `json:"role"`
	Zone    string `json:"zone"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Edge is the traffic from a client to a server over the retained flows.
type Edge struct {
	Client    string     `json:"client"`
	Server    string     `json:"server"`
	Protos    []string   `json:"protos"`
	Functions []Function `json:"functions"`
	Packets   uint64     `json:"packets"`
	Bytes     uint64     `json:"bytes"`
	Flows     int        `json:"flows"`
	Last      time.Time  `json:"last"`
}

// Function counts the PDUs of one function or service.
type Function struct {
	Proto string `json:"proto"`
	Code  uint32 `json:"code"`
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Talker is a host ranked by its traffic.
type Talker struct {
	IP      string `json:"ip"`
	Zone    string `json:"zone"`
	Role    string `json:"role"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Peers   int    `json:"peers"`
}

// Alert is an alert with its handling.
type Alert struct {
	ID         string      `json:"id"`
	Detection  string      `json:"detection"`
	Title      string      `json:"title"`
	Severity   string      `json:"severity"`
	Techniques []Technique `json:"techniques"`
	Proto      string      `json:"proto,omitempty"`
	Time       time.Time   `json:"time"`
	Last       time.Time   `json:"last"`
	Count      int         `json:"count"`
	Detail     string      `json:"detail"`
	Assets     []string    `json:"assets"`
	State      string      `json:"state"`
	Notes      []Note      `json:"notes"`
	Updated    time.Time   `json:"updated"`
}

// Technique is a MITRE ATT&CK for ICS technique.
type Technique struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Note is a remark on an alert, with the state change it came with.
type Note struct {
	Time time.Time `json:"time"`
	User string    `json:"user"`
	Text string    `json:"text"`
	From string    `json:"from,omitempty"`
	To   string    `json:"to,omitempty"`
}

// Asset is a host of the inventory as the war room lists it.
type Asset struct {
	IP         string            `json:"ip"`
	MAC        string            `json:"mac,omitempty"`
	Vendor     string            `json:"vendor,omitempty"`
	Name       string            `json:"name,omitempty"`
	Role       string            `json:"role"`
	RoleReason string            `json:"role_reason,omitempty"`
	Zone       string            `json:"zone"`
	ServerOf   []string          `json:"server_of"`
	ClientOf   []string          `json:"client_of"`
	Identity   map[string]string `json:"identity,omitempty"`
	First      time.Time         `json:"first_seen,omitzero"`
	Last       time.Time         `json:"last_seen,omitzero"`
	Packets    uint64            `json:"packets"` // over the retained flows
	Bytes      uint64            `json:"bytes"`
	Flows      int               `json:"flows"` // retained flows it is an end of
}

// Flow is one retained conversation.
type Flow struct {
	ID        uint64     `json:"id"`
	Client    string     `json:"client"`
	Server    string     `json:"server"`
	Transport string     `json:"transport"`
	Proto     string     `json:"proto"`
	VLAN      uint16     `json:"vlan,omitempty"`
	First     time.Time  `json:"first"`
	Last      time.Time  `json:"last"`
	Packets   [2]uint64  `json:"packets"` // client to server, server to client
	Bytes     [2]uint64  `json:"bytes"`   // on the wire
	PDUs      uint64     `json:"pdus"`
	Functions []Function `json:"functions"`
	Ended     string     `json:"ended,omitempty"` // why it ended; "" while open
}

// PDU is one recent PDU of a flow.
type PDU struct {
	Time      time.Time         `json:"time"`
	Frame     uint64            `json:"frame"`
	Dir       string            `json:"dir"` // "request" direction (to the server) or "response"
	Function  uint32            `json:"function"`
	Name      string            `json:"name"`
	Action    string            `json:"action"`
	Unit      uint32            `json:"unit,omitempty"`
	Exception uint32            `json:"exception,omitempty"`
	Objects   []Object          `json:"objects,omitempty"`
	Identity  map[string]string `json:"identity,omitempty"`
	Malformed string            `json:"malformed,omitempty"`
}

// Object is an address range a PDU reads or writes.
type Object struct {
	Space  string    `json:"space"`
	Start  uint32    `json:"start"`
	Count  uint32    `json:"count"`
	Values []float64 `json:"values,omitempty"`
}

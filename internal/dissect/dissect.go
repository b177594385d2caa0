package dissect

import (
	"fmt"
	"sort"
	"sync"
)

// Transport is the layer-4 protocol a flow runs on.
type Transport uint8

const (
	TCP Transport = iota + 1
	UDP
	// LLC is IEEE 802.2 over Ethernet (BACnet/Ethernet): the "port" is the
	// service access point (SAP) and each frame is one datagram.
	LLC
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case LLC:
		return "llc"
	}
	return "?"
}

// Dir is the direction of bytes within a flow. The client is the side that
// opened the TCP connection (or, for UDP, sent the first datagram to the
// dissector's port).
type Dir uint8

const (
	ToServer Dir = iota
	ToClient
)

// Meta describes where bytes came from, for evidence.
type Meta struct {
	Time  int64  // capture time of the packet that completed the bytes, Unix ns
	Frame uint64 // 1-based packet number in the capture
	Dir   Dir
	T     Transport
}

// Action classifies what a PDU does, across protocols, so that indicator
// detections (a PLC stop, a program download...) need no protocol logic.
type Action uint8

const (
	ActOther      Action = iota
	ActRead              // read data
	ActWrite             // write data or outputs (incl. operate / direct operate / set attribute)
	ActIdentify          // identity, diagnostics, device or directory listing: what a scan does
	ActStop              // put the controller in stop / program mode
	ActStart             // put the controller in run mode
	ActModeChange        // other mode change (e.g. lock/unlock, remote mode)
	ActUpload            // read a program or block from the controller
	ActDownload          // write a program or block to the controller
	ActFirmware          // firmware update
	ActRestart           // restart / reset the device
	ActTimeSet           // set the device's clock
	ActAuth              // session / authentication / security handshake
	ActSubscribe         // subscriptions, spontaneous or cyclic data set-up
	ActData              // cyclic or spontaneous data (publish, I/O, report by exception)
	ActConnect           // connection or association set-up / tear-down
)

var actionNames = [...]string{"other", "read", "write", "identify", "stop", "start", "mode_change", "upload", "download", "firmware", "restart", "time_set", "auth", "subscribe", "data", "connect"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Object is an addressed range a PDU reads or writes, with values when the
// PDU carries them.
type Object struct {
	Space  string    `json:"space"`            // e.g. "holding", "coil", "DB1", "ioa", "class 1", "analog-output"
	Start  uint32    `json:"start"`            // first address
	Count  uint32    `json:"count"`            // number of units
	Values []float64 `json:"values,omitempty"` // one per unit where carried (bools as 0/1)
}

// Counting says in which map of the summary a PDU's Function is counted,
// following what tshark shows for the protocol (see docs/analyze.md).
type Counting uint8

const (
	CountFunction    Counting = iota // the main map: function code, service, type id, message type
	CountCommand                     // EtherNet/IP encapsulation command (enip.command)
	CountUnconfirmed                 // BACnet unconfirmed service (bacapp.unconfirmed_service)
	CountNone                        // not counted (e.g. a transport-only frame)
)

// PDU is one protocol data unit. A dissector fills a PDU it owns and hands
// it to emit; the receiver must copy what it keeps, since the dissector may
// reuse the PDU and its slices after emit returns.
type PDU struct {
	Proto     string            // registered protocol name: modbus, s7comm, enip, dnp3, opcua, bacnet, iec104, mqtt
	Function  uint32            // the value tshark shows for the protocol (see docs/analyze.md)
	Counting  Counting          // which summary map Function is counted in
	Name      string            // function or service name for people, e.g. "Read Holding Registers"
	Request   bool              // true for a request (or a spontaneous message from the client side)
	Response  bool              // true for a response; both false when the protocol does not say
	Exception uint32            // protocol exception / error status, 0 when none
	Unit      uint32            // unit / slave / station / common address where the protocol has one
	Action    Action            // what it does, across protocols
	Objects   []Object          // addresses (and values) it reads or writes
	Identity  map[string]string // identity fields: vendor, product, revision, serial, firmware, module, name...
	Malformed string            // why the PDU is malformed; "" when well-formed
	Variant   string            // sub-protocol where it matters, e.g. "s7comm-plus", "mqtt 5"
	Meta      Meta
}

// Parser parses the flows of one protocol; a new Parser is made per flow.
type Parser interface {
	// Data receives the next in-order payload bytes of one TCP direction,
	// or one whole UDP datagram, and emits each PDU it completes. It keeps
	// at most a bounded number of bytes of an unfinished PDU.
	Data(m Meta, b []byte, emit func(*PDU))
	// Gap says that bytes of direction dir were lost (a TCP hole): the
	// parser drops its partial state of that direction and resynchronises.
	Gap(dir Dir)
}

// Port is a transport port where a protocol is expected.
type Port struct {
	T    Transport
	Port uint16
}

// Dissector is one protocol.
type Dissector interface {
	// Proto is the registered name, e.g. "modbus".
	Proto() string
	// Ports lists the well-known ports of the protocol.
	Ports() []Port
	// Probe reports whether the first payload bytes seen from the client
	// (or of the first datagram) look like this protocol. It is used on
	// ports no dissector claims, so it must be strict: a false positive
	// mislabels a flow.
	Probe(t Transport, first []byte) bool
	// NewParser returns the parser of one new flow.
	NewParser() Parser
}

// Sharer is a Dissector whose parsers can share their output buffers (the
// PDU being built, its objects and values) with the other flows of one
// flow table, which runs on one goroutine: a PDU is valid only during
// emit, so the buffers are free again when the next flow's bytes come.
// Shared buffers stay in the processor's cache; one set per flow, touched
// by every PDU, does not once thousands of flows interleave.
type Sharer interface {
	Dissector
	// NewShared returns the buffers for one flow table.
	NewShared() any
	// NewSharedParser returns a parser of one new flow that uses shared,
	// a value NewShared returned.
	NewSharedParser(shared any) Parser
}

var (
	mu       sync.RWMutex
	registry = map[string]Dissector{}
)

// Register adds a dissector; it panics on a duplicate protocol name.
func Register(d Dissector) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[d.Proto()]; dup {
		panic("dissect: Register called twice for " + d.Proto())
	}
	registry[d.Proto()] = d
}

// Lookup returns the dissector of proto.
func Lookup(proto string) (Dissector, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := registry[proto]
	return d, ok
}

// All returns every registered dissector, sorted by protocol name.
func All() []Dissector {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Dissector, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proto() < out[j].Proto() })
	return out
}

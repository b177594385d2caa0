package config

import (
	"time"

	"github.com/otlink/otlink/internal/historian/lossy"
)

// Config is one otlink configuration file.
type Config struct {
	Version int      `yaml:"version" json:"version"`
	Plant   Plant    `yaml:"plant" json:"plant"`
	Devices []Device `yaml:"devices" json:"devices"`
	Bus     Bus      `yaml:"bus" json:"bus"`
	HTTP    HTTP     `yaml:"http" json:"http"`
	// Historian stores every sample from the bus (docs/history.md).
	Historian Historian `yaml:"historian,omitempty" json:"historian,omitempty"`
	Data      string    `yaml:"data" json:"data"` // data folder; "" = the default state folder
	// Monitor is live ICS network monitoring (docs/monitor.md); off when
	// it lists no interface.
	Monitor Monitor `yaml:"monitor,omitempty" json:"monitor,omitempty"`
	// North publishes the plant's data to other systems: MQTT brokers as
	// UNS JSON or a Sparkplug B edge node (docs/north.md; north.go).
	North []North `yaml:"north,omitempty" json:"north,omitempty"`
	// OPCUA serves the plant model as an OPC UA server (opcua.go); off
	// unless enabled.
	OPCUA OPCUAServer `yaml:"opcua,omitempty" json:"opcua,omitempty"`
	// MTConnect serves the machines as an MTConnect agent (mtconnect.go);
	// off unless enabled.
	MTConnect MTConnectAgent `yaml:"mtconnect,omitempty" json:"mtconnect,omitempty"`

	// File is the path the config was loaded from, for messages.
	File string `yaml:"-" json:"-"`
}

// Plant is the ISA-95 hierarchy: enterprise / site / area / line / cell / machine.
type Plant struct {
	Enterprise string `yaml:"enterprise" json:"enterprise"`
	Sites      []Site `yaml:"sites" json:"sites"`
}

// Site is a factory.
type Site struct {
	Name  string `yaml:"name" json:"name"`
	Areas []Area `yaml:"areas" json:"areas"`
}

// Area is a part of a site.
type Area struct {
	Name  string `yaml:"name" json:"name"`
	Lines []Line `yaml:"lines" json:"lines"`
}

// Line is a production line. It holds cells, or machines directly when the
// plant does not use cells.
type Line struct {
	Name     string    `yaml:"name" json:"name"`
	Cells    []Cell    `yaml:"cells,omitempty" json:"cells,omitempty"`
	Machines []Machine `yaml:"machines,omitempty" json:"machines,omitempty"`
}

// Cell is a work cell of a line.
type Cell struct {
	Name     string    `yaml:"name" json:"name"`
	Machines []Machine `yaml:"machines" json:"machines"`
}

// Machine is a piece of equipment; its tags are read from devices.
type Machine struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Device      string `yaml:"device,omitempty" json:"device,omitempty"` // default device of its tags
	Tags        []Tag  `yaml:"tags" json:"tags"`
}

// Tag is one data point of a machine.
type Tag struct {
	Name        string  `yaml:"name" json:"name"`
	Device      string  `yaml:"device,omitempty" json:"device,omitempty"` // overrides the machine's device
	Address     string  `yaml:"address" json:"address"`                   // driver syntax, e.g. hr:100, coil:3, hr:7.2
	Type        string  `yaml:"type" json:"type"`                         // bool, int16, float32, string, ...
	Length      int     `yaml:"length,omitempty" json:"length,omitempty"` // string length in characters
	ByteOrder   string  `yaml:"byte_order,omitempty" json:"byte_order,omitempty"`
	WordOrder   string  `yaml:"word_order,omitempty" json:"word_order,omitempty"`
	Poll        string  `yaml:"poll,omitempty" json:"poll,omitempty"` // poll class; "" = the device's first class
	Unit        string  `yaml:"unit,omitempty" json:"unit,omitempty"` // engineering unit, e.g. rpm, degC
	Scale       *Scale  `yaml:"scale,omitempty" json:"scale,omitempty"`
	Range       *Range  `yaml:"range,omitempty" json:"range,omitempty"`       // engineering range
	Deadband    float64 `yaml:"deadband,omitempty" json:"deadband,omitempty"` // absolute, in engineering units
	Writable    bool    `yaml:"writable,omitempty" json:"writable,omitempty"`
	Limits      *Limits `yaml:"limits,omitempty" json:"limits,omitempty"` // write limits, required when writable
	Description string  `yaml:"description,omitempty" json:"description,omitempty"`
	// Lossy turns on the historian's lossy compression for this numeric
	// tag (exception and swinging-door deviation; docs/history.md).
	Lossy *lossy.Settings `yaml:"lossy,omitempty" json:"lossy,omitempty"`

	// Path is the full tag path, filled in by Load.
	Path string `yaml:"-" json:"-"`
}

// Scale converts raw to engineering values: eng = raw*Gain + Offset.
type Scale struct {
	Gain   float64 `yaml:"gain" json:"gain"`
	Offset float64 `yaml:"offset" json:"offset"`
}

// Range is an engineering range.
type Range struct {
	Min float64 `yaml:"min" json:"min"`
	Max float64 `yaml:"max" json:"max"`
}

// Limits bound writes to a writable tag.
type Limits struct {
	Min         float64  `yaml:"min" json:"min"`
	Max         float64  `yaml:"max" json:"max"`
	MinInterval Duration `yaml:"min_interval,omitempty" json:"min_interval,omitempty"` // least time between two writes
	MaxStep     float64  `yaml:"max_step,omitempty" json:"max_step,omitempty"`         // largest change per write; 0 = any
}

// Device is a connection to equipment.
type Device struct {
	Name      string            `yaml:"name" json:"name"`
	Driver    string            `yaml:"driver" json:"driver"` // "modbus"
	Endpoint  string            `yaml:"endpoint" json:"endpoint"`
	Backup    string            `yaml:"backup,omitempty" json:"backup,omitempty"` // backup endpoint for failover
	Unit      int               `yaml:"unit,omitempty" json:"unit,omitempty"`     // Modbus unit id, default 1
	Timeout   Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	ByteOrder string            `yaml:"byte_order,omitempty" json:"byte_order,omitempty"`
	WordOrder string            `yaml:"word_order,omitempty" json:"word_order,omitempty"`
	Budget    Budget            `yaml:"budget,omitempty" json:"budget,omitempty"`
	Poll      []PollClass       `yaml:"poll" json:"poll"`
	Coalesce  Coalesce          `yaml:"coalesce,omitempty" json:"coalesce,omitempty"`
	Report    string            `yaml:"report,omitempty" json:"report,omitempty"` // "change" (default) or "all"
	Disabled  bool              `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Options   map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
}

// PollClass is a named poll interval of a device.
type PollClass struct {
	Name     string   `yaml:"name" json:"name"`
	Interval Duration `yaml:"interval" json:"interval"`
}

// Budget is what a device may be asked to do. It protects the equipment.
type Budget struct {
	MaxInFlight int      `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"` // default 1
	MinGap      Duration `yaml:"min_gap,omitempty" json:"min_gap,omitempty"`             // least time between two requests
	PollFloor   Duration `yaml:"poll_floor,omitempty" json:"poll_floor,omitempty"`       // shortest poll interval allowed
}

// Coalesce tunes how tags are grouped into block reads.
type Coalesce struct {
	MaxGap   int `yaml:"max_gap,omitempty" json:"max_gap,omitempty"`     // largest run of unused units read to join two tags; default 16
	MaxCount int `yaml:"max_count,omitempty" json:"max_count,omitempty"` // cap below the protocol limit; 0 = protocol limit
}

// Bus configures the message bus.
type Bus struct {
	URL          string   `yaml:"url,omitempty" json:"url,omitempty"`                     // external NATS; "" = embedded
	Listen       string   `yaml:"listen,omitempty" json:"listen,omitempty"`               // embedded NATS client port; default 127.0.0.1:4222
	MQTT         string   `yaml:"mqtt,omitempty" json:"mqtt,omitempty"`                   // embedded MQTT listener; default 127.0.0.1:1883; "off" disables
	SyncInterval Duration `yaml:"sync_interval,omitempty" json:"sync_interval,omitempty"` // JetStream fsync interval; 0 = server default (2m); "always" = every write
	SyncAlways   bool     `yaml:"sync_always,omitempty" json:"sync_always,omitempty"`
}

// HTTP configures the web server.
type HTTP struct {
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"` // default 127.0.0.1:8443
	// TLS: by default otlink serves HTTPS with a certificate from its own
	// local CA in DATA/tls; Cert and Key name other files instead.
	TLS HTTPTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// PlainHTTP serves unencrypted HTTP, and then only on loopback (for a
	// reverse proxy on the same machine). Off by default.
	PlainHTTP bool `yaml:"plain_http,omitempty" json:"plain_http,omitempty"`
}

// HTTPTLS configures the server certificate.
type HTTPTLS struct {
	Cert  string   `yaml:"cert,omitempty" json:"cert,omitempty"`   // PEM certificate chain; with Key
	Key   string   `yaml:"key,omitempty" json:"key,omitempty"`     // PEM private key; with Cert
	Names []string `yaml:"names,omitempty" json:"names,omitempty"` // extra DNS names or IPs of the generated certificate
}

// Historian configures the historian: where samples are stored, how long
// they are kept, and how their integrity log is checkpointed. Per-tag
// lossy compression is Tag.Lossy.
type Historian struct {
	Backend            string   `yaml:"backend,omitempty" json:"backend,omitempty"`                         // embedded (default), postgres or off
	DSN                string   `yaml:"dsn,omitempty" json:"dsn,omitempty"`                                 // postgres connection string, required with backend postgres
	TimePrecision      Duration `yaml:"time_precision,omitempty" json:"time_precision,omitempty"`           // embedded: times are truncated to this; default 1ms
	Sync               string   `yaml:"sync,omitempty" json:"sync,omitempty"`                               // embedded: batch (default) or always
	CheckpointInterval Duration `yaml:"checkpoint_interval,omitempty" json:"checkpoint_interval,omitempty"` // embedded: signed checkpoint period; default 10s
	// Retention rules per tag class, first match wins; a tag no rule
	// matches is kept forever (docs/retention.md). Embedded only.
	Retention []RetentionRule `yaml:"retention,omitempty" json:"retention,omitempty"`
	// RetentionInterval is how often expired data is purged; default 1h.
	RetentionInterval Duration `yaml:"retention_interval,omitempty" json:"retention_interval,omitempty"`
	// Rollups turns the 1-minute and 1-hour rollups on or off; nil means
	// on for the embedded backend (Defaults sets it).
	Rollups *bool `yaml:"rollups,omitempty" json:"rollups,omitempty"`
}

// RetentionRule says how long one class of tags is kept. A zero duration
// keeps that kind of data forever.
type RetentionRule struct {
	Name     string   `yaml:"name" json:"name"`                               // policy name, recorded in the integrity log with each purge
	Match    string   `yaml:"match,omitempty" json:"match,omitempty"`         // path.Match glob on the tag path; "" = every tag
	Raw      Duration `yaml:"raw,omitempty" json:"raw,omitempty"`             // raw samples; 0 = forever
	Rollup1m Duration `yaml:"rollup_1m,omitempty" json:"rollup_1m,omitempty"` // 1-minute rollups; 0 = forever
	Rollup1h Duration `yaml:"rollup_1h,omitempty" json:"rollup_1h,omitempty"` // 1-hour rollups; 0 = forever
}

// Historian backends.
const (
	HistorianEmbedded = "embedded"
	HistorianPostgres = "postgres"
	HistorianOff      = "off"
)

// Duration is a time.Duration written as "100ms", "5s", "1m" in YAML.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Monitor configures live, passive network monitoring (docs/monitor.md).
type Monitor struct {
	Interfaces []MonitorInterface `yaml:"interfaces,omitempty" json:"interfaces,omitempty"`
	Baseline   string             `yaml:"baseline,omitempty" json:"baseline,omitempty"` // baseline file; "" = learn for Learn
	Rules      string             `yaml:"rules,omitempty" json:"rules,omitempty"`       // custom detection rules file (YAML)
	Learn      Duration           `yaml:"learn,omitempty" json:"learn,omitempty"`       // learning period without a baseline file; default 24h
	Flow       MonitorFlow        `yaml:"flow,omitempty" json:"flow,omitempty"`
	// Zones name the plant's network zones (IEC 62443 zones) by their
	// address ranges; the war room groups hosts by them. A host in no
	// zone is grouped by its subnet.
	Zones []MonitorZone `yaml:"zones,omitempty" json:"zones,omitempty"`
}

// MonitorZone is one network zone: a name and its address ranges.
type MonitorZone struct {
	Name     string   `yaml:"name" json:"name"`
	Networks []string `yaml:"networks" json:"networks"` // CIDR prefixes, e.g. 10.1.2.0/24, fd00:1::/64; the first zone that holds an address wins
}

// MonitorInterface is one interface captured (AF_PACKET, CAP_NET_RAW).
type MonitorInterface struct {
	Name string `yaml:"name" json:"name"`
	BPF  string `yaml:"bpf,omitempty" json:"bpf,omitempty"` // capture filter; "" = every packet
}

// MonitorFlow bounds the flow table of each interface.
type MonitorFlow struct {
	MaxFlows int      `yaml:"max_flows,omitempty" json:"max_flows,omitempty"` // default 262144
	Idle     Duration `yaml:"idle,omitempty" json:"idle,omitempty"`           // default 5m
}

package mtconnect

import (
	"encoding/xml"
	"strings"
	"time"
)

// Namespaces of the documents, by MTConnect version ("2.0", "1.8", ...).
const (
	nsDevices = "urn:mtconnect.org:MTConnectDevices:"
	nsStreams = "urn:mtconnect.org:MTConnectStreams:"
	nsError   = "urn:mtconnect.org:MTConnectError:"
	nsAssets  = "urn:mtconnect.org:MTConnectAssets:"
)

// DefaultVersion is the schema version otlink writes.
const DefaultVersion = "2.0"

// Categories of a data item.
const (
	Sample    = "SAMPLE"
	Event     = "EVENT"
	Condition = "CONDITION"
)

// Unavailable is the value of an observation whose value is not known.
const Unavailable = "UNAVAILABLE"

// Condition levels, the element names of observations in a Condition.
const (
	LevelNormal      = "Normal"
	LevelWarning     = "Warning"
	LevelFault       = "Fault"
	LevelUnavailable = "Unavailable"
)

// Header is the header of every document. Sequence fields are zero when
// the document kind has none.
type Header struct {
	CreationTime          string `xml:"creationTime,attr"`
	Sender                string `xml:"sender,attr"`
	InstanceID            uint64 `xml:"instanceId,attr"`
	Version               string `xml:"version,attr"`
	BufferSize            uint64 `xml:"bufferSize,attr"`
	AssetBufferSize       uint64 `xml:"assetBufferSize,attr,omitempty"`
	AssetCount            uint64 `xml:"assetCount,attr,omitempty"`
	DeviceModelChangeTime string `xml:"deviceModelChangeTime,attr,omitempty"`
	NextSequence          uint64 `xml:"nextSequence,attr,omitempty"`
	FirstSequence         uint64 `xml:"firstSequence,attr,omitempty"`
	LastSequence          uint64 `xml:"lastSequence,attr,omitempty"`
}

// Devices is a probe document.
type Devices struct {
	XMLName xml.Name   `xml:"MTConnectDevices"`
	Xmlns   string     `xml:"xmlns,attr,omitempty"`
	Header  Header     `xml:"Header"`
	Devices deviceList `xml:"Devices"`
}

type deviceList struct {
	Items []Component `xml:",any"`
}

// List returns the devices (Device and Agent elements).
func (d *Devices) List() []Component { return d.Devices.Items }

// Component is a device or one of its components (Controller, Path,
// Axes, Linear, Rotary, Systems, ...): the element name is its type.
type Component struct {
	XMLName     xml.Name       `xml:""`
	ID          string         `xml:"id,attr"`
	Name        string         `xml:"name,attr,omitempty"`
	UUID        string         `xml:"uuid,attr,omitempty"`
	Description *Description   `xml:"Description,omitempty"`
	DataItems   *dataItemList  `xml:"DataItems,omitempty"`
	Components  *componentList `xml:"Components,omitempty"`
}

type dataItemList struct {
	Items []DataItem `xml:"DataItem"`
}

type componentList struct {
	Items []Component `xml:",any"`
}

// Type is the component's element name, e.g. "Device" or "Controller".
func (c *Component) Type() string { return c.XMLName.Local }

// Items returns the component's own data items.
func (c *Component) Items() []DataItem {
	if c.DataItems == nil {
		return nil
	}
	return c.DataItems.Items
}

// Children returns the component's sub-components.
func (c *Component) Children() []Component {
	if c.Components == nil {
		return nil
	}
	return c.Components.Items
}

// SetItems replaces the component's data items.
func (c *Component) SetItems(items []DataItem) {
	if len(items) == 0 {
		c.DataItems = nil
		return
	}
	c.DataItems = &dataItemList{Items: items}
}

// SetChildren replaces the component's sub-components.
func (c *Component) SetChildren(cs []Component) {
	if len(cs) == 0 {
		c.Components = nil
		return
	}
	c.Components = &componentList{Items: cs}
}

// NewComponent returns a component of type typ (its element name).
func NewComponent(typ, id, name string) Component {
	return Component{XMLName: xml.Name{Local: typ}, ID: id, Name: name}
}

// Walk calls fn for c and each component below it, depth first, with the
// component's parent (nil for c).
func (c *Component) Walk(fn func(comp, parent *Component)) {
	c.walk(nil, fn, 0)
}

// maxDepth bounds recursion over components; real devices nest a handful
// of levels.
const maxDepth = 64

func (c *Component) walk(parent *Component, fn func(comp, parent *Component), depth int) {
	if depth > maxDepth {
		return
	}
	fn(c, parent)
	if c.Components == nil {
		return
	}
	for i := range c.Components.Items {
		c.Components.Items[i].walk(c, fn, depth+1)
	}
}

// Description says who made a device.
type Description struct {
	Manufacturer string `xml:"manufacturer,attr,omitempty"`
	Model        string `xml:"model,attr,omitempty"`
	SerialNumber string `xml:"serialNumber,attr,omitempty"`
	Station      string `xml:"station,attr,omitempty"`
	Text         string `xml:",chardata"`
}

// DataItem is one data item of a component.
type DataItem struct {
	ID             string `xml:"id,attr"`
	Name           string `xml:"name,attr,omitempty"`
	Category       string `xml:"category,attr"`
	Type           string `xml:"type,attr"`
	SubType        string `xml:"subType,attr,omitempty"`
	Units          string `xml:"units,attr,omitempty"`
	NativeUnits    string `xml:"nativeUnits,attr,omitempty"`
	Representation string `xml:"representation,attr,omitempty"`
}

// Streams is a current or sample document.
type Streams struct {
	XMLName xml.Name       `xml:"MTConnectStreams"`
	Xmlns   string         `xml:"xmlns,attr,omitempty"`
	Header  Header         `xml:"Header"`
	Devices []DeviceStream `xml:"Streams>DeviceStream"`
}

// DeviceStream holds one device's observations.
type DeviceStream struct {
	Name       string            `xml:"name,attr"`
	UUID       string            `xml:"uuid,attr"`
	Components []ComponentStream `xml:"ComponentStream"`
}

// ComponentStream holds one component's observations.
type ComponentStream struct {
	Component   string           `xml:"component,attr"`
	Name        string           `xml:"name,attr,omitempty"`
	ComponentID string           `xml:"componentId,attr"`
	Samples     *ObservationList `xml:"Samples,omitempty"`
	Events      *ObservationList `xml:"Events,omitempty"`
	Condition   *ObservationList `xml:"Condition,omitempty"`
}

// ObservationList is the Samples, Events or Condition of a component.
type ObservationList struct {
	Items []Observation `xml:",any"`
}

// Observation is one value of a data item at a sequence number. Its
// element name is the data item's type in Pascal case (SpindleSpeed,
// Execution) or, in a Condition, the level (Normal, Warning, Fault,
// Unavailable).
type Observation struct {
	XMLName        xml.Name `xml:""`
	DataItemID     string   `xml:"dataItemId,attr"`
	Timestamp      string   `xml:"timestamp,attr"`
	Name           string   `xml:"name,attr,omitempty"`
	Sequence       uint64   `xml:"sequence,attr"`
	SubType        string   `xml:"subType,attr,omitempty"`
	Type           string   `xml:"type,attr,omitempty"` // conditions: the data item's type
	NativeCode     string   `xml:"nativeCode,attr,omitempty"`
	NativeSeverity string   `xml:"nativeSeverity,attr,omitempty"`
	Qualifier      string   `xml:"qualifier,attr,omitempty"`
	Value          string   `xml:",chardata"`
	Entries        []Entry  `xml:"Entry,omitempty"`
}

// Entry is one key of a DATA_SET or TABLE observation.
type Entry struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

// Element is the observation's element name.
func (o *Observation) Element() string { return o.XMLName.Local }

// Time parses the observation's timestamp; zero when it has none or it
// cannot be read.
func (o *Observation) Time() time.Time { return ParseTime(o.Timestamp) }

// Each calls fn with every observation of the document and its category
// (Sample, Event or Condition), in document order.
func (s *Streams) Each(fn func(dev *DeviceStream, cat string, o *Observation)) {
	for i := range s.Devices {
		d := &s.Devices[i]
		for j := range d.Components {
			c := &d.Components[j]
			for _, l := range [...]struct {
				cat string
				l   *ObservationList
			}{{Sample, c.Samples}, {Event, c.Events}, {Condition, c.Condition}} {
				if l.l == nil {
					continue
				}
				for k := range l.l.Items {
					fn(d, l.cat, &l.l.Items[k])
				}
			}
		}
	}
}

// ErrorDoc is an MTConnectError document.
type ErrorDoc struct {
	XMLName xml.Name `xml:"MTConnectError"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Header  Header   `xml:"Header"`
	Errors  []Error  `xml:"Errors>Error"`
	Error1  *Error   `xml:"Error,omitempty"` // MTConnect 1.0: one Error, no Errors
}

// Error is one error of an MTConnectError document.
type Error struct {
	Code string `xml:"errorCode,attr"`
	Text string `xml:",chardata"`
}

// Error codes of MTConnectError documents.
const (
	ErrAssetNotFound  = "ASSET_NOT_FOUND"
	ErrInternal       = "INTERNAL_ERROR"
	ErrInvalidRequest = "INVALID_REQUEST"
	ErrInvalidURI     = "INVALID_URI"
	ErrInvalidXPath   = "INVALID_XPATH"
	ErrNoDevice       = "NO_DEVICE"
	ErrOutOfRange     = "OUT_OF_RANGE"
	ErrQuery          = "QUERY_ERROR"
	ErrTooMany        = "TOO_MANY"
	ErrUnsupported    = "UNSUPPORTED"
)

// All returns every error of the document, of either version.
func (e *ErrorDoc) All() []Error {
	out := append([]Error(nil), e.Errors...)
	if e.Error1 != nil {
		out = append(out, *e.Error1)
	}
	return out
}

// TimeFormat is how timestamps are written: UTC with microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t as an MTConnect timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime reads an MTConnect timestamp (RFC 3339, with or without a
// zone; without one it is UTC). It returns the zero time when s is not a
// timestamp.
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t
	}
	return time.Time{}
}

// PascalCase turns a data item type (SPINDLE_SPEED, PART_COUNT) into the
// element name of its observations (SpindleSpeed, PartCount). A type that
// is a namespace-prefixed extension (x:FOO) keeps its prefix.
func PascalCase(typ string) string {
	prefix := ""
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		prefix, typ = typ[:i+1], typ[i+1:]
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(typ))
	b.WriteString(prefix)
	up := true
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c == '_':
			up = true
			continue
		case up && 'a' <= c && c <= 'z':
			c -= 32
		case !up && 'A' <= c && c <= 'Z':
			c += 32
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}

// SetList replaces the devices of a probe document.
func (d *Devices) SetList(cs []Component) { d.Devices.Items = cs }

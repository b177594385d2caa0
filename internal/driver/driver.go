package driver

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/model"
)

// Point is where a tag's raw data lives on a device.
type Point struct {
	Space uint32 // driver-defined area in which reads coalesce, e.g. holding registers of unit 1
	Start uint32 // first unit (register or bit) the tag occupies
	Count uint32 // number of units the tag occupies (>= 1)
	Type  model.Type
	Codec Codec // decodes (and, for writable tags, encodes) the tag's units
}

// End returns the first unit after the point.
func (p Point) End() uint32 { return p.Start + p.Count }

// Codec converts between a tag's raw units and its value. A codec knows
// the encoding (type, byte and word order, bit, length) but not where the
// point lies, so that a driver can share one codec among all points with
// the same encoding: with hundreds of thousands of tags, a codec per tag
// would cost more memory than the tags' values. It must therefore be safe
// for concurrent use and hold no per-point state.
type Codec interface {
	// Decode reads the value from block, in which the point's first unit
	// is unit off (the engine passes Point.Start minus the first unit of
	// the block it read). It must not retain block.
	Decode(block []byte, off uint32) (model.Value, error)
	// Encode returns the raw units that write v, for drivers that write.
	Encode(v model.Value) ([]byte, error)
}

// TagSpec is what a driver needs of a tag's configuration to resolve it.
type TagSpec struct {
	Name      string
	Address   string
	Type      model.Type
	Length    int    // string length in characters (or driver units); 0 = driver default
	ByteOrder string // "" = device default; "big" or "little"
	WordOrder string // "" = device default; "big" (high word first) or "little"
}

// DeviceSpec is what a driver needs of a device's configuration.
type DeviceSpec struct {
	Name      string
	Endpoint  string            // e.g. tcp://127.0.0.1:502, rtu+tcp://host:4001, rtu:///dev/ttyUSB0?baud=19200
	Unit      uint8             // protocol unit / slave id where it applies
	Timeout   time.Duration     // per request
	ByteOrder string            // default for tags: "big" or "little"
	WordOrder string            // default for tags: "big" or "little"
	Options   map[string]string // driver-specific settings
}

// Fault says how the engine should react to a failed request.
type Fault int

const (
	// FaultTransport: the connection is unusable; close it and reconnect with back-off.
	FaultTransport Fault = iota
	// FaultTimeout: no reply in time; the engine may shrink the block, and reconnects.
	FaultTimeout
	// FaultRejected: the device refused the request as too large or out of
	// range (e.g. Modbus exception 02/03); split or shrink the block.
	FaultRejected
	// FaultDevice: the device answered with an error unrelated to size; keep the connection.
	FaultDevice
	// FaultMalformed: the reply could not be parsed; the connection is resynchronised.
	FaultMalformed
)

// Driver resolves addresses and opens connections for one protocol.
type Driver interface {
	// Resolve parses a tag's address for dev. It does no I/O.
	Resolve(dev DeviceSpec, t TagSpec) (Point, error)
	// MaxCount returns the largest number of units one read may cover in space.
	MaxCount(space uint32) uint32
	// SpaceName names a space for people, e.g. "holding registers, unit 1".
	SpaceName(space uint32) string
	// Classify maps an error returned by a Conn to the engine's reaction.
	Classify(err error) Fault
	// Open returns a connection to one endpoint of dev. It does no I/O.
	Open(dev DeviceSpec, endpoint string) (Conn, error)
}

// Conn is a connection to one device endpoint. Read and Write may be called
// concurrently up to the device's max in-flight budget; a Conn that cannot
// overlap requests serialises them itself.
type Conn interface {
	Connect(ctx context.Context) error
	// Read reads count units from start in space and returns their raw bytes,
	// appended to buf[:0] when buf has room.
	Read(ctx context.Context, space, start, count uint32, buf []byte) ([]byte, error)
	Close() error
}

// Writer is implemented by connections that can write a point.
type Writer interface {
	Write(ctx context.Context, p Point, v model.Value) error
}

// Identity is what a device tells about itself.
type Identity struct {
	Vendor   string            `json:"vendor,omitempty"`
	Product  string            `json:"product,omitempty"`
	Revision string            `json:"revision,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
}

// Identifier is implemented by connections that can ask the device who it is
// (e.g. Modbus FC 43/14). The engine calls it once after connecting.
type Identifier interface {
	Identify(ctx context.Context) (Identity, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Driver{}
)

// Register makes a driver available by name. It panics on a duplicate name.
func Register(name string, d Driver) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("driver: Register called twice for %q", name))
	}
	registry[name] = d
}

// Lookup returns the driver registered as name.
func Lookup(name string) (Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := registry[name]
	return d, ok
}

// Names returns the registered driver names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Pacer admits one request to a device under its budget and returns the
// function that ends it. The engine puts one in the context of calls that
// may send several requests (Identify, a read-modify-write), and drivers
// call Pace before each request they send, so that every request on the
// wire passes the device's budget.
type Pacer func(ctx context.Context) (done func(), err error)

type pacerKey struct{}

// WithPacer returns a context whose requests are paced by p.
func WithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// Pace admits one request under the pacer of ctx; without one it admits at
// once. The caller must call done when the request has completed.
func Pace(ctx context.Context) (done func(), err error) {
	if p, ok := ctx.Value(pacerKey{}).(Pacer); ok {
		return p(ctx)
	}
	return noop, nil
}

func noop() {}

// FixedStrings is implemented by drivers whose string tags occupy a fixed
// number of units (Modbus registers), so that a string tag must say its
// length. Drivers whose values carry their own length (OPC UA, MQTT,
// MTConnect) do not implement it.
type FixedStrings interface {
	FixedStrings() bool
}

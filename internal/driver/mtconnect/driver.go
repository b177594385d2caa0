package mtconnect

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mtc "github.com/otlink/otlink/internal/mtconnect"
)

// Defaults of the device options.
const (
	defaultCount     = 1000
	maxCount         = 100000
	defaultHeartbeat = 2 * time.Second
	defaultTimeout   = 3 * time.Second
)

func init() { driver.Register("mtconnect", New()) }

// Driver is the MTConnect driver. It keeps each device's resume state.
type Driver struct {
	mu     sync.Mutex
	resume map[string]*resume
	log    *slog.Logger
}

// New returns a driver with no resume state, for tests; the registered
// one is shared by the engine.
func New() *Driver { return &Driver{resume: map[string]*resume{}} }

// SetLogger sets where gaps and restarts are logged (default slog.Default).
func (d *Driver) SetLogger(l *slog.Logger) {
	d.mu.Lock()
	d.log = l
	d.mu.Unlock()
}

func (d *Driver) logger() *slog.Logger {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == nil {
		return slog.Default()
	}
	return d.log
}

// resume is what survives a reconnect: where to continue, and counters.
type resume struct {
	mu         sync.Mutex
	instanceID uint64
	next       uint64 // 0 = start from /current
	Counters
}

// Counters of one device since the driver started.
type Counters struct {
	Observations uint64 // observations received
	Missed       uint64 // observations the agent dropped before otlink read them (counted from sequences)
	Gaps         uint64 // times observations were missed
	Restarts     uint64 // agent restarts seen (new instanceId); what they lost is unknown
	Reconnects   uint64 // streams resumed from a sequence
}

func (d *Driver) state(dev, endpoint string) *resume {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := dev + "\x00" + endpoint
	r := d.resume[k]
	if r == nil {
		r = &resume{}
		d.resume[k] = r
	}
	return r
}

// Stats returns the counters of device dev at endpoint.
func (d *Driver) Stats(dev, endpoint string) Counters {
	r := d.state(dev, endpoint)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Counters
}

// Resolve implements driver.Driver: the address is a data item id or
// name. Each address gets its own unit, a hash of it, so that the config
// checker's overlap test finds a tag listed twice.
func (*Driver) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	a := strings.TrimSpace(t.Address)
	if a == "" || len(a) > 256 || strings.ContainsAny(a, " \t\r\n/?#") {
		return driver.Point{}, errcode.New(errcode.MTConnectBadAddress, "mtconnect address %q is not a data item id", t.Address)
	}
	if t.Type == model.TypeInvalid {
		return driver.Point{}, errcode.New(errcode.MTConnectTypeMismatch, "mtconnect tag %q has no type", t.Name)
	}
	h := fnv.New32a()
	h.Write([]byte(a))
	return driver.Point{Space: 0, Start: h.Sum32() >> 1, Count: 1, Type: t.Type, Codec: codec{}}, nil
}

// MaxCount implements driver.Driver: points are never read in blocks.
func (*Driver) MaxCount(uint32) uint32 { return 1 }

// SpaceName implements driver.Driver.
func (*Driver) SpaceName(uint32) string { return "mtconnect data items" }

// Classify implements driver.Driver.
func (*Driver) Classify(err error) driver.Fault {
	switch errcode.Of(err) {
	case errcode.MTConnectMalformed, errcode.MTConnectTooLarge, errcode.MTConnectBadMultipart:
		return driver.FaultMalformed
	case errcode.MTConnectStalled:
		return driver.FaultTimeout
	case errcode.MTConnectAgentError, errcode.MTConnectNoDevice, errcode.MTConnectHTTPStatus:
		return driver.FaultDevice
	case errcode.MTConnectBadAddress, errcode.MTConnectTypeMismatch, errcode.MTConnectUnknownItem,
		errcode.MTConnectBadValue, errcode.MTConnectNotWritable, errcode.MTConnectNotPolled, errcode.MTConnectBadOption:
		return driver.FaultDevice
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return driver.FaultTimeout
	}
	return driver.FaultTransport
}

// CheckEndpoint implements config.EndpointChecker.
func (*Driver) CheckEndpoint(s string) error {
	_, _, err := parseEndpoint(s)
	return err
}

// parseEndpoint splits http://host:port[/prefix]/[device] into the base
// URL and the device name.
func parseEndpoint(s string) (base, device string, err error) {
	u, perr := url.Parse(s)
	switch {
	case perr != nil:
		return "", "", errcode.New(errcode.MTConnectBadEndpoint, "mtconnect endpoint %q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", errcode.New(errcode.MTConnectBadEndpoint, "mtconnect endpoint %q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return "", "", errcode.New(errcode.MTConnectBadEndpoint, "mtconnect endpoint %q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", "", errcode.New(errcode.MTConnectBadEndpoint, "mtconnect endpoint %q: no query, fragment or user info", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", errcode.New(errcode.MTConnectBadEndpoint, "mtconnect endpoint %q: port %q is not in 1..65535", s, p)
		}
	}
	path := strings.Trim(u.Path, "/")
	if path != "" {
		i := strings.LastIndexByte(path, '/')
		device = path[i+1:]
		path = path[:max(i, 0)]
	}
	base = u.Scheme + "://" + u.Host
	if path != "" {
		base += "/" + path
	}
	return base, device, nil
}

// options are a device's driver options.
type options struct {
	poll        bool
	count       int
	heartbeat   time.Duration
	maxDocument int64
}

func parseOptions(m map[string]string) (options, error) {
	o := options{count: defaultCount, heartbeat: defaultHeartbeat, maxDocument: mtc.DefaultMaxDocument}
	for k, v := range m {
		bad := func(want string) (options, error) {
			return o, errcode.New(errcode.MTConnectBadOption, "mtconnect option %s %q: want %s", k, v, want)
		}
		switch k {
		case "mode":
			switch v {
			case "stream", "":
			case "poll":
				o.poll = true
			default:
				return bad("stream or poll")
			}
		case "count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxCount {
				return bad("1.." + strconv.Itoa(maxCount))
			}
			o.count = n
		case "heartbeat":
			d, err := time.ParseDuration(v)
			if err != nil || d < 10*time.Millisecond || d > 10*time.Minute {
				return bad("a duration of 10ms..10m")
			}
			o.heartbeat = d
		case "max_document":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 4096 || n > 1<<30 {
				return bad("4096..1073741824 bytes")
			}
			o.maxDocument = n
		default:
			return o, errcode.New(errcode.MTConnectBadOption, "unknown mtconnect option %q (mode, count, heartbeat, max_document)", k)
		}
	}
	return o, nil
}

// Open implements driver.Driver. It parses the endpoint and options and
// does no I/O.
// Pushes implements driver.Pusher: an MTConnect device is always read by
// subscription (a sample stream, or long polls of /sample in mode poll),
// never by blocks, so the engine must not poll it.
func (d *Driver) Pushes(driver.DeviceSpec) bool { return true }

var _ driver.Pusher = (*Driver)(nil)

func (d *Driver) Open(dev driver.DeviceSpec, endpoint string) (driver.Conn, error) {
	if endpoint == "" {
		endpoint = dev.Endpoint
	}
	base, device, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	o, err := parseOptions(dev.Options)
	if err != nil {
		return nil, err
	}
	timeout := dev.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return newConn(d, dev.Name, endpoint, base, device, timeout, o), nil
}

// codec refuses block decoding: MTConnect values arrive as Updates.
type codec struct{}

func (codec) Decode([]byte, uint32) (model.Value, error) {
	return model.Value{}, errcode.New(errcode.MTConnectNotPolled, "mtconnect points are not read by blocks")
}

func (codec) Encode(model.Value) ([]byte, error) {
	return nil, errcode.New(errcode.MTConnectNotWritable, "mtconnect tags cannot be written")
}

var (
	_ driver.Driver = (*Driver)(nil)
	_ driver.Codec  = codec{}
)

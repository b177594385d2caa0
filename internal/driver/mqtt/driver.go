package mqtt

import (
	"context"
	"errors"
	"hash/fnv"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

func init() { driver.Register("mqtt", Driver{}) }

// Driver is the MQTT southbound driver. The zero value is ready to use.
type Driver struct{}

// Modes of the device option "mode".
const (
	ModeJSON      = "json"
	ModeSparkplug = "sparkplug"
)

// options are the device options of an MQTT device (docs/mqtt-south.md).
type options struct {
	mode          string
	clientID      string
	username      string
	passwordFile  string
	passwordEnv   string
	ca, cert, key string
	timestamp     string // json: default timestamp path
	qos           byte
	cleanSession  bool
	hostID        string        // sparkplug
	rebirthEvery  time.Duration // sparkplug: least time between two rebirth requests to a node
	keepAlive     time.Duration
}

var knownOptions = []string{"mode", "client_id", "username", "password_file", "password_env", "ca", "cert", "key",
	"timestamp", "qos", "clean_session", "host_id", "rebirth_interval", "keep_alive"}

func parseOptions(dev driver.DeviceSpec) (options, error) {
	o := options{mode: ModeJSON, clientID: "otlink-" + dev.Name, qos: 1, rebirthEvery: 5 * time.Second, keepAlive: 10 * time.Second, hostID: "otlink-" + dev.Name}
	bad := func(format string, args ...any) (options, error) {
		return o, errcode.New(errcode.MQTTBadOptions, "device %s: "+format, append([]any{dev.Name}, args...)...)
	}
	for k, v := range dev.Options {
		switch k {
		case "mode":
			if v != ModeJSON && v != ModeSparkplug {
				return bad("mode %q is not json or sparkplug", v)
			}
			o.mode = v
		case "client_id":
			if v == "" || len(v) > 65535 {
				return bad("client_id must not be empty")
			}
			o.clientID = v
		case "username":
			o.username = v
		case "password_file":
			o.passwordFile = v
		case "password_env":
			o.passwordEnv = v
		case "ca":
			o.ca = v
		case "cert":
			o.cert = v
		case "key":
			o.key = v
		case "timestamp":
			if _, n, err := parsePath(v); err != nil || n != len(v) {
				return bad("timestamp %q is not a JSON path such as $.ts", v)
			}
			o.timestamp = v
		case "qos":
			if v != "0" && v != "1" {
				return bad("qos %q is not 0 or 1", v)
			}
			o.qos = v[0] - '0'
		case "clean_session":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("clean_session %q is not true or false", v)
			}
			o.cleanSession = b
		case "host_id":
			if !sparkplug.ValidID(v) {
				return bad("host_id %q must be non-empty without / + #", v)
			}
			o.hostID = v
		case "rebirth_interval", "keep_alive":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return bad("%s %q is not a positive duration such as 5s", k, v)
			}
			if k == "keep_alive" {
				o.keepAlive = d
			} else {
				o.rebirthEvery = d
			}
		default:
			return bad("unknown option %q (options: %s)", k, strings.Join(knownOptions, ", "))
		}
	}
	if o.passwordFile != "" && o.passwordEnv != "" {
		return bad("give password_file or password_env, not both")
	}
	if (o.cert == "") != (o.key == "") {
		return bad("cert and key go together")
	}
	if o.mode == ModeSparkplug {
		// Sparkplug 3.0 requires a clean session of a host application.
		o.cleanSession = true
		if _, set := dev.Options["timestamp"]; set {
			return bad("timestamp applies to json mode; sparkplug metrics carry their own")
		}
	} else if _, set := dev.Options["host_id"]; set {
		return bad("host_id applies to sparkplug mode")
	}
	return o, nil
}

// password reads the password from its file or environment variable.
func (o options) password() (string, error) {
	switch {
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", errcode.Wrap(errcode.MQTTBadOptions, err, "read password_file")
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case o.passwordEnv != "":
		v, ok := os.LookupEnv(o.passwordEnv)
		if !ok {
			return "", errcode.New(errcode.MQTTBadOptions, "environment variable %s (password_env) is not set", o.passwordEnv)
		}
		return v, nil
	}
	return "", nil
}

// CheckEndpoint accepts tcp://, mqtt://, ssl://, tls://, mqtts://, ws://
// and wss:// URLs with a host (config.EndpointChecker).
func (Driver) CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return errors.New("scheme must be tcp, ssl, mqtt, mqtts, tls, ws or wss, e.g. tcp://broker:1883")
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("port " + p + " is not in 1..65535")
		}
	}
	return nil
}

// Resolve implements driver.Driver. The point's space and start are a
// 64-bit hash of the address, so that the config's overlap check sees two
// tags on the same topic and path as duplicates and any others as apart.
func (Driver) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	o, err := parseOptions(dev)
	if err != nil {
		return driver.Point{}, err
	}
	if t.Type == model.TypeInvalid {
		return driver.Point{}, errcode.New(errcode.MQTTBadAddress, "tag %s has no type", t.Name)
	}
	if o.mode == ModeSparkplug {
		if _, err := parseSparkplugAddr(t.Address); err != nil {
			return driver.Point{}, err
		}
	} else if _, err := parseJSONAddr(t.Address); err != nil {
		return driver.Point{}, err
	}
	h := fnv.New64a()
	h.Write([]byte(t.Address))
	sum := h.Sum64()
	return driver.Point{Space: uint32(sum >> 32), Start: uint32(sum), Count: 1, Type: t.Type, Codec: noCodec{}}, nil
}

// MaxCount implements driver.Driver: nothing is read in blocks.
func (Driver) MaxCount(uint32) uint32 { return 1 }

// SpaceName implements driver.Driver.
func (Driver) SpaceName(uint32) string { return "topics" }

// Classify implements driver.Driver.
func (Driver) Classify(err error) driver.Fault {
	switch errcode.Of(err) {
	case errcode.MQTTNoPolling, errcode.MQTTBadOptions, errcode.MQTTBadAddress:
		return driver.FaultDevice
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return driver.FaultTimeout
	}
	return driver.FaultTransport
}

// Open implements driver.Driver; it does no I/O.
func (Driver) Open(dev driver.DeviceSpec, endpoint string) (driver.Conn, error) {
	if err := (Driver{}).CheckEndpoint(endpoint); err != nil {
		return nil, errcode.Wrap(errcode.MQTTBadOptions, err, "device %s: endpoint %s", dev.Name, endpoint)
	}
	o, err := parseOptions(dev)
	if err != nil {
		return nil, err
	}
	return newConn(dev, endpoint, o), nil
}

// noCodec is the codec of points that are pushed, never read.
type noCodec struct{}

func (noCodec) Decode([]byte, uint32) (model.Value, error) {
	return model.Value{}, errcode.New(errcode.MQTTNoPolling, "mqtt values are pushed, not read")
}

func (noCodec) Encode(model.Value) ([]byte, error) {
	return nil, errcode.New(errcode.MQTTNoPolling, "mqtt tags are not writable")
}

var _ driver.Driver = Driver{}

// Pushes implements driver.Pusher: every MQTT device pushes.
func (Driver) Pushes(driver.DeviceSpec) bool { return true }

var _ driver.Pusher = Driver{}

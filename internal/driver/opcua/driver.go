package opcua

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// space is the one space of a device: every node is a unit, numbered in
// the order Resolve first saw it, so consecutive tags coalesce into one
// Read of many nodes.
const space = 1

func init() { driver.Register("opcua", New()) }

// Driver is the OPC UA driver. It keeps, per device, the node ids in the
// order Resolve numbered them, so that a Read of units start..start+count
// knows its nodes.
type Driver struct {
	mu   sync.Mutex
	devs map[string]*nodeTable
}

// New returns a Driver. It does no I/O.
func New() *Driver { return &Driver{devs: map[string]*nodeTable{}} }

// nodeTable numbers a device's node ids. It only grows: a reload keeps the
// numbers of known nodes, so blocks planned before it stay valid.
type nodeTable struct {
	mu    sync.RWMutex
	ids   []*ua.NodeID
	index map[string]uint32
}

func (t *nodeTable) add(id *ua.NodeID) uint32 {
	key := id.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.index[key]; ok {
		return i
	}
	i := uint32(len(t.ids))
	t.ids = append(t.ids, id)
	t.index[key] = i
	return i
}

// nodes returns the node ids of units start..start+count.
func (t *nodeTable) nodes(start, count uint32) ([]*ua.NodeID, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if uint64(start)+uint64(count) > uint64(len(t.ids)) {
		return nil, false
	}
	return t.ids[start : start+count], true
}

func (d *Driver) table(dev string) *nodeTable {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.devs[dev]
	if !ok {
		t = &nodeTable{index: map[string]uint32{}}
		d.devs[dev] = t
	}
	return t
}

// ParseNodeID parses a tag address: ns=2;s=Machine.Speed, i=2258,
// ns=3;i=1001, ns=1;g=GUID, ns=1;b=BASE64. Namespace URIs (nsu=) are not
// accepted, since their index is known only after connecting.
func ParseNodeID(s string) (*ua.NodeID, error) {
	if len(s) == 0 || len(s) > 4096 {
		return nil, errcode.New(errcode.UABadNodeID, "node id %q: empty or longer than 4096 bytes", s)
	}
	// gopcua takes any other text for a string id; a typo such as
	// "ns=2;x=1" must be refused, not read as the string "x=1".
	rest := s
	if strings.HasPrefix(rest, "ns=") {
		if i := strings.IndexByte(rest, ';'); i > 0 {
			rest = rest[i+1:]
		}
	}
	if len(rest) < 2 || rest[1] != '=' || !strings.ContainsRune("isgb", rune(rest[0])) {
		return nil, errcode.New(errcode.UABadNodeID, "node id %q: want [ns=N;]i=, s=, g= or b= followed by the identifier", s)
	}
	id, err := ua.ParseNodeID(s)
	if err != nil {
		return nil, errcode.Wrap(errcode.UABadNodeID, err, "node id %q", s)
	}
	return id, nil
}

// Resolve implements driver.Driver.
func (d *Driver) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	id, err := ParseNodeID(t.Address)
	if err != nil {
		return driver.Point{}, err
	}
	if t.Type == model.TypeInvalid || t.Type > model.String {
		return driver.Point{}, errcode.New(errcode.UATypeMismatch, "tag %s has no valid type", t.Name)
	}
	i := d.table(dev.Name).add(id)
	return driver.Point{Space: space, Start: i, Count: 1, Type: t.Type, Codec: codecFor(t.Type)}, nil
}

// MaxCount implements driver.Driver: nodes per Read. A connection splits
// a larger read to the server's own MaxNodesPerRead.
func (d *Driver) MaxCount(uint32) uint32 { return defaultMaxRead }

// SpaceName implements driver.Driver.
func (d *Driver) SpaceName(s uint32) string {
	if s == space {
		return "nodes"
	}
	return "space " + strconv.Itoa(int(s))
}

// Pushes implements driver.Pusher: subscribe mode (the default) pushes.
func (d *Driver) Pushes(dev driver.DeviceSpec) bool { return dev.Options["mode"] != "poll" }

// Classify implements driver.Driver.
func (d *Driver) Classify(err error) driver.Fault {
	switch errcode.Of(err) {
	case errcode.UATimeout:
		return driver.FaultTimeout
	case errcode.UAMalformed:
		return driver.FaultMalformed
	case errcode.UABadStatus:
		var st ua.StatusCode
		if errors.As(err, &st) && (st == ua.StatusBadTooManyOperations || st == ua.StatusBadEncodingLimitsExceeded ||
			st == ua.StatusBadResponseTooLarge || st == ua.StatusBadRequestTooLarge) {
			return driver.FaultRejected
		}
		return driver.FaultDevice
	case errcode.UATypeMismatch, errcode.UABadNodeID, errcode.UANotWritable, errcode.UABadOption:
		return driver.FaultDevice
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return driver.FaultTimeout
	}
	return driver.FaultTransport
}

// Open implements driver.Driver. It checks the options and does no I/O.
func (d *Driver) Open(dev driver.DeviceSpec, endpoint string) (driver.Conn, error) {
	if endpoint == "" {
		endpoint = dev.Endpoint
	}
	s, err := parseSettings(endpoint, dev.Options, dev.Timeout)
	if err != nil {
		return nil, err
	}
	return &Conn{name: dev.Name, s: s, table: d.table(dev.Name)}, nil
}

// wrapErr gives an error from gopcua its code. what says what was being done.
func wrapErr(err error, what string) error {
	if err == nil || errcode.Of(err) != 0 {
		return err
	}
	var st ua.StatusCode
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ua.StatusBadTimeout), errors.As(err, &ne) && ne.Timeout():
		return errcode.Wrap(errcode.UATimeout, err, "%s", what)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return errcode.Wrap(errcode.UAConnection, err, "%s", what)
	case errors.As(err, &st):
		switch st {
		case ua.StatusBadSecurityChecksFailed, ua.StatusBadCertificateInvalid, ua.StatusBadCertificateUntrusted,
			ua.StatusBadCertificateURIInvalid, ua.StatusBadCertificateUseNotAllowed, ua.StatusBadSecurityPolicyRejected,
			ua.StatusBadCertificateTimeInvalid, ua.StatusBadCertificateIssuerRevocationUnknown, ua.StatusBadCertificateRevocationUnknown:
			return errcode.Wrap(errcode.UASecurityRejected, err, "%s", what)
		case ua.StatusBadIdentityTokenInvalid, ua.StatusBadIdentityTokenRejected, ua.StatusBadUserAccessDenied, ua.StatusBadUserSignatureInvalid:
			return errcode.Wrap(errcode.UAAuth, err, "%s", what)
		case ua.StatusBadSessionClosed, ua.StatusBadSessionIDInvalid, ua.StatusBadSecureChannelClosed, ua.StatusBadSecureChannelIDInvalid,
			ua.StatusBadConnectionClosed, ua.StatusBadServerNotConnected, ua.StatusBadCommunicationError, ua.StatusBadNotConnected:
			return errcode.Wrap(errcode.UAConnection, err, "%s", what)
		}
		return errcode.Wrap(errcode.UABadStatus, err, "%s", what)
	}
	return errcode.Wrap(errcode.UAConnection, err, "%s", what)
}

var (
	_ driver.Driver = (*Driver)(nil)
	_ driver.Pusher = (*Driver)(nil)
)

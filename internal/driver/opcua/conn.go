package opcua

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/uavalue"
)

// Conn is a session with one OPC UA server.
type Conn struct {
	name  string
	s     settings
	table *nodeTable

	mu      sync.Mutex
	c       *opcua.Client
	maxRead uint32
	states  chan opcua.ConnState
	types   map[string]ua.TypeID // node's DataType, learnt on first write
}

// Connect discovers the server's endpoints, checks the server certificate
// of the chosen endpoint against the trust list, and opens a secure
// channel and session. A refused certificate fails with UACertUntrusted
// before any secure channel exists.
func (c *Conn) Connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		return nil
	}
	cl, err := dial(ctx, &c.s, c.stateFunc())
	if err != nil {
		return err
	}
	c.c = cl
	c.maxRead = c.s.maxRead
	c.types = map[string]ua.TypeID{}
	// The server's own limit, when it tells one, caps ours.
	if v, err := readValues(ctx, cl, []*ua.NodeID{ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)}); err == nil &&
		v[0].Status == ua.StatusOK && v[0].Value != nil {
		if n, ok := v[0].Value.Value().(uint32); ok && n > 0 && n < c.maxRead {
			c.maxRead = n
		}
	}
	return nil
}

// stateFunc returns the callback gopcua calls on connection state changes;
// Subscribe listens to them to mark its items while the session is down.
func (c *Conn) stateFunc() func(opcua.ConnState) {
	ch := make(chan opcua.ConnState, 16)
	c.states = ch
	return func(s opcua.ConnState) {
		select {
		case ch <- s:
		default: // Subscribe reads the current state when it falls behind
		}
	}
}

// dial does the discovery, the trust check and the session. It is shared
// by Conn.Connect and Browse.
func dial(ctx context.Context, s *settings, state func(opcua.ConnState)) (*opcua.Client, error) {
	done, err := driver.Pace(ctx)
	if err != nil {
		return nil, err
	}
	eps, err := opcua.GetEndpoints(ctx, s.endpoint, opcua.DialTimeout(s.timeout), opcua.RequestTimeout(s.timeout))
	done()
	if err != nil {
		return nil, wrapErr(err, "get endpoints of "+s.endpoint)
	}
	var ep *ua.EndpointDescription
	for _, e := range eps {
		if e.SecurityPolicyURI == s.policyURI && e.SecurityMode == s.mode && (ep == nil || e.SecurityLevel > ep.SecurityLevel) {
			ep = e
		}
	}
	if ep == nil {
		offered := ""
		for _, e := range eps {
			offered += " " + policyName(e.SecurityPolicyURI) + "/" + e.SecurityMode.String()
		}
		return nil, errcode.New(errcode.UANoEndpoint, "%s offers no endpoint with %s/%s; it offers:%s", s.endpoint, s.policy, s.mode, offered)
	}
	tokenType := map[string]ua.UserTokenType{"anonymous": ua.UserTokenTypeAnonymous, "username": ua.UserTokenTypeUserName, "certificate": ua.UserTokenTypeCertificate}[s.auth]
	hasToken := false
	for _, t := range ep.UserIdentityTokens {
		hasToken = hasToken || t.TokenType == tokenType
	}
	if !hasToken {
		return nil, errcode.New(errcode.UANoEndpoint, "%s does not accept auth %s on %s/%s", s.endpoint, s.auth, s.policy, s.mode)
	}
	opts := []opcua.Option{
		opcua.SecurityFromEndpoint(ep, tokenType),
		opcua.RequestTimeout(s.timeout),
		opcua.DialTimeout(s.timeout),
		opcua.AutoReconnect(true),
		opcua.ReconnectInterval(time.Second),
		opcua.SessionTimeout(10 * time.Minute),
		opcua.ApplicationName("otlink"),
		opcua.ProductURI("urn:otlink"),
	}
	if state != nil {
		opts = append(opts, opcua.StateChangedFunc(state))
	}
	// A secure channel needs our certificate and the trust check; so does
	// a user name token, whose password is encrypted for the server's
	// certificate even on a None channel: otlink sends no password to a
	// server it does not trust.
	secure := s.mode != ua.MessageSecurityModeNone
	needStore := secure || s.auth != "anonymous"
	st, err := s.store()
	if err != nil && needStore {
		return nil, err
	}
	if st != nil {
		if secure || (s.auth == "username" && len(ep.ServerCertificate) > 0) {
			if err := st.CheckDER(ep.ServerCertificate); err != nil {
				return nil, err
			}
		}
		own, err := st.Own()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opcua.Certificate(own.DER), opcua.PrivateKey(own.Key), opcua.ApplicationURI(own.ApplicationURI))
		if s.auth == "certificate" && s.userCert == "" {
			opts = append(opts, opcua.AuthCertificate(own.DER), opcua.AuthPrivateKey(own.Key))
		}
	}
	switch s.auth {
	case "anonymous":
		opts = append(opts, opcua.AuthAnonymous())
	case "username":
		p, err := s.password()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opcua.AuthUsername(s.user, p))
	case "certificate":
		if s.userCert != "" {
			der, key, err := loadUserCert(s.userCert, s.userKey)
			if err != nil {
				return nil, err
			}
			opts = append(opts, opcua.AuthCertificate(der), opcua.AuthPrivateKey(key))
		}
	}
	cl, err := opcua.NewClient(s.endpoint, opts...)
	if err != nil {
		return nil, errcode.Wrap(errcode.UABadOption, err, "configure client for %s", s.endpoint)
	}
	done, err = driver.Pace(ctx)
	if err != nil {
		return nil, err
	}
	err = cl.Connect(ctx)
	done()
	if err != nil {
		_ = cl.Close(context.Background())
		return nil, wrapErr(err, "connect to "+s.endpoint)
	}
	return cl, nil
}

func loadUserCert(certFile, keyFile string) ([]byte, *rsa.PrivateKey, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.UABadOption, err, "read user_cert_file")
	}
	if b, _ := pem.Decode(cb); b != nil {
		cb = b.Bytes
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.UABadOption, err, "read user_key_file")
	}
	b, _ := pem.Decode(kb)
	if b == nil {
		return nil, nil, errcode.New(errcode.UABadOption, "user_key_file %s is not PEM", keyFile)
	}
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		pk, err2 := x509.ParsePKCS8PrivateKey(b.Bytes)
		rk, ok := pk.(*rsa.PrivateKey)
		if err2 != nil || !ok {
			return nil, nil, errcode.Wrap(errcode.UABadOption, err, "user_key_file %s holds no RSA key", keyFile)
		}
		k = rk
	}
	return cb, k, nil
}

func policyName(uri string) string {
	for n, u := range policies {
		if u == uri {
			return n
		}
	}
	return uri
}

func (c *Conn) client() (*opcua.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, errcode.New(errcode.UANotConnected, "device %s: not connected", c.name)
	}
	return c.c, nil
}

// readValues reads the Value attribute of nodes in one request.
func readValues(ctx context.Context, cl *opcua.Client, nodes []*ua.NodeID) ([]*ua.DataValue, error) {
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnSource, NodesToRead: make([]*ua.ReadValueID, len(nodes))}
	for i, n := range nodes {
		req.NodesToRead[i] = &ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDValue}
	}
	return readAttrs(ctx, cl, req)
}

func readAttrs(ctx context.Context, cl *opcua.Client, req *ua.ReadRequest) ([]*ua.DataValue, error) {
	done, err := driver.Pace(ctx)
	if err != nil {
		return nil, err
	}
	res, err := cl.Read(ctx, req)
	done()
	if err != nil {
		return nil, wrapErr(err, "read")
	}
	if st := res.ResponseHeader.ServiceResult; st != ua.StatusOK {
		return nil, errcode.Wrap(errcode.UABadStatus, st, "read")
	}
	if len(res.Results) != len(req.NodesToRead) {
		return nil, errcode.New(errcode.UAMalformed, "read of %d nodes returned %d results", len(req.NodesToRead), len(res.Results))
	}
	return res.Results, nil
}

// Read implements driver.Conn: the values of nodes start..start+count in
// the slot encoding of codec.go, in requests of at most the server's
// MaxNodesPerRead.
func (c *Conn) Read(ctx context.Context, sp, start, count uint32, buf []byte) ([]byte, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	nodes, ok := c.table.nodes(start, count)
	if sp != space || !ok {
		return nil, errcode.New(errcode.UABadNodeID, "device %s: units %d..%d of space %d were never resolved", c.name, start, start+count, sp)
	}
	c.mu.Lock()
	max := c.maxRead
	c.mu.Unlock()
	block := buf[:0]
	var heap []byte
	base := int(count) * slotSize
	for len(nodes) > 0 {
		n := min(uint32(len(nodes)), max)
		vals, err := readValues(ctx, cl, nodes[:n])
		if err != nil {
			return nil, err
		}
		for _, dv := range vals {
			if dv == nil {
				block = appendSlot(block, ua.StatusBadNoData, scalar{}, &heap, base)
				continue
			}
			block = appendSlot(block, dv.Status, fromVariant(dv.Value), &heap, base)
		}
		nodes = nodes[n:]
	}
	return append(block, heap...), nil
}

// Write implements driver.Writer. The value is converted to the node's
// DataType (read once per node), so a float64 tag can write a Float node.
func (c *Conn) Write(ctx context.Context, p driver.Point, v model.Value) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	nodes, ok := c.table.nodes(p.Start, 1)
	if p.Space != space || !ok {
		return errcode.New(errcode.UABadNodeID, "device %s: unit %d was never resolved", c.name, p.Start)
	}
	node := nodes[0]
	key := node.String()
	c.mu.Lock()
	typ, known := c.types[key]
	c.mu.Unlock()
	if !known {
		res, err := readAttrs(ctx, cl, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: node, AttributeID: ua.AttributeIDDataType}}})
		if err != nil {
			return err
		}
		if res[0].Status != ua.StatusOK || res[0].Value == nil {
			return errcode.Wrap(errcode.UANotWritable, res[0].Status, "read data type of %s", key)
		}
		dt, _ := res[0].Value.Value().(*ua.NodeID)
		if dt == nil || dt.Namespace() != 0 {
			return errcode.New(errcode.UANotWritable, "node %s has a data type otlink cannot write", key)
		}
		typ = ua.TypeID(dt.IntID())
		c.mu.Lock()
		c.types[key] = typ
		c.mu.Unlock()
	}
	vr, err := variantFor(v, typ)
	if err != nil {
		return err
	}
	done, err := driver.Pace(ctx)
	if err != nil {
		return err
	}
	res, err := cl.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: node, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: vr},
	}}})
	done()
	if err != nil {
		return wrapErr(err, "write "+key)
	}
	if st := res.ResponseHeader.ServiceResult; st != ua.StatusOK {
		return errcode.Wrap(errcode.UANotWritable, st, "write %s", key)
	}
	if len(res.Results) != 1 {
		return errcode.New(errcode.UAMalformed, "write of one node returned %d results", len(res.Results))
	}
	if st := res.Results[0]; st != ua.StatusOK {
		return errcode.Wrap(errcode.UANotWritable, st, "write %s", key)
	}
	return nil
}

// variantFor converts v to the built-in type of a node, refusing values
// out of its range.
func variantFor(v model.Value, typ ua.TypeID) (*ua.Variant, error) {
	var want model.Type
	switch typ {
	case ua.TypeIDBoolean:
		want = model.Bool
	case ua.TypeIDSByte:
		want = model.Int8
	case ua.TypeIDInt16:
		want = model.Int16
	case ua.TypeIDInt32:
		want = model.Int32
	case ua.TypeIDInt64:
		want = model.Int64
	case ua.TypeIDByte:
		want = model.Uint8
	case ua.TypeIDUint16:
		want = model.Uint16
	case ua.TypeIDUint32:
		want = model.Uint32
	case ua.TypeIDUint64:
		want = model.Uint64
	case ua.TypeIDFloat:
		want = model.Float32
	case ua.TypeIDDouble:
		want = model.Float64
	case ua.TypeIDString:
		want = model.String
	default:
		return nil, errcode.New(errcode.UANotWritable, "node data type %s cannot be written by otlink", typ)
	}
	s, ok := scalarOf(v)
	if !ok {
		return nil, errcode.New(errcode.UATypeMismatch, "no value to write")
	}
	mv, err := convert(s, want)
	if err != nil {
		return nil, err
	}
	return uavalue.Variant(mv), nil
}

// Identify implements driver.Identifier from the server's BuildInfo.
func (c *Conn) Identify(ctx context.Context) (driver.Identity, error) {
	cl, err := c.client()
	if err != nil {
		return driver.Identity{}, err
	}
	ids := []uint32{id.Server_ServerStatus_BuildInfo_ManufacturerName, id.Server_ServerStatus_BuildInfo_ProductName,
		id.Server_ServerStatus_BuildInfo_SoftwareVersion, id.Server_ServerStatus_BuildInfo_ProductURI, id.Server_ServerStatus_BuildInfo_BuildNumber}
	nodes := make([]*ua.NodeID, len(ids))
	for i, n := range ids {
		nodes[i] = ua.NewNumericNodeID(0, n)
	}
	vals, err := readValues(ctx, cl, nodes)
	if err != nil {
		return driver.Identity{}, err
	}
	str := func(i int) string {
		if vals[i].Status != ua.StatusOK {
			return ""
		}
		s, _ := fromVariant(vals[i].Value), 0
		if s.kind == kindString {
			return s.s
		}
		return ""
	}
	idn := driver.Identity{Vendor: str(0), Product: str(1), Revision: str(2), Extra: map[string]string{}}
	if u := str(3); u != "" {
		idn.Extra["product_uri"] = u
	}
	if b := str(4); b != "" {
		idn.Extra["build"] = b
	}
	idn.Extra["security"] = c.s.policy + "/" + c.s.mode.String()
	return idn, nil
}

// Close implements driver.Conn.
func (c *Conn) Close() error {
	c.mu.Lock()
	cl := c.c
	c.c = nil
	c.mu.Unlock()
	if cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.timeout)
	defer cancel()
	_ = cl.Close(ctx)
	return nil
}

var (
	_ driver.Conn       = (*Conn)(nil)
	_ driver.Writer     = (*Conn)(nil)
	_ driver.Identifier = (*Conn)(nil)
	_ driver.Subscriber = (*Conn)(nil)
)

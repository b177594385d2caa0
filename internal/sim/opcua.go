package sim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/uareflect"
)

// UAConfig configures a simulated OPC UA machine: one machine of the
// model served by its own OPC UA server.
type UAConfig struct {
	Name    string
	Line    string
	Machine MachineConfig // Name defaults to the machine's; Kind press by default (set Kind explicitly for a mill)

	Listen string        // host:port; default 127.0.0.1:0 (a free port)
	Clock  Clock         // nil = real time
	Speed  float64       // simulated seconds per clock second; default 1
	Tick   time.Duration // how often the model catches up with the clock; default 100ms

	// Certificate (DER) and Key are the server's application instance
	// certificate; nil = a self-signed one made by Start (see UACert for
	// one kept in a folder, so that a peer's trust in it lasts).
	Certificate []byte
	Key         *rsa.PrivateKey
	// TrustedClients are the client certificates (DER) accepted on a
	// secure channel. Empty accepts any client certificate, as a device
	// set to auto-accept does; Trust adds one later.
	TrustedClients [][]byte
	// AllowNone also offers security policy None (loopback tests only).
	AllowNone bool
}

// UAMachine is a simulated machine served over OPC UA (gopcua's server):
// Basic256Sha256 with Sign and SignAndEncrypt (and None when asked),
// anonymous users, its variables under ns=2 string node ids
// "<name>.<Variable>", subscriptions, and a writable FeedOverride.
//
// The server refuses, with BadCertificateUntrusted, a session or a write
// on a secure channel whose client certificate is not trusted; gopcua
// checks no certificates itself.
type UAMachine struct {
	cfg   UAConfig
	clock Clock
	start time.Time
	vars  []*uaVar
	sp    *uaSpace

	mu      sync.Mutex // guards m and trusted
	m       *Machine
	trusted [][]byte

	life    sync.Mutex
	srv     *server.Server
	addr    string
	started bool
	running bool // run goroutine started
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// NewUAMachine returns a UAMachine; it does no I/O. Start makes it listen.
func NewUAMachine(cfg UAConfig) *UAMachine {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Machine.Name == "" {
		cfg.Machine.Name = cfg.Name
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	u := &UAMachine{cfg: cfg, clock: clock, start: clock.Now(), m: NewMachine(cfg.Machine), vars: uaVars(),
		trusted: append([][]byte(nil), cfg.TrustedClients...), stop: make(chan struct{}), done: make(chan struct{})}
	u.cfg.Machine = u.m.Config()
	u.sp = &uaSpace{uri: "urn:otlink:sim:" + cfg.Name, name: cfg.Name, vars: u.vars, by: map[string]*uaVar{}}
	for _, v := range u.vars {
		u.sp.by[cfg.Name+"."+v.name] = v
	}
	u.publishLocked()
	return u
}

// Name returns the machine's name.
func (u *UAMachine) Name() string { return u.cfg.Name }

// Line returns the name of its line.
func (u *UAMachine) Line() string { return u.cfg.Line }

// Kind returns the kind of machine.
func (u *UAMachine) Kind() Kind { return u.cfg.Machine.Kind }

// Addr returns host:port once started.
func (u *UAMachine) Addr() string {
	u.life.Lock()
	defer u.life.Unlock()
	return u.addr
}

// URL returns the endpoint URL: opc.tcp://host:port.
func (u *UAMachine) URL() string { return "opc.tcp://" + u.Addr() }

// NodeID returns the node id of a variable: ns=2;s=<name>.<variable>.
func (u *UAMachine) NodeID(variable string) string { return "ns=2;s=" + u.cfg.Name + "." + variable }

// Certificate returns the server's certificate (DER) once started.
func (u *UAMachine) Certificate() []byte {
	u.life.Lock()
	defer u.life.Unlock()
	return u.cfg.Certificate
}

// Trust adds a client certificate (DER) to the trusted set.
func (u *UAMachine) Trust(der []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.trusted = append(u.trusted, append([]byte(nil), der...))
}

// trustedCert tells whether a client certificate is accepted.
func (u *UAMachine) trustedCert(der []byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.trusted) == 0 {
		return true
	}
	for _, t := range u.trusted {
		if bytes.Equal(t, der) {
			return true
		}
	}
	return false
}

// Values advances the machine to the clock and returns its signals.
func (u *UAMachine) Values() Values {
	u.Sync()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m.Values()
}

// Start makes the machine listen and serve until ctx is done or Close.
func (u *UAMachine) Start(ctx context.Context) error {
	u.life.Lock()
	defer u.life.Unlock()
	if u.started || u.closed {
		return errcode.New(errcode.SimState, "opcua machine %s already started", u.cfg.Name)
	}
	u.started = true
	if u.cfg.Certificate == nil || u.cfg.Key == nil {
		der, key, err := UASelfSigned(u.cfg.Name, time.Now())
		if err != nil {
			return errcode.Wrap(errcode.SimUACert, err, "certificate for opcua machine %s", u.cfg.Name)
		}
		u.cfg.Certificate, u.cfg.Key = der, key
	}
	host, port, err := u.port()
	if err != nil {
		return err
	}
	opts := []server.Option{
		server.EndPoint(host, port),
		server.PrivateKey(u.cfg.Key), server.Certificate(u.cfg.Certificate),
		server.ServerName("otlink-sim " + u.cfg.Name), server.ManufacturerName("otlink-sim"),
		server.ProductName("OTL-SIM-" + upper(u.Kind().String()) + " OPC UA"), server.SoftwareVersion("1.0"),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSign),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.SetLogger(quietUALog{}),
	}
	if u.cfg.AllowNone {
		opts = append(opts, server.EnableSecurity("None", ua.MessageSecurityModeNone))
	}
	srv := server.New(opts...)
	u.srv = srv
	// ns=1 is the server's own (empty) namespace, ns=2 the machine's, as
	// on most OPC UA servers of machines.
	srv.AddNamespace(&uaSpace{uri: "urn:otlink-sim:" + u.cfg.Name + ":server"})
	if idx := srv.AddNamespace(u.sp); idx != 2 {
		return errcode.New(errcode.SimState, "opcua machine %s: namespace index %d, want 2", u.cfg.Name, idx)
	}
	u.sp.makeRoot()
	if ns0, err := srv.Namespace(0); err == nil && ns0.Objects() != nil {
		ns0.Objects().AddRef(u.sp.root, server.RefTypeIDOrganizes, true)
	}
	// gopcua keeps the first handler registered for a service: these
	// come before its own (registered by Start).
	sess := &server.SessionService{}
	if err := uareflect.SetUnexported(sess, "srv", srv); err != nil {
		return errcode.Wrap(errcode.SimState, err, "opcua machine %s: gopcua internals", u.cfg.Name)
	}
	srv.RegisterHandler(id.CreateSessionRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		if st := u.checkChannel(sc); st != ua.StatusOK {
			return nil, st
		}
		return sess.CreateSession(sc, r, reqID)
	})
	srv.RegisterHandler(id.WriteRequest_Encoding_DefaultBinary, u.write)
	srv.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		// gopcua's ticker panics on an interval of 0.
		if req, ok := r.(*ua.CreateSubscriptionRequest); ok && !(req.RequestedPublishingInterval >= 10) {
			req.RequestedPublishingInterval = 10
		}
		if srv.SubscriptionService == nil {
			return nil, ua.StatusBadServerNotConnected
		}
		return srv.SubscriptionService.CreateSubscription(sc, r, reqID)
	})
	if err := srv.Start(context.Background()); err != nil {
		return errcode.Wrap(errcode.SimListen, err, "listen for opcua machine %s on %s", u.cfg.Name, u.cfg.Listen)
	}
	u.addr = net.JoinHostPort(host, strconv.Itoa(port))
	u.running = true
	go u.run(ctx)
	return nil
}

// port resolves the listen address; port 0 takes a free port now, since
// gopcua puts the port in its endpoint URLs before it listens.
func (u *UAMachine) port() (string, int, error) {
	host, p, err := net.SplitHostPort(u.cfg.Listen)
	if err != nil {
		return "", 0, errcode.Wrap(errcode.SimListen, err, "opcua machine %s listen %q", u.cfg.Name, u.cfg.Listen)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errcode.New(errcode.SimListen, "opcua machine %s listen %q: bad port", u.cfg.Name, u.cfg.Listen)
	}
	if port == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", 0, errcode.Wrap(errcode.SimListen, err, "listen for opcua machine %s on %s", u.cfg.Name, u.cfg.Listen)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	return host, port, nil
}

// run advances the model with the clock and notifies subscriptions.
func (u *UAMachine) run(ctx context.Context) {
	defer close(u.done)
	t := time.NewTicker(u.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, v := range u.sync() {
				u.srv.ChangeNotification(u.sp.varID(v))
			}
		case <-ctx.Done():
			go u.Close()
			return
		case <-u.stop:
			return
		}
	}
}

// Sync advances the machine to the clock and publishes what changed.
func (u *UAMachine) Sync() { u.sync() }

func (u *UAMachine) sync() []*uaVar {
	u.mu.Lock()
	defer u.mu.Unlock()
	elapsed := u.clock.Now().Sub(u.start)
	target := int64(float64(elapsed) * u.cfg.Speed / float64(u.m.cfg.Step))
	if u.m.v.Step >= target {
		return nil
	}
	for u.m.v.Step < target {
		u.m.Step()
	}
	return u.publishLocked()
}

// publishLocked stores the values that changed and returns their
// variables.
func (u *UAMachine) publishLocked() []*uaVar {
	v := u.m.Values()
	ts := u.start.Add(time.Duration(float64(v.SimTime) / u.cfg.Speed))
	now := time.Now()
	var changed []*uaVar
	for _, x := range u.vars {
		val := x.get(&v)
		if cur := x.cur.Load(); cur != nil && cur.Value != nil && cur.Value.Value() == val {
			continue
		}
		x.cur.Store(&ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
			Value: ua.MustVariant(val), SourceTimestamp: ts, ServerTimestamp: now})
		changed = append(changed, x)
	}
	return changed
}

// checkChannel refuses a secure channel whose client certificate is not
// trusted, and a channel with a policy the server does not offer (gopcua
// opens a channel with any policy the client asks for).
func (u *UAMachine) checkChannel(sc *uasc.SecureChannel) ua.StatusCode {
	policy, mode, cert, err := uareflect.ChannelSecurity(sc)
	if err != nil {
		return ua.StatusBadInternalError
	}
	switch {
	case policy == ua.SecurityPolicyURINone && mode == ua.MessageSecurityModeNone:
		if !u.cfg.AllowNone {
			return ua.StatusBadSecurityPolicyRejected
		}
		return ua.StatusOK
	case policy != ua.SecurityPolicyURIBasic256Sha256:
		return ua.StatusBadSecurityPolicyRejected
	case !u.trustedCert(cert):
		return ua.StatusBadCertificateUntrusted
	}
	return ua.StatusOK
}

// write serves Write: only FeedOverride's value, within 0..200 %.
func (u *UAMachine) write(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	req, ok := r.(*ua.WriteRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if st := u.checkChannel(sc); st != ua.StatusOK {
		return nil, st
	}
	if len(req.NodesToWrite) > 100 {
		return nil, ua.StatusBadTooManyOperations
	}
	res := make([]ua.StatusCode, len(req.NodesToWrite))
	var changed []*uaVar
	for i, w := range req.NodesToWrite {
		res[i] = ua.StatusBadNotWritable
		if w == nil {
			res[i] = ua.StatusBadNodeIDInvalid
			continue
		}
		_, v := u.sp.lookup(w.NodeID)
		if v == nil {
			if obj, _ := u.sp.lookup(w.NodeID); !obj {
				res[i] = ua.StatusBadNodeIDUnknown
			}
			continue
		}
		if !v.writable || w.AttributeID != ua.AttributeIDValue {
			continue
		}
		if w.Value == nil || w.Value.Value == nil {
			res[i] = ua.StatusBadTypeMismatch
			continue
		}
		pct, ok := overrideOf(w.Value.Value.Value())
		switch {
		case !ok:
			res[i] = ua.StatusBadTypeMismatch
		case pct < FeedOverrideMin || pct > FeedOverrideMax:
			res[i] = ua.StatusBadOutOfRange
		default:
			u.mu.Lock()
			err := u.m.SetFeedOverride(uint16(pct))
			if err == nil {
				changed = append(changed, u.publishLocked()...)
			}
			u.mu.Unlock()
			res[i] = ua.StatusOK
			if err != nil {
				res[i] = ua.StatusBadOutOfRange
			}
		}
	}
	for _, v := range changed {
		u.srv.ChangeNotification(u.sp.varID(v))
	}
	return &ua.WriteResponse{ResponseHeader: &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: req.RequestHeader.RequestHandle,
		ServiceResult: ua.StatusOK, ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil)},
		Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// overrideOf reads a written override as a whole number of percent.
func overrideOf(x any) (int64, bool) {
	switch n := x.(type) {
	case uint16:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint64:
		if n > 1<<32 {
			return 1 << 32, true
		}
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case int8:
		return int64(n), true
	case float32:
		return int64(n), float32(int64(n)) == n
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

// Close stops the server; its port is free when it returns.
func (u *UAMachine) Close() error {
	u.life.Lock()
	if u.closed {
		u.life.Unlock()
		return nil
	}
	u.closed = true
	srv, running := u.srv, u.running
	u.life.Unlock()
	if running {
		close(u.stop)
		// gopcua can block a notification on a subscription that is
		// going away; the machine does not wait for it for ever.
		select {
		case <-u.done:
		case <-time.After(2 * time.Second):
		}
	}
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// uaTags are the variables DemoMachine configures as tags.
var uaTags = []struct {
	variable, name, typ, poll string
	deadband                  float64
}{
	{"State", "state", "uint16", "fast", 0},
	{"Running", "running", "bool", "fast", 0},
	{"Speed", "speed", "float64", "fast", 0.5},
	{"Feed", "feed", "float64", "fast", 5},
	{"Load", "load", "float64", "fast", 0.5},
	{"Vibration", "vibration", "float64", "fast", 0.05},
	{"AlarmWord", "alarm_word", "uint16", "fast", 0},
	{"DoorOpen", "door_open", "bool", "fast", 0},
	{"FeedOverride", "feed_override", "uint16", "fast", 0},
	{"DriveTemp", "drive_temp", "float64", "slow", 0.1},
	{"CoolantTemp", "coolant_temp", "float64", "slow", 0.1},
	{"AmbientTemp", "ambient_temp", "float64", "slow", 0.1},
	{"Power", "power", "float64", "slow", 0.1},
	{"Energy", "energy", "float64", "slow", 0},
	{"GoodCount", "good_count", "uint32", "slow", 0},
	{"ScrapCount", "scrap_count", "uint32", "slow", 0},
	{"CycleTime", "cycle_time", "float64", "slow", 0},
	{"Program", "program", "string", "slow", 0},
}

// DemoMachine returns the otlink device and machine that acquire this
// machine through the opcua driver: Basic256Sha256 SignAndEncrypt,
// anonymous, subscriptions (mode subscribe), FeedOverride writable.
func (u *UAMachine) DemoMachine() (config.Device, config.Machine) {
	d := config.Device{
		Name:     u.cfg.Name,
		Driver:   "opcua",
		Endpoint: u.URL(),
		Timeout:  config.Duration(5 * time.Second),
		Budget:   config.Budget{MaxInFlight: 1},
		Poll: []config.PollClass{
			{Name: "fast", Interval: config.Duration(250 * time.Millisecond)},
			{Name: "slow", Interval: config.Duration(2 * time.Second)},
		},
		Options: map[string]string{"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt", "mode": "subscribe"},
	}
	m := config.Machine{Name: u.cfg.Name, Description: "simulated " + u.Kind().String() + " over OPC UA (otlink sim)", Device: u.cfg.Name}
	byName := map[string]*uaVar{}
	for _, v := range u.vars {
		byName[v.name] = v
	}
	for _, t := range uaTags {
		v := byName[t.variable]
		tag := config.Tag{Name: t.name, Address: u.NodeID(t.variable), Type: t.typ, Unit: v.unit, Poll: t.poll, Deadband: t.deadband, Description: v.desc}
		if t.typ == "string" {
			tag.Length = 32
		}
		if v.writable {
			tag.Writable = true
			tag.Limits = &config.Limits{Min: 50, Max: 150}
			tag.Range = &config.Range{Min: FeedOverrideMin, Max: FeedOverrideMax}
		}
		m.Tags = append(m.Tags, tag)
	}
	return d, m
}

// quietUALog drops gopcua's logging (every connection at info level); a
// simulator's clients are tests and the demo.
type quietUALog struct{}

func (quietUALog) Debug(string, ...any) {}
func (quietUALog) Info(string, ...any)  {}
func (quietUALog) Warn(string, ...any)  {}
func (quietUALog) Error(string, ...any) {}

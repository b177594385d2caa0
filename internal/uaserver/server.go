package uaserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/uareflect"
	"github.com/otlink/otlink/internal/uavalue"
)

// Bounds that protect the server from one client.
const (
	maxNodesPerCall   = 10000
	maxSubsPerSession = 20
	minPublishMs      = 50
	maxPublishMs      = 60000
	activateWithin    = 30 * time.Second
	maxAsync          = 8 // writes and history reads in flight
)

// security is one offered policy and mode.
type security struct {
	uri  string
	mode ua.MessageSecurityMode
}

// Server is a running OPC UA server.
type Server struct {
	opts Options
	cfg  config.OPCUAServer
	log  *slog.Logger
	secs []security
	urls []string

	srv   *server.Server
	sp    *space
	key   *rsa.PrivateKey
	sess  *server.SessionService
	async chan struct{}

	mu        sync.Mutex
	sessions  map[string]*session
	subParams map[uint32]subParams // by subscription id

	fmu     sync.Mutex             // after gopcua's MonitoredItemService.Mu
	filters map[uint32]*itemFilter // by monitored item id

	// Connections (conn.go).
	ln        net.Listener
	brk       *broker
	der       []byte
	conns     chan struct{} // one per open connection
	handshake time.Duration
	refused   atomic.Int64 // connections over the limit
	dropped   atomic.Int64 // notifications given up on a busy subscription
	connWG    sync.WaitGroup
	// regMu orders a connection joining gopcua's channel broker before
	// Close, or not at all: the broker's WaitGroup must not be added to
	// while its Close waits on it (a race the detector found in CI).
	regMu   sync.Mutex
	closing bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// session is what this package knows of a gopcua session.
type session struct {
	token    *ua.NodeID
	sc       *uasc.SecureChannel
	policy   string
	mode     ua.MessageSecurityMode
	nonce    []byte
	ip       string
	created  time.Time
	timeout  time.Duration
	user     *User // nil until activated
	lastUsed time.Time
	cps      map[string]histCursor // history continuation points
}

// New checks the options. It does no I/O: Start listens.
func New(opts Options) (*Server, error) {
	cfg := config.OPCUADefaults(opts.Config)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Source == nil {
		return nil, errcode.New(errcode.UAServerConfig, "opcua server needs a value source")
	}
	if opts.WriteMax <= 0 {
		opts.WriteMax = 10 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = handshakeWithin
	}
	maxConns := opts.MaxConnections
	if maxConns <= 0 {
		maxConns = cfg.MaxSessions + extraConns
	}
	s := &Server{opts: opts, cfg: cfg, log: opts.Logger.With("proto", "opcua"), sessions: map[string]*session{}, subParams: map[uint32]subParams{}, filters: map[uint32]*itemFilter{}, async: make(chan struct{}, maxAsync),
		conns: make(chan struct{}, maxConns), handshake: opts.HandshakeTimeout}
	for _, p := range cfg.SecurityPolicies {
		name, ok := config.UAPolicy(p)
		if !ok {
			return nil, errcode.New(errcode.UAServerConfig, "opcua security policy %q is not supported", p)
		}
		if name == config.UAPolicyNone {
			s.secs = append(s.secs, security{ua.SecurityPolicyURINone, ua.MessageSecurityModeNone})
			continue
		}
		for _, m := range cfg.SecurityModes {
			mn, ok := config.UAMode(m)
			if !ok {
				return nil, errcode.New(errcode.UAServerConfig, "opcua security mode %q is not supported", m)
			}
			mode := ua.MessageSecurityModeSign
			if mn == config.UAModeSignAndEncrypt {
				mode = ua.MessageSecurityModeSignAndEncrypt
			}
			s.secs = append(s.secs, security{"http://opcfoundation.org/UA/SecurityPolicy#" + name, mode})
		}
	}
	if len(s.secs) == 0 {
		return nil, errcode.New(errcode.UAServerConfig, "opcua server offers no security policy")
	}
	if opts.Users == nil && !cfg.Anonymous {
		return nil, errcode.New(errcode.UAServerConfig, "opcua server has neither users nor anonymous access: no client could log in")
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAServerConfig, err, "opcua listen %q", cfg.Listen)
	}
	adv := cfg.Hostname
	if adv == "" {
		adv = host
		if host == "" || host == "0.0.0.0" || host == "::" {
			adv, _ = os.Hostname()
		}
	}
	s.urls = []string{"opc.tcp://" + net.JoinHostPort(host, port)}
	if adv != host {
		s.urls = append(s.urls, "opc.tcp://"+net.JoinHostPort(adv, port))
	}
	return s, nil
}

// EndpointURL is the URL clients connect to.
func (s *Server) EndpointURL() string { return s.urls[len(s.urls)-1] }

// Start listens and serves until Close.
func (s *Server) Start(ctx context.Context) error {
	pki := s.opts.PKI
	if pki == nil {
		pki = &memPKI{}
	}
	der, key, err := pki.Own()
	if err != nil {
		return errcode.Wrap(errcode.UAServerStart, err, "opcua server certificate")
	}
	s.key, s.der = key, der
	ver := s.opts.Version
	if ver == "" {
		ver = "dev"
	}
	sopts := []server.Option{server.PrivateKey(key), server.Certificate(der), server.ServerName("otlink"),
		server.ManufacturerName("otlink"), server.ProductName("otlink OPC UA server"), server.SoftwareVersion(ver),
		server.SetLogger(gopcuaLog{s.log})}
	for _, u := range s.urls {
		h, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "opc.tcp://"))
		sopts = append(sopts, server.EndPoint(h, config.OPCUAPort(":"+p)))
	}
	for _, sec := range s.secs {
		sopts = append(sopts, server.EnableSecurity(sec.uri, sec.mode))
	}
	if s.opts.Users != nil {
		sopts = append(sopts, server.EnableAuthMode(ua.UserTokenTypeUserName))
	}
	if s.cfg.Anonymous {
		sopts = append(sopts, server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	}
	srv := server.New(sopts...)
	s.srv = srv
	sp := &space{}
	idx := srv.AddNamespace(sp)
	*sp = *build(s.opts.Plant, uint16(idx), s.opts.History != nil, s.cfg.SampleInterval.D())
	s.sp = sp
	ns0, err := srv.Namespace(0)
	if err != nil {
		return errcode.Wrap(errcode.UAServerStart, err, "opcua namespace 0")
	}
	if objs := ns0.Objects(); objs != nil {
		objs.AddRef(sp.srvNode(sp.root), server.RefTypeIDOrganizes, true)
	}
	s.sess = &server.SessionService{}
	if err := uareflect.SetUnexported(s.sess, "srv", srv); err != nil {
		return errcode.Wrap(errcode.UAServerStart, err, "gopcua server internals")
	}
	if _, _, _, err := uareflect.ChannelSecurity(&uasc.SecureChannel{}); err != nil && !strings.Contains(err.Error(), "has no cfg") {
		return errcode.Wrap(errcode.UAServerStart, err, "gopcua server internals")
	}
	s.register()
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// The first values before the first client.
	s.sample(nil)
	if err := srv.Start(rctx); err != nil {
		cancel()
		return errcode.Wrap(errcode.UAServerStart, err, "opcua listen on %s", s.cfg.Listen)
	}
	ln, brk, err := takeOver(srv)
	if err != nil {
		cancel()
		srv.Close()
		return errcode.Wrap(errcode.UAServerStart, err, "gopcua server internals")
	}
	s.ln, s.brk = ln, brk
	s.wg.Add(3)
	go s.acceptLoop(rctx)
	go s.sampleLoop(rctx)
	go s.sweepLoop(rctx)
	s.log.Info("opcua server listening", "endpoint", s.EndpointURL(), "policies", len(s.secs), "tags", len(sp.tags))
	return nil
}

// Close stops listening and ends every channel and session.
func (s *Server) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	if s.ln != nil {
		s.ln.Close()
	}
	s.regMu.Lock()
	s.closing = true
	s.regMu.Unlock()
	err := s.srv.Close()
	s.connWG.Wait()
	s.wg.Wait()
	for range maxAsync { // wait for writes and history reads in flight
		s.async <- struct{}{}
	}
	return err
}

// register installs this package's handlers. gopcua keeps the first
// handler registered for a service, so these replace its own; the
// discovery services (GetEndpoints, FindServers) keep gopcua's.
func (s *Server) register() {
	h := map[uint16]server.Handler{
		id.CreateSessionRequest_Encoding_DefaultBinary:   s.createSession,
		id.ActivateSessionRequest_Encoding_DefaultBinary: s.activateSession,
		id.CloseSessionRequest_Encoding_DefaultBinary:    s.closeSession,
		id.RegisterServerRequest_Encoding_DefaultBinary:  refuse,
		id.RegisterServer2Request_Encoding_DefaultBinary: refuse,

		id.CancelRequest_Encoding_DefaultBinary:                        s.inSession(unsupported),
		id.AddNodesRequest_Encoding_DefaultBinary:                      s.inSession(denied),
		id.AddReferencesRequest_Encoding_DefaultBinary:                 s.inSession(denied),
		id.DeleteNodesRequest_Encoding_DefaultBinary:                   s.inSession(denied),
		id.DeleteReferencesRequest_Encoding_DefaultBinary:              s.inSession(denied),
		id.BrowseRequest_Encoding_DefaultBinary:                        s.inSession(s.browse),
		id.BrowseNextRequest_Encoding_DefaultBinary:                    s.inSession(s.browseNext),
		id.TranslateBrowsePathsToNodeIDsRequest_Encoding_DefaultBinary: s.inSession(s.translate),
		id.RegisterNodesRequest_Encoding_DefaultBinary:                 s.inSession(registerNodes),
		id.UnregisterNodesRequest_Encoding_DefaultBinary:               s.inSession(unregisterNodes),
		id.QueryFirstRequest_Encoding_DefaultBinary:                    s.inSession(unsupported),
		id.QueryNextRequest_Encoding_DefaultBinary:                     s.inSession(unsupported),
		id.ReadRequest_Encoding_DefaultBinary:                          s.inSession(s.read),
		id.HistoryReadRequest_Encoding_DefaultBinary:                   s.inSession(s.historyRead),
		id.WriteRequest_Encoding_DefaultBinary:                         s.inSession(s.write),
		id.HistoryUpdateRequest_Encoding_DefaultBinary:                 s.inSession(denied),
		id.CallRequest_Encoding_DefaultBinary:                          s.inSession(unsupported),

		id.CreateSubscriptionRequest_Encoding_DefaultBinary:    s.inSession(s.createSubscription),
		id.ModifySubscriptionRequest_Encoding_DefaultBinary:    s.inSession(s.modifySubscription),
		id.SetPublishingModeRequest_Encoding_DefaultBinary:     s.inSession(unsupported),
		id.PublishRequest_Encoding_DefaultBinary:               s.inSession(s.subs(func(x *server.SubscriptionService) server.Handler { return x.Publish })),
		id.RepublishRequest_Encoding_DefaultBinary:             s.inSession(s.republish),
		id.TransferSubscriptionsRequest_Encoding_DefaultBinary: s.inSession(unsupported),
		id.DeleteSubscriptionsRequest_Encoding_DefaultBinary:   s.inSession(s.subs(func(x *server.SubscriptionService) server.Handler { return x.DeleteSubscriptions })),
		id.CreateMonitoredItemsRequest_Encoding_DefaultBinary:  s.inSession(s.createMonitoredItems),
		id.ModifyMonitoredItemsRequest_Encoding_DefaultBinary:  s.inSession(s.modifyMonitoredItems),
		id.SetMonitoringModeRequest_Encoding_DefaultBinary:     s.inSession(s.itemsByID),
		id.SetTriggeringRequest_Encoding_DefaultBinary:         s.inSession(unsupported),
		id.DeleteMonitoredItemsRequest_Encoding_DefaultBinary:  s.inSession(s.itemsByID),
	}
	for t, fn := range h {
		s.srv.RegisterHandler(t, s.guard(fn))
	}
}

type sessHandler func(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error)

func refuse(*uasc.SecureChannel, ua.Request, uint32) (ua.Response, error) {
	return nil, ua.StatusBadServiceUnsupported
}

func unsupported(*uasc.SecureChannel, ua.Request, uint32, *session) (ua.Response, error) {
	return nil, ua.StatusBadServiceUnsupported
}

func denied(*uasc.SecureChannel, ua.Request, uint32, *session) (ua.Response, error) {
	return nil, ua.StatusBadUserAccessDenied
}

// guard turns a panic in a handler (gopcua's or ours, on a malformed
// request) into a Bad status: gopcua runs handlers on its one dispatch
// goroutine, where a panic would end the process.
func (s *Server) guard(h server.Handler) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (resp ua.Response, err error) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("opcua request failed", "code", errcode.UAServerRequest.String(), "request", fmt.Sprintf("%T", r), "err", fmt.Sprint(p), "stack", string(debug.Stack()))
				resp, err = nil, ua.StatusBadInternalError
			}
		}()
		if r == nil || r.Header() == nil {
			return nil, ua.StatusBadRequestHeaderInvalid
		}
		return h(sc, r, reqID)
	}
}

// allowed reports whether the channel's security is one the server offers.
func (s *Server) allowed(sc *uasc.SecureChannel) (policy string, mode ua.MessageSecurityMode, cert []byte, ok bool) {
	policy, mode, cert, err := uareflect.ChannelSecurity(sc)
	if err != nil {
		return "", 0, nil, false
	}
	for _, sec := range s.secs {
		if sec.uri == policy && sec.mode == mode {
			return policy, mode, cert, true
		}
	}
	return policy, mode, cert, false
}

// inSession serves h only inside an activated session of this channel.
func (s *Server) inSession(h sessHandler) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		tok := r.Header().AuthenticationToken
		if tok == nil {
			return nil, ua.StatusBadSessionIDInvalid
		}
		s.mu.Lock()
		ss := s.sessions[tok.String()]
		switch {
		case ss == nil || ss.sc != sc:
			s.mu.Unlock()
			return nil, ua.StatusBadSessionIDInvalid
		case ss.user == nil:
			s.mu.Unlock()
			return nil, ua.StatusBadSessionNotActivated
		}
		ss.lastUsed = time.Now()
		s.mu.Unlock()
		if p, m, _, ok := s.allowed(sc); !ok || p != ss.policy || m != ss.mode {
			return nil, ua.StatusBadSecurityPolicyRejected
		}
		return h(sc, r, reqID, ss)
	}
}

func (s *Server) audit(ctx context.Context, e AuditEvent) {
	if s.opts.Audit != nil {
		s.opts.Audit(ctx, e)
	}
}

func ipOf(sc *uasc.SecureChannel) string {
	if sc == nil || sc.RemoteAddr() == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(sc.RemoteAddr().String())
	if err != nil {
		return sc.RemoteAddr().String()
	}
	return h
}

func (s *Server) createSession(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	req, ok := r.(*ua.CreateSessionRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	ip := ipOf(sc)
	policy, mode, chanCert, ok := s.allowed(sc)
	if !ok {
		s.log.Warn("opcua client refused: security not offered", "code", errcode.UAServerAuth.String(), "ip", ip, "policy", policy, "mode", mode.String())
		s.audit(context.Background(), AuditEvent{Actor: "opcua-client", Action: "opcua.session", Object: "endpoint", Outcome: "denied", IP: ip,
			Detail: fmt.Sprintf("security %s %s is not offered", policy, mode)})
		return nil, ua.StatusBadSecurityPolicyRejected
	}
	if mode != ua.MessageSecurityModeNone {
		certs, err := x509.ParseCertificates(req.ClientCertificate)
		if err != nil || len(certs) == 0 {
			return nil, ua.StatusBadCertificateInvalid
		}
		if cc, err := x509.ParseCertificates(chanCert); err != nil || len(cc) == 0 || !bytes.Equal(cc[0].Raw, certs[0].Raw) {
			return nil, ua.StatusBadCertificateInvalid
		}
		pki := s.opts.PKI
		if pki == nil {
			pki = &memPKI{}
		}
		if err := pki.Check(certs[0]); err != nil {
			s.log.Warn("opcua client certificate refused", "code", errcode.Of(err).String(), "ip", ip, "err", err)
			s.audit(context.Background(), AuditEvent{Actor: "opcua-client", Action: "opcua.session", Object: "certificate/" + certs[0].Subject.CommonName,
				Outcome: "denied", IP: ip, Detail: err.Error()})
			return nil, ua.StatusBadSecurityChecksFailed
		}
	}
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n >= s.cfg.MaxSessions {
		return nil, ua.StatusBadTooManySessions
	}
	resp, err := s.sess.CreateSession(sc, r, reqID)
	if err != nil {
		return nil, err
	}
	cr, ok := resp.(*ua.CreateSessionResponse)
	if !ok || cr.AuthenticationToken == nil {
		return resp, nil
	}
	now := time.Now()
	s.mu.Lock()
	s.sessions[cr.AuthenticationToken.String()] = &session{token: cr.AuthenticationToken, sc: sc, policy: policy, mode: mode,
		nonce: cr.ServerNonce, ip: ip, created: now, lastUsed: now, timeout: time.Duration(cr.RevisedSessionTimeout) * time.Millisecond}
	s.mu.Unlock()
	return resp, nil
}

var anonymous = &User{Name: "anonymous", Read: func(string) bool { return true }, History: func(string) bool { return true }}

func (s *Server) activateSession(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	req, ok := r.(*ua.ActivateSessionRequest)
	if !ok || req.RequestHeader.AuthenticationToken == nil {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	key := req.RequestHeader.AuthenticationToken.String()
	s.mu.Lock()
	ss := s.sessions[key]
	var nonce []byte
	if ss != nil {
		nonce = ss.nonce
	}
	s.mu.Unlock()
	if ss == nil || ss.sc != sc {
		return nil, ua.StatusBadSessionIDInvalid
	}
	if ss.user != nil {
		return nil, ua.StatusBadIdentityChangeNotSupported
	}
	if req.ClientSignature == nil {
		return nil, ua.StatusBadApplicationSignatureInvalid
	}
	// gopcua checks the client's signature over the server nonce.
	resp, err := s.sess.ActivateSession(sc, r, reqID)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	var tok any
	if req.UserIdentityToken != nil {
		tok = req.UserIdentityToken.Value
	}
	var user *User
	switch t := tok.(type) {
	case nil, *ua.AnonymousIdentityToken:
		if !s.cfg.Anonymous {
			s.audit(ctx, AuditEvent{Actor: "anonymous", Action: "opcua.session", Object: "user/anonymous", Outcome: "denied", IP: ss.ip, Detail: "anonymous access is off"})
			return nil, ua.StatusBadIdentityTokenRejected
		}
		user = anonymous
	case *ua.UserNameIdentityToken:
		if s.opts.Users == nil {
			return nil, ua.StatusBadIdentityTokenRejected
		}
		pw, err := password(t, s.key, nonce, ss.mode)
		if err != nil {
			s.audit(ctx, AuditEvent{Actor: t.UserName, Action: "opcua.session", Object: "user/" + t.UserName, Outcome: "failed", IP: ss.ip, Detail: err.Error()})
			return nil, ua.StatusBadIdentityTokenInvalid
		}
		u, err := s.opts.Users.Login(ctx, t.UserName, pw, ss.ip)
		if err != nil || u == nil {
			s.log.Warn("opcua login refused", "code", errcode.UAServerAuth.String(), "ip", ss.ip, "err", err)
			return nil, ua.StatusBadUserAccessDenied
		}
		user = u
	default:
		return nil, ua.StatusBadIdentityTokenInvalid
	}
	s.mu.Lock()
	ss.user = user
	if ar, ok := resp.(*ua.ActivateSessionResponse); ok {
		ss.nonce = ar.ServerNonce
	}
	s.mu.Unlock()
	s.audit(ctx, AuditEvent{Actor: user.Name, Action: "opcua.session", Object: "user/" + user.Name, Outcome: "ok", IP: ss.ip,
		Detail: fmt.Sprintf("%s %s", strings.TrimPrefix(ss.policy, "http://opcfoundation.org/UA/SecurityPolicy#"), ss.mode)})
	return resp, nil
}

func (s *Server) closeSession(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	tok := r.Header().AuthenticationToken
	if tok == nil {
		return nil, ua.StatusBadSessionIDInvalid
	}
	s.mu.Lock()
	ss := s.sessions[tok.String()]
	if ss == nil || ss.sc != sc {
		s.mu.Unlock()
		return nil, ua.StatusBadSessionIDInvalid
	}
	delete(s.sessions, tok.String())
	s.mu.Unlock()
	s.endSubs(tok)
	return s.sess.CloseSession(sc, r, reqID)
}

// sweepLoop ends sessions idle past their timeout and sessions never
// activated: gopcua keeps them forever.
func (s *Server) sweepLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sweep(time.Now())
	}
}

func (s *Server) sweep(now time.Time) {
	var gone []*ua.NodeID
	s.mu.Lock()
	for k, ss := range s.sessions {
		if (ss.user == nil && now.Sub(ss.created) > activateWithin) || now.Sub(ss.lastUsed) > ss.timeout+time.Second {
			gone = append(gone, ss.token)
			delete(s.sessions, k)
		}
	}
	s.mu.Unlock()
	for _, tok := range gone {
		s.endSession(tok)
	}
	if s.srv == nil {
		return
	}
	s.pruneFilters(s.srv.MonitoredItemService)
	if svc := s.srv.SubscriptionService; svc != nil {
		svc.Mu.Lock()
		live := make(map[uint32]bool, len(svc.Subs))
		for id := range svc.Subs {
			live[id] = true
		}
		svc.Mu.Unlock()
		s.mu.Lock()
		for id := range s.subParams {
			if !live[id] {
				delete(s.subParams, id)
			}
		}
		s.mu.Unlock()
	}
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// sampleLoop moves the engine's values into the address space and tells
// gopcua's subscriptions which nodes changed.
func (s *Server) sampleLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SampleInterval.D())
	defer t.Stop()
	var buf []acquire.TagValue
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		buf = s.sample(buf)
	}
}

// sample takes one snapshot; it returns the buffer for the next.
func (s *Server) sample(buf []acquire.TagValue) []acquire.TagValue {
	buf = s.opts.Source.SnapshotInto(buf[:0])
	now := time.Now()
	for i := range buf {
		tv := &buf[i]
		n := s.sp.tags[tv.Path]
		if n == nil {
			continue
		}
		cur := n.tag.cur.Load()
		src := time.Time{}
		if tv.Time != 0 {
			src = time.Unix(0, tv.Time)
		}
		v := uavalue.Variant(tv.Value)
		if cur != nil && cur.Status == ua.StatusCode(tv.Quality) && cur.SourceTimestamp.Equal(src) && sameValue(cur.Value, v) {
			continue
		}
		dv := &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp, Status: ua.StatusCode(tv.Quality), ServerTimestamp: now}
		if v != nil {
			dv.EncodingMask |= ua.DataValueValue
			dv.Value = v
		}
		if !src.IsZero() {
			dv.EncodingMask |= ua.DataValueSourceTimestamp
			dv.SourceTimestamp = src
		}
		n.tag.cur.Store(dv)
		s.notify(n, dv)
	}
	return buf
}

func sameValue(a, b *ua.Variant) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type() == b.Type() && a.Value() == b.Value()
}

// gopcuaLog adapts gopcua's printf-style logger to slog, at debug level:
// gopcua logs every connection at info and error levels.
type gopcuaLog struct{ l *slog.Logger }

func (g gopcuaLog) f(msg string, args ...any) string {
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}
func (g gopcuaLog) Debug(msg string, args ...any) {}
func (g gopcuaLog) Info(msg string, args ...any)  {}
func (g gopcuaLog) Warn(msg string, args ...any)  { g.l.Debug("gopcua: " + g.f(msg, args...)) }
func (g gopcuaLog) Error(msg string, args ...any) { g.l.Debug("gopcua: " + g.f(msg, args...)) }

// newNonce returns n random bytes.
func newNonce(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// endSession closes a gopcua session and its subscriptions.
func (s *Server) endSession(tok *ua.NodeID) {
	s.endSubs(tok)
	s.sess.CloseSession(nil, &ua.CloseSessionRequest{RequestHeader: &ua.RequestHeader{AuthenticationToken: tok}}, 0)
}

// endSubs deletes the subscriptions of a session: gopcua's CloseSession
// leaves them running until their lifetime ends, which can be days.
func (s *Server) endSubs(tok *ua.NodeID) {
	if s.srv == nil || s.srv.SubscriptionService == nil {
		return
	}
	svc := s.srv.SubscriptionService
	gs := s.srv.Session(&ua.RequestHeader{AuthenticationToken: tok})
	if gs == nil {
		return
	}
	var ids []uint32
	svc.Mu.Lock()
	for id, sub := range svc.Subs {
		if sub != nil && sub.Session == gs {
			ids = append(ids, id)
		}
	}
	svc.Mu.Unlock()
	for _, id := range ids {
		svc.DeleteSubscription(id)
	}
}

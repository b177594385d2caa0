package uaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/errcode"
)

// gopcua's accept loop does the TCP Hello/Acknowledge handshake inline,
// without a deadline, and serves any number of connections: one client
// that connects and says nothing stops every other from connecting. It
// also answers a ReverseHello by dialling the address the client names.
// So this package takes the listening socket over once gopcua has opened
// it: it accepts, bounds the connections (Options.MaxConnections), does
// the handshake with a deadline (Hello only) in a goroutine per
// connection, and hands the connection to gopcua's channel broker the way
// gopcua's own RegisterConn does. The broker's fields are reached by
// reflection, checked by name and type at Start.

// Bounds of connections.
const (
	// handshakeWithin bounds the time from accept to the first service
	// request (Hello, then OpenSecureChannel, then e.g. CreateSession or
	// GetEndpoints).
	handshakeWithin = 10 * time.Second
	// extraConns is added to max_sessions when MaxConnections is 0: room
	// for discovery connections (GetEndpoints) beside the sessions.
	extraConns = 10
	// Our limits, told to clients in the Acknowledge: 2 MiB per request
	// (gopcua's), in at most 40 chunks of 64 KiB, so a client cannot make
	// the server buffer gopcua's default of 512 chunks (32 MiB) first.
	ackMaxMessage = 2 << 20
	ackMaxChunks  = 40
)

// broker is gopcua's channelBroker, reached through its fields.
type broker struct {
	mu    *sync.RWMutex
	chans *map[uint32]*uasc.SecureChannel
	scID  *uint32
	tokID *uint32
	msgs  *chan *uasc.MessageBody
	wg    *sync.WaitGroup
}

// field returns a pointer to the field name of the addressable struct v,
// when it has type T.
func field[T any](v reflect.Value, name string) (*T, error) {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() {
		return nil, fmt.Errorf("%s has no field %s of type %s", v.Type(), name, reflect.TypeFor[T]())
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// takeOver stops gopcua's accept loop and returns its listening socket
// (the same port, never closed in between) and its channel broker.
func takeOver(srv *server.Server) (net.Listener, *broker, error) {
	sv := reflect.ValueOf(srv).Elem()
	ul, err := field[*uacp.Listener](sv, "l")
	if err != nil || *ul == nil {
		return nil, nil, fmt.Errorf("gopcua server listener: %v", err)
	}
	tl, err := field[*net.TCPListener](reflect.ValueOf(*ul).Elem(), "l")
	if err != nil || *tl == nil {
		return nil, nil, fmt.Errorf("gopcua uacp listener: %v", err)
	}
	cbf := sv.FieldByName("cb")
	if !cbf.IsValid() || cbf.Kind() != reflect.Pointer || cbf.IsNil() {
		return nil, nil, fmt.Errorf("gopcua server has no channel broker")
	}
	cb := cbf.Elem() // addressable: reached through a pointer
	b := &broker{}
	if b.mu, err = field[sync.RWMutex](cb, "mu"); err != nil {
		return nil, nil, err
	}
	if b.chans, err = field[map[uint32]*uasc.SecureChannel](cb, "s"); err != nil {
		return nil, nil, err
	}
	if b.scID, err = field[uint32](cb, "secureChannelID"); err != nil {
		return nil, nil, err
	}
	if b.tokID, err = field[uint32](cb, "secureTokenID"); err != nil {
		return nil, nil, err
	}
	if b.msgs, err = field[chan *uasc.MessageBody](cb, "msgChan"); err != nil {
		return nil, nil, err
	}
	if b.wg, err = field[sync.WaitGroup](cb, "wg"); err != nil {
		return nil, nil, err
	}
	// gopcua's accept loop returns on any accept error: an expired
	// deadline ends it before the socket is duplicated. Without it the loop
	// could enter accept(2) while File and FileListener have the shared
	// socket in blocking mode (os.File.Fd does that), block there, and
	// Close below would wait for it forever (seen once in CI: Start hung).
	if err := (*tl).SetDeadline(time.Unix(1, 0)); err != nil {
		return nil, nil, err
	}
	// A second descriptor of the socket keeps the port open while gopcua's
	// is closed.
	f, err := (*tl).File()
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, nil, err
	}
	(*ul).Close()
	return ln, b, nil
}

// acceptLoop accepts connections until the listener closes.
func (s *Server) acceptLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("opcua accept failed", "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			continue
		}
		select {
		case s.conns <- struct{}{}:
		default:
			s.refused.Add(1)
			s.log.Warn("opcua connection refused: too many connections", "code", errcode.UAServerLimit.String(), "ip", hostOf(tc.RemoteAddr()), "max", cap(s.conns))
			uc, _ := uacp.NewConn(tc, s.ack())
			tc.SetDeadline(time.Now().Add(time.Second))
			uc.SendError(ua.StatusBadTCPNotEnoughResources)
			tc.Close()
			continue
		}
		s.connWG.Add(1)
		go s.serveConn(ctx, tc)
	}
}

func (s *Server) ack() *uacp.Acknowledge {
	return &uacp.Acknowledge{ReceiveBufSize: uacp.DefaultReceiveBufSize, SendBufSize: uacp.DefaultSendBufSize,
		MaxMessageSize: ackMaxMessage, MaxChunkCount: ackMaxChunks}
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// serveConn does the handshake and feeds the connection's requests to
// gopcua's dispatch loop until it closes.
func (s *Server) serveConn(ctx context.Context, tc *net.TCPConn) {
	defer func() {
		<-s.conns
		s.connWG.Done()
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("opcua connection failed", "code", errcode.UAServerRequest.String(), "err", fmt.Sprint(p))
		}
	}()
	ack := s.ack()
	uc, _ := uacp.NewConn(tc, ack)
	defer uc.Close()
	tc.SetDeadline(time.Now().Add(s.handshake))
	if err := hello(uc, ack); err != nil {
		s.log.Debug("opcua handshake failed", "code", errcode.UAServerLimit.String(), "ip", hostOf(tc.RemoteAddr()), "err", err)
		return
	}
	tc.SetWriteDeadline(time.Time{})
	// The read deadline stays until the first service request, so the
	// OpenSecureChannel is bounded too.
	b := s.brk
	cfg := &uasc.Config{SecurityPolicyURI: ua.SecurityPolicyURINone, SecurityMode: ua.MessageSecurityModeNone,
		Lifetime: uint32(time.Hour / time.Millisecond), Certificate: s.der, LocalKey: s.key}
	b.mu.Lock()
	*b.scID++
	*b.tokID++
	id, tok := *b.scID, *b.tokID
	b.mu.Unlock()
	errch := make(chan error, 1)
	sc, err := uasc.NewServerSecureChannel("", uc, cfg, errch, id, uint32(mrand.IntN(1023)+1), tok)
	if err != nil {
		s.log.Debug("opcua secure channel failed", "err", err)
		return
	}
	s.regMu.Lock()
	if s.closing {
		s.regMu.Unlock()
		uc.Close()
		sc.Close()
		return
	}
	b.mu.Lock()
	(*b.chans)[id] = sc
	b.mu.Unlock()
	b.wg.Add(1)
	s.regMu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(*b.chans, id)
		b.mu.Unlock()
		s.dropChannel(sc)
		uc.Close() // first, so that sc.Close does not wait on the peer
		sc.Close()
		b.wg.Done()
	}()
	first := true
	for ctx.Err() == nil {
		msg := sc.Receive(ctx)
		if msg.Err != nil {
			// gopcua's own loop leaves the connection open on a message it
			// cannot decode: the client would wait for an answer forever.
			if msg.Err != io.EOF && ctx.Err() == nil {
				s.log.Debug("opcua channel closed", "code", errcode.UAServerRequest.String(), "ip", hostOf(tc.RemoteAddr()), "err", msg.Err)
			}
			return
		}
		if msg.Request() == nil {
			continue // OpenSecureChannel, answered by the channel itself
		}
		if first {
			tc.SetReadDeadline(time.Time{})
			first = false
		}
		select {
		case *b.msgs <- msg:
		case <-ctx.Done():
			return
		}
	}
}

// hello answers the client's Hello with our Acknowledge. A ReverseHello
// is refused: gopcua would dial whatever address it names.
func hello(uc *uacp.Conn, ack *uacp.Acknowledge) error {
	b, err := uc.Receive()
	if err != nil {
		return err
	}
	if len(b) < 8 || string(b[:4]) != "HELF" {
		uc.SendError(ua.StatusBadTCPMessageTypeInvalid)
		return fmt.Errorf("first message %q is not a Hello", b[:min(len(b), 4)])
	}
	h := new(uacp.Hello)
	if _, err := h.Decode(b[8:]); err != nil {
		uc.SendError(ua.StatusBadTCPMessageTypeInvalid)
		return fmt.Errorf("hello: %w", err)
	}
	if h.ReceiveBufSize < 8192 || h.SendBufSize < 8192 {
		// Part 6, 7.1.2.3: at least 8192 bytes.
		uc.SendError(ua.StatusBadTCPInternalError)
		return fmt.Errorf("hello with buffers of %d/%d bytes", h.ReceiveBufSize, h.SendBufSize)
	}
	// Our chunks fit the client's buffer, its chunks ours (uc uses ack).
	ack.SendBufSize = min(ack.SendBufSize, h.ReceiveBufSize)
	ack.ReceiveBufSize = min(ack.ReceiveBufSize, h.SendBufSize)
	return uc.Send("ACKF", ack)
}

// dropChannel ends the sessions of a closed channel at once: a session is
// served only on the channel that created it, so they could never be used
// again, and would hold a place of max_sessions until their timeout.
func (s *Server) dropChannel(sc *uasc.SecureChannel) {
	var gone []*ua.NodeID
	s.mu.Lock()
	for k, ss := range s.sessions {
		if ss.sc == sc {
			gone = append(gone, ss.token)
			delete(s.sessions, k)
		}
	}
	s.mu.Unlock()
	for _, tok := range gone {
		s.endSession(tok)
	}
}

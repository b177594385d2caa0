package uaserver_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/uaserver"
)

// goClient opens a session with gopcua's client on the None endpoint as
// the test user.
func goClient(t testing.TB, url string) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	eps, err := opcua.GetEndpoints(ctx, url)
	if err != nil {
		t.Fatalf("get endpoints: %v", err)
	}
	var ep *ua.EndpointDescription
	for _, e := range eps {
		if e.SecurityPolicyURI == ua.SecurityPolicyURINone {
			ep = e
		}
	}
	if ep == nil {
		t.Fatal("no None endpoint")
	}
	ep.EndpointURL = url
	c, err := opcua.NewClient(url, opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeUserName), opcua.AuthUsername("op", "s3cret-Passw0rd"),
		opcua.RequestTimeout(10*time.Second), opcua.AutoReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func noneRig(t *testing.T, more ...func(*uaserver.Options)) *rig {
	return startRig(t, config.OPCUAServer{SecurityPolicies: []string{"None", "Basic256Sha256"}, MaxSessions: 4}, more...)
}

func dialRaw(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "opc.tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readMsg reads one UACP message (type and body), or the error that ended
// the connection.
func readMsg(c net.Conn) (string, []byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a timing assertion
	h := make([]byte, 8)
	if _, err := io.ReadFull(c, h); err != nil {
		return "", nil, err
	}
	n := binary.LittleEndian.Uint32(h[4:])
	if n < 8 || n > 1<<20 {
		return "", nil, errors.New("bad message size")
	}
	b := make([]byte, n-8)
	_, err := io.ReadFull(c, b)
	return string(h[:4]), b, err
}

// closed reports whether err says the peer closed the connection (a
// reset when it closed with our data unread).
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func uacpMsg(typ string, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	copy(b, typ)
	binary.LittleEndian.PutUint32(b[4:], uint32(8+len(body)))
	return append(b, body...)
}

func uaString(s string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(s)))
	return append(b, s...)
}

// A client that connects and says nothing must not stop others, and the
// number of connections is bounded.
// TestConnections shares one server (gopcua's server takes seconds to
// build its namespace 0 under -race).
func TestConnections(t *testing.T) {
	const limit = 6
	r := noneRig(t, func(o *uaserver.Options) { o.MaxConnections = limit })
	t.Run("ReverseHello", func(t *testing.T) { reverseHelloRefused(t, r) })
	t.Run("Undecodable", func(t *testing.T) { undecodableRequestClosesChannel(t, r) })
	t.Run("SilentAndLimit", func(t *testing.T) { silentClientsAndConnectionLimit(t, r, limit) })
}

func silentClientsAndConnectionLimit(t *testing.T, r *rig, limit int) {
	dialRaw(t, r.url)
	dialRaw(t, r.url)

	// Two silent connections are open; a real client still gets a
	// session and reads.
	c := goClient(t, r.url)
	resp, err := c.Read(context.Background(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, machine+"/state"), AttributeID: ua.AttributeIDValue}}})
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("read beside two silent clients: %v", err)
	}
	// Fill the remaining slots with clients that say Hello and then
	// nothing; the next one is refused with BadTcpNotEnoughResources.
	var held []net.Conn
	refused := false
	for i := 0; i < 2*limit && !refused; i++ {
		h := dialRaw(t, r.url)
		h.Write(uacpMsg("HELF", hello(r.url)))
		typ, body, err := readMsg(h)
		switch {
		case err == nil && typ == "ACKF":
			held = append(held, h)
		case err == nil && typ == "ERRF" && len(body) >= 4:
			if st := ua.StatusCode(binary.LittleEndian.Uint32(body)); st != ua.StatusBadTCPNotEnoughResources {
				t.Fatalf("refused with %v, want BadTcpNotEnoughResources", st)
			}
			if _, _, err := readMsg(h); !closed(err) {
				t.Errorf("refused connection not closed: %v", err)
			}
			refused = true
		default:
			t.Fatalf("connection %d: %q %v", i, typ, err)
		}
	}
	if !refused || len(held)+3 > limit {
		t.Fatalf("refused %v after %d more connections; the limit is %d with 3 open", refused, len(held), limit)
	}
	// The session still works, and when one leaves there is room again.
	if _, err := c.Read(context.Background(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, machine+"/state"), AttributeID: ua.AttributeIDValue}}}); err != nil {
		t.Errorf("read at the connection limit: %v", err)
	}
	held[0].Close()
	waitFor(t, "a free connection slot", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "opc.tcp://"))
		if err != nil {
			return false
		}
		defer c.Close()
		c.Write(uacpMsg("HELF", hello(r.url)))
		typ, _, _ := readMsg(c)
		return typ == "ACKF"
	})
}

// hello is a valid Hello body.
func hello(url string) []byte {
	var b []byte
	for _, v := range []uint32{0, 65535, 65535, 0, 0} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(b, uaString(url)...)
}

func TestHandshakeBounded(t *testing.T) {
	r := noneRig(t, func(o *uaserver.Options) { o.HandshakeTimeout = 200 * time.Millisecond })
	// Silent: closed after the handshake time.
	silent := dialRaw(t, r.url)
	if _, _, err := readMsg(silent); !closed(err) {
		t.Errorf("silent connection: %v, want closed by the server", err)
	}
	// Hello, then silent (no OpenSecureChannel): closed too.
	half := dialRaw(t, r.url)
	half.Write(uacpMsg("HELF", hello(r.url)))
	if typ, _, err := readMsg(half); typ != "ACKF" || err != nil {
		t.Fatalf("hello: %q %v", typ, err)
	}
	if _, _, err := readMsg(half); !closed(err) {
		t.Errorf("connection silent after Hello: %v, want closed by the server", err)
	}
	// A real client is not affected once past the handshake: it idles
	// longer than the handshake time and reads.
	c := goClient(t, r.url)
	time.Sleep(400 * time.Millisecond)
	if _, err := c.Read(context.Background(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, machine+"/state"), AttributeID: ua.AttributeIDValue}}}); err != nil {
		t.Errorf("read after idling past the handshake time: %v", err)
	}
}

// A ReverseHello would make gopcua dial the address it names; it is
// refused, and so is any first message other than a Hello.
func reverseHelloRefused(t *testing.T, r *rig) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, m := range [][]byte{
		uacpMsg("RHEF", append(uaString("tcp://"+l.Addr().String()), uaString(r.url)...)),
		uacpMsg("MSGF", make([]byte, 40)),
		uacpMsg("HELF", []byte{1, 2}), // truncated Hello
	} {
		c := dialRaw(t, r.url)
		c.Write(m)
		typ, _, err := readMsg(c)
		if typ != "ERRF" || err != nil {
			t.Errorf("first message %q: answered %q %v, want ERRF", m[:4], typ, err)
		}
		if _, _, err := readMsg(c); !closed(err) {
			t.Errorf("first message %q: connection not closed: %v", m[:4], err)
		}
	}
}

// A request the server cannot decode closes the connection at once;
// gopcua's own loop left it open and the client waited for its timeout.
func undecodableRequestClosesChannel(t *testing.T, r *rig) {
	c := goClient(t, r.url)
	// gopcua's client encodes a nil DataEncoding as nothing at all.
	done := make(chan error, 1)
	go func() {
		_, err := c.HistoryReadRawModified(context.Background(), []*ua.HistoryReadValueID{{NodeID: ua.NewStringNodeID(1, machine+"/state")}},
			&ua.ReadRawModifiedDetails{StartTime: time.Now().Add(-time.Hour), EndTime: time.Now()})
		done <- err
	}()
	err := <-done
	if err == nil || errors.Is(err, ua.StatusBadTimeout) {
		t.Errorf("undecodable request: %v, want the connection closed", err)
	}
	// The server still serves others.
	c2 := goClient(t, r.url)
	if _, err := c2.Read(context.Background(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, machine+"/state"), AttributeID: ua.AttributeIDValue}}}); err != nil {
		t.Errorf("read after a bad client: %v", err)
	}
}

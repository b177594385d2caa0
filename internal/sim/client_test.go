package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

// client is a raw Modbus TCP client written with the codec, so the tests
// see exactly what the device sends.
type client struct {
	t   testing.TB
	nc  net.Conn
	tid uint16
	out []byte
	in  [modbus.MaxADU + 16]byte
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

// send writes one request frame and returns its transaction id.
func (c *client) send(pdu []byte) uint16 {
	c.t.Helper()
	c.tid++
	c.out = modbus.AppendMBAP(c.out[:0], c.tid, 1, len(pdu))
	c.out = append(c.out, pdu...)
	if _, err := c.nc.Write(c.out); err != nil {
		c.t.Fatalf("send: %v", err)
	}
	return c.tid
}

// recv reads one frame; the ADU's PDU aliases the client's buffer.
func (c *client) recv(timeout time.Duration) (modbus.ADU, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.ReadFull(c.nc, c.in[:modbus.MBAPHeaderLen]); err != nil {
		return modbus.ADU{}, err
	}
	_, n, err := modbus.ParseADU(c.in[:modbus.MBAPHeaderLen])
	if err != nil {
		return modbus.ADU{}, err
	}
	if _, err := io.ReadFull(c.nc, c.in[modbus.MBAPHeaderLen:n]); err != nil {
		return modbus.ADU{}, err
	}
	a, _, err := modbus.ParseADU(c.in[:n])
	return a, err
}

// do sends q and decodes the reply to it.
func (c *client) do(pdu []byte) (modbus.Response, error) {
	c.t.Helper()
	var q modbus.Request
	if err := q.Decode(pdu); err != nil {
		c.t.Fatalf("bad test request: %v", err)
	}
	tid := c.send(pdu)
	a, err := c.recv(5 * time.Second)
	if err != nil {
		return modbus.Response{}, err
	}
	if a.Transaction != tid {
		return modbus.Response{}, errTid
	}
	var r modbus.Response
	if err := r.DecodeFor(&q, a.PDU); err != nil {
		return r, err
	}
	return r, r.Err()
}

var errTid = errors.New("transaction id mismatch")

func (c *client) readRegs(fc modbus.FunctionCode, addr, qty uint16) ([]byte, error) {
	c.t.Helper()
	r, err := c.do(modbus.AppendReadRequest(nil, fc, addr, qty))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), r.Data...), nil
}

func exceptionCode(err error) modbus.ExceptionCode {
	var e *modbus.Exception
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// startDevice starts a device on a free loopback port, closed at cleanup.
func startDevice(t testing.TB, cfg DeviceConfig) *Device {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "dev"
	}
	d := NewDevice(cfg)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

package modbus

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// rtuPort is a byte stream with deadlines: a TCP connection to a serial
// gateway or a serial port.
type rtuPort interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
}

// rtuTransport is RTU framing over a byte stream. RTU has no transaction
// id, so requests are serialised; replies are split by their function
// code. After a timeout a late reply may still arrive, so the stream is
// drained before the next request.
type rtuTransport struct {
	name    string
	timeout time.Duration
	silence time.Duration // 3.5 character times on a serial line, 0 on TCP
	serial  bool
	dial    func(ctx context.Context) (rtuPort, error)

	semOnce sync.Once
	sem     chan struct{} // held for a whole request

	portMu sync.Mutex
	port   rtuPort

	// Owned by the holder of sem.
	last  time.Time
	dirty bool
	rbuf  [mb.MaxRTUFrame]byte
}

func dialTCP(hp string) func(ctx context.Context) (rtuPort, error) {
	return func(ctx context.Context) (rtuPort, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", hp)
		if err != nil {
			return nil, errcode.Wrap(errcode.ModbusConnection, err, "connect to modbus rtu over tcp %s", hp)
		}
		return nc.(*net.TCPConn), nil
	}
}

func (t *rtuTransport) acquire(ctx context.Context) error {
	t.semOnce.Do(func() { t.sem = make(chan struct{}, 1) })
	select {
	case t.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errcode.Wrap(errcode.ModbusTimeout, ctx.Err(), "waiting for the line to %s", t.name)
	}
}

func (t *rtuTransport) release() { <-t.sem }

func (t *rtuTransport) connect(ctx context.Context) error {
	_ = t.close()
	if err := t.acquire(ctx); err != nil {
		return err
	}
	defer t.release()
	dctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	p, err := t.dial(dctx)
	if err != nil {
		return err
	}
	t.portMu.Lock()
	t.port = p
	t.portMu.Unlock()
	t.dirty, t.last = t.serial, time.Now()
	return nil
}

func (t *rtuTransport) close() error {
	t.portMu.Lock()
	p := t.port
	t.port = nil
	t.portMu.Unlock()
	if p == nil {
		return nil
	}
	return p.Close()
}

// drop closes p if it is still the current port.
func (t *rtuTransport) drop(p rtuPort) {
	t.portMu.Lock()
	if t.port == p {
		t.port = nil
	}
	t.portMu.Unlock()
	_ = p.Close()
}

// drain discards whatever arrives until the line has been quiet for a
// while, so that a late reply is not taken for the next one.
func (t *rtuTransport) drain(p rtuPort) {
	quiet := max(2*t.silence, 20*time.Millisecond)
	for range 64 {
		_ = p.SetDeadline(time.Now().Add(quiet))
		n, err := p.Read(t.rbuf[:])
		if n == 0 || err != nil {
			break
		}
	}
	t.dirty = false
}

func (t *rtuTransport) roundTrip(ctx context.Context, ex *exchange) error {
	if err := t.acquire(ctx); err != nil {
		return err
	}
	defer t.release()
	t.portMu.Lock()
	p := t.port
	t.portMu.Unlock()
	if p == nil {
		return errcode.New(errcode.ModbusNotConnected, "not connected")
	}
	if t.dirty {
		t.drain(p)
	}
	timeout := t.timeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	if gap := time.Until(t.last.Add(t.silence)); gap > 0 {
		time.Sleep(gap)
	}
	_ = p.SetDeadline(time.Now().Add(timeout))
	ex.frame = mb.AppendRTU(ex.frame[:0], ex.unit, ex.req)
	if _, err := p.Write(ex.frame); err != nil {
		t.drop(p)
		return errcode.Wrap(errcode.ModbusConnection, err, "send to %s", t.name)
	}
	t.last = time.Now()
	if ex.unit == 0 {
		// Broadcast: no device answers; only writes make sense.
		ex.r = mb.Response{Function: ex.q.Function}
		return nil
	}
	n := 0
	var want int
	for range len(t.rbuf) + 1 {
		var err error
		want, err = mb.RTUResponseLen(t.rbuf[:n])
		if err == nil && want > len(t.rbuf) {
			err = mb.ErrBadLength
		}
		if err != nil {
			return t.malformed(p, errcode.Wrap(errcode.ModbusMalformed, err, "bad reply % X", t.rbuf[:n]))
		}
		if want <= n {
			break
		}
		m, err := p.Read(t.rbuf[n:want])
		n += m
		if err != nil {
			t.dirty = true
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if ctx.Err() != nil {
					return errcode.Wrap(errcode.ModbusTimeout, ctx.Err(), "no reply before the request was cancelled")
				}
				return errcode.New(errcode.ModbusTimeout, "no reply within %s", timeout)
			}
			t.drop(p)
			return errcode.Wrap(errcode.ModbusConnection, err, "connection to %s lost", t.name)
		}
	}
	t.last = time.Now()
	addr, pdu, err := mb.DecodeRTU(t.rbuf[:want])
	if err != nil {
		return t.malformed(p, errcode.Wrap(errcode.ModbusMalformed, err, "bad reply % X", t.rbuf[:want]))
	}
	if addr != ex.unit {
		return t.malformed(p, errcode.New(errcode.ModbusMalformed, "reply from unit %d to a request to unit %d", addr, ex.unit))
	}
	ex.resp = append(ex.resp[:0], pdu...)
	if err := ex.r.DecodeFor(&ex.q, ex.resp); err != nil {
		return t.malformed(p, errcode.Wrap(errcode.ModbusMalformed, err, "bad reply % X", ex.resp))
	}
	return nil
}

// malformed resynchronises after a bad reply: a serial line is drained
// before the next request, a TCP connection is dropped.
func (t *rtuTransport) malformed(p rtuPort, err error) error {
	if t.serial {
		t.dirty = true
	} else {
		t.drop(p)
	}
	return err
}

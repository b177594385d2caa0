package modbus

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// maxAbandoned bounds the transaction ids of timed-out requests whose late
// replies we still accept and drop; a device that loses more replies than
// this is treated as broken and the connection is dropped.
const maxAbandoned = 64

// tcpTransport is Modbus TCP: requests may overlap, each carries a
// transaction id, and one reader goroutine per connection hands replies
// to their waiting requests.
type tcpTransport struct {
	addr    string
	timeout time.Duration

	mu      sync.Mutex // guards cur and every session's maps and dead
	cur     *tcpSession
	nextTID uint16
}

// tcpSession is one TCP connection and the requests waiting on it.
type tcpSession struct {
	nc        net.Conn
	wmu       sync.Mutex // one frame written at a time
	end       chan struct{}
	dead      error // why the connection is unusable
	pending   map[uint16]*exchange
	abandoned map[uint16]struct{}
}

func newTCPTransport(addr string, timeout time.Duration) *tcpTransport {
	return &tcpTransport{addr: addr, timeout: timeout}
}

func (t *tcpTransport) connect(ctx context.Context) error {
	_ = t.close()
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		return errcode.Wrap(errcode.ModbusConnection, err, "connect to modbus tcp %s", t.addr)
	}
	s := &tcpSession{nc: nc, end: make(chan struct{}), pending: map[uint16]*exchange{}, abandoned: map[uint16]struct{}{}}
	t.mu.Lock()
	t.cur = s
	t.mu.Unlock()
	go t.reader(s)
	return nil
}

func (t *tcpTransport) close() error {
	t.mu.Lock()
	s := t.cur
	t.cur = nil
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	err := s.nc.Close()
	<-s.end // the reader has failed what was pending
	return err
}

// fail marks s dead, closes it and fails every request pending on it.
func (t *tcpTransport) fail(s *tcpSession, err error) {
	t.mu.Lock()
	if s.dead == nil {
		s.dead = err
	}
	for tid, ex := range s.pending {
		delete(s.pending, tid)
		ex.done <- err
	}
	t.mu.Unlock()
	_ = s.nc.Close()
}

func (t *tcpTransport) reader(s *tcpSession) {
	defer close(s.end)
	br := bufio.NewReaderSize(s.nc, 4096)
	var buf [mb.MaxADU]byte
	lost := func(err error) {
		t.fail(s, errcode.Wrap(errcode.ModbusConnection, err, "connection to %s lost", t.addr))
	}
	for {
		if _, err := io.ReadFull(br, buf[:mb.MBAPHeaderLen]); err != nil {
			lost(err)
			return
		}
		_, n, err := mb.ParseADU(buf[:mb.MBAPHeaderLen])
		if err != nil {
			t.fail(s, errcode.Wrap(errcode.ModbusMalformed, err, "malformed reply header % X from %s; connection dropped to resynchronise", buf[:mb.MBAPHeaderLen], t.addr))
			return
		}
		if _, err := io.ReadFull(br, buf[mb.MBAPHeaderLen:n]); err != nil {
			lost(err)
			return
		}
		a, _, _ := mb.ParseADU(buf[:n])
		t.mu.Lock()
		ex, ok := s.pending[a.Transaction]
		if ok {
			delete(s.pending, a.Transaction)
		} else if _, late := s.abandoned[a.Transaction]; late {
			delete(s.abandoned, a.Transaction)
			t.mu.Unlock()
			continue
		}
		t.mu.Unlock()
		if !ok {
			t.fail(s, errcode.New(errcode.ModbusMalformed, "reply from %s with unknown transaction id %d; connection dropped to resynchronise", t.addr, a.Transaction))
			return
		}
		ex.resp = append(ex.resp[:0], a.PDU...)
		var derr error
		if a.Unit != ex.unit {
			derr = errcode.New(errcode.ModbusMalformed, "reply from unit %d to a request to unit %d; connection dropped", a.Unit, ex.unit)
		} else if err := ex.r.DecodeFor(&ex.q, ex.resp); err != nil {
			derr = errcode.Wrap(errcode.ModbusMalformed, err, "bad reply % X; connection dropped", ex.resp)
		}
		if derr != nil {
			// Mark the session dead before the caller hears of it, so its
			// next request cannot go out on the unsynchronised connection.
			t.fail(s, derr)
			ex.done <- derr
			return
		}
		ex.done <- nil
	}
}

func (t *tcpTransport) roundTrip(ctx context.Context, ex *exchange) error {
	t.mu.Lock()
	s := t.cur
	if s == nil || s.dead != nil {
		t.mu.Unlock()
		if s != nil {
			return errcode.Wrap(errcode.ModbusNotConnected, s.dead, "not connected")
		}
		return errcode.New(errcode.ModbusNotConnected, "not connected")
	}
	tid := t.nextTID
	for range 1 << 16 {
		_, busy := s.pending[tid]
		_, late := s.abandoned[tid]
		if !busy && !late {
			break
		}
		tid++
	}
	t.nextTID = tid + 1
	s.pending[tid] = ex
	t.mu.Unlock()

	ex.frame = mb.AppendMBAP(ex.frame[:0], tid, ex.unit, len(ex.req))
	ex.frame = append(ex.frame, ex.req...)
	timeout := t.timeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	s.wmu.Lock()
	_ = s.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, werr := s.nc.Write(ex.frame)
	s.wmu.Unlock()
	if werr != nil {
		t.fail(s, errcode.Wrap(errcode.ModbusConnection, werr, "send to %s", t.addr))
		return <-ex.done
	}

	ex.timer.Reset(timeout)
	var cause error
	select {
	case err := <-ex.done:
		ex.timer.Stop()
		return err
	case <-ex.timer.C:
	case <-ctx.Done():
		ex.timer.Stop()
		cause = ctx.Err()
	}
	t.mu.Lock()
	if _, still := s.pending[tid]; !still {
		// The reply (or a failure) won the race: it is on its way.
		t.mu.Unlock()
		return <-ex.done
	}
	delete(s.pending, tid)
	s.abandoned[tid] = struct{}{}
	tooMany := len(s.abandoned) > maxAbandoned
	t.mu.Unlock()
	if tooMany {
		t.fail(s, errcode.New(errcode.ModbusTimeout, "more than %d replies from %s missing; connection dropped", maxAbandoned, t.addr))
	}
	if cause != nil {
		return errcode.Wrap(errcode.ModbusTimeout, cause, "no reply before the request was cancelled")
	}
	return errcode.New(errcode.ModbusTimeout, "no reply within %s", timeout)
}

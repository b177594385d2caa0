package sim

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

// pipeDepth is how many requests of one connection the device reads ahead
// of its answers. A client that pipelines deeper is slowed by TCP flow
// control, and its requests are counted as they are read.
const pipeDepth = 16

// conformity of our FC 43/14 answers: regular identification, stream and
// individual access.
const idConformity = 0x82

// conn is one client connection: a reader goroutine that takes frames off
// the socket as they arrive (so arrival times and requests in flight are
// measured even while the device is slow), and a worker that answers them
// in order. When nothing is queued and no delay applies, the reader answers
// itself. No goroutine or allocation per request.
type conn struct {
	d  *Device
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer

	bufs  [pipeDepth][modbus.MaxADU]byte
	lens  [pipeDepth]int
	ready chan int
	free  chan int
	done  chan struct{}
	once  sync.Once

	pending  atomic.Int32 // requests read and not yet replied and flushed: the writer is idle at 0
	inFlight atomic.Int32 // requests read and not yet over, as counted in the device's stats
	served   int          // replies sent, for DropAfter
	timer    *time.Timer
	req      modbus.Request
	out      []byte
	scratch  [256]byte
}

func newConn(d *Device, nc net.Conn) *conn {
	c := &conn{
		d:     d,
		nc:    nc,
		br:    bufio.NewReaderSize(nc, 4096),
		bw:    bufio.NewWriterSize(nc, 4096),
		ready: make(chan int, pipeDepth),
		free:  make(chan int, pipeDepth),
		done:  make(chan struct{}),
		timer: time.NewTimer(time.Hour),
		out:   make([]byte, 0, modbus.MaxADU+8),
	}
	c.timer.Stop()
	for i := range pipeDepth {
		c.free <- i
	}
	return c
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// run serves the connection until it closes. Requests still unanswered
// then are taken out of the in-flight count.
func (c *conn) run() {
	defer c.d.wg.Done()
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		c.work()
	}()
	c.read()
	c.close()
	<-workerDone
	c.timer.Stop()
	if n := c.inFlight.Swap(0); n > 0 {
		c.d.stats.done(int(n), 0, false)
	}
	c.d.removeConn(c)
}

func (c *conn) read() {
	idle := c.d.cfg.IdleTimeout
	for {
		var idx int
		select {
		case idx = <-c.free:
		case <-c.done:
			return
		}
		buf := c.bufs[idx][:]
		if err := c.nc.SetReadDeadline(time.Now().Add(idle)); err != nil {
			return
		}
		if _, err := io.ReadFull(c.br, buf[:modbus.MBAPHeaderLen]); err != nil {
			return
		}
		_, n, err := modbus.ParseADU(buf[:modbus.MBAPHeaderLen])
		if err != nil {
			// Not Modbus TCP, or the stream lost sync: a real device
			// closes the connection.
			c.d.stats.add(func(s *stats) { s.badFrames++ })
			return
		}
		if n > modbus.MBAPHeaderLen {
			if _, err := io.ReadFull(c.br, buf[modbus.MBAPHeaderLen:n]); err != nil {
				return
			}
		}
		c.lens[idx] = n
		pending := c.pending.Add(1)
		c.inFlight.Add(1)
		c.d.stats.arrive(c.d.clock.Now(), buf[modbus.MBAPHeaderLen], n)
		f := c.d.fault.Load()
		if pending == 1 && f.Delay == 0 && !f.Hang {
			// Fast path: nothing queued and nothing to wait for, so answer
			// here and save two goroutine switches. pending == 1 means the
			// worker has flushed and finished everything before: it does
			// not touch the writer until the reader queues more.
			res := c.handle(buf[:n], f)
			c.free <- idx
			c.finish(res)
			if !res.keep || !c.frameBuffered() {
				if err := c.bw.Flush(); err != nil {
					res.keep = false
				}
			}
			c.pending.Add(-1)
			if !res.keep {
				return
			}
			continue
		}
		select {
		case c.ready <- idx:
		case <-c.done:
			return
		}
	}
}

// frameBuffered reports whether a whole request is already buffered, so a
// reply can wait for the next one's to be written with it.
func (c *conn) frameBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	_, n, err := modbus.ParseADU(b)
	return err == nil && n <= len(b)
}

func (c *conn) work() {
	for {
		var idx int
		select {
		case idx = <-c.ready:
		case <-c.done:
			return
		}
		res := c.handle(c.bufs[idx][:c.lens[idx]], c.d.fault.Load())
		c.free <- idx
		// The accounting ends the request before the client can see the
		// reply, so a client's next request never overlaps it on paper.
		c.finish(res)
		if !res.keep || len(c.ready) == 0 {
			if err := c.bw.Flush(); err != nil {
				res.keep = false
			}
		}
		// After the flush: when pending drops to 0 the writer is idle.
		c.pending.Add(-1)
		if !res.keep {
			c.close()
			return
		}
	}
}

// result is what handling one request did.
type result struct {
	keep      bool // the connection stays open
	answered  bool // the request is over (answered or dropped); false = hung
	out       int  // reply bytes
	exception bool
}

// finish ends one request in the accounting.
func (c *conn) finish(r result) {
	if !r.answered {
		return // hung: in flight until the connection ends
	}
	c.inFlight.Add(-1)
	c.d.stats.done(1, r.out, r.exception)
}

// sleep waits for d or the connection's end; false if the connection ended.
func (c *conn) sleep(d time.Duration) bool {
	c.timer.Reset(d)
	select {
	case <-c.timer.C:
		return true
	case <-c.done:
		c.timer.Stop()
		return false
	}
}

// handle answers one frame into the writer, without flushing.
func (c *conn) handle(frame []byte, f *Fault) result {
	d := c.d
	adu, _, _ := modbus.ParseADU(frame) // the reader checked the header
	if f.Hang {
		return result{keep: true}
	}
	if f.Delay > 0 && !c.sleep(f.Delay) {
		return result{answered: true}
	}
	if f.DropProb > 0 && d.chance(f.DropProb) {
		d.stats.add(func(s *stats) { s.dropped++ })
		return result{answered: true}
	}

	out := modbus.AppendMBAP(c.out[:0], adu.Transaction, adu.Unit, 0)
	q := &c.req
	exc := true
	if err := q.Decode(adu.PDU); err != nil {
		d.stats.add(func(s *stats) { s.badFrames++ })
		out = modbus.AppendExceptionResponse(out, modbus.FunctionCode(adu.PDU[0]&0x7f), modbus.ExceptionFor(err))
	} else if code := f.exceptionFor(q); code != 0 {
		out = modbus.AppendExceptionResponse(out, q.Function, modbus.ExceptionCode(code))
	} else if f.MaxBlock > 0 && (q.Function == modbus.FuncReadHoldingRegisters || q.Function == modbus.FuncReadInputRegisters) && int(q.Quantity) > f.MaxBlock {
		out = modbus.AppendExceptionResponse(out, q.Function, modbus.ExIllegalDataValue)
	} else if f.MaxBits > 0 && (q.Function == modbus.FuncReadCoils || q.Function == modbus.FuncReadDiscreteInputs) && int(q.Quantity) > f.MaxBits {
		out = modbus.AppendExceptionResponse(out, q.Function, modbus.ExIllegalDataValue)
	} else {
		out, exc = d.serveRequest(out, q, c.scratch[:])
	}
	modbus.FinishMBAP(out)
	if f.Malformed != MalformedNone && d.malformNow(f) {
		d.malform(out, f.Malformed)
	}
	c.out = out[:0]
	res := result{keep: true, answered: true, exception: exc}
	if _, err := c.bw.Write(out); err != nil {
		res.keep = false
		return res
	}
	res.out = len(out)
	c.served++
	if f.DropAfter > 0 && c.served >= f.DropAfter {
		d.stats.add(func(s *stats) { s.dropped++ })
		res.keep = false
	}
	return res
}

func (f *Fault) exceptionFor(q *modbus.Request) uint8 {
	for i := range f.Exceptions {
		if f.Exceptions[i].matches(q) {
			return f.Exceptions[i].Code
		}
	}
	return 0
}

func (d *Device) chance(p float64) bool {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	return d.frng.Float64() < p
}

func (d *Device) malformNow(f *Fault) bool {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	d.replyN++
	return f.MalformedEvery <= 1 || d.replyN%uint64(f.MalformedEvery) == 0
}

// malform corrupts the reply frame in place.
func (d *Device) malform(out []byte, how Malformation) {
	const pduAt = modbus.MBAPHeaderLen
	switch how {
	case MalformedLength:
		n := binary.BigEndian.Uint16(out[4:])
		binary.BigEndian.PutUint16(out[4:], n-1)
	case MalformedTxID:
		binary.BigEndian.PutUint16(out, binary.BigEndian.Uint16(out)+1)
	case MalformedGarbage:
		d.faultMu.Lock()
		for i := range out {
			out[i] = byte(d.frng.Uint32())
		}
		d.faultMu.Unlock()
		out[2] |= 0x80 // never a valid MBAP header
	case MalformedByteCount:
		if fc := modbus.FunctionCode(out[pduAt]); fc.IsRead() && len(out) > pduAt+1 {
			out[pduAt+1]++
		}
	case MalformedFunction:
		out[pduAt] ^= 0x01
	}
}

// serveRequest appends the reply PDU to a decoded request and reports
// whether it is an exception. scratch holds packed data of up to 250 bytes.
func (d *Device) serveRequest(out []byte, q *modbus.Request, scratch []byte) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked()
	im := d.img
	addr, qty := int(q.Address), int(q.Quantity)
	end := addr + qty
	exc := func(code modbus.ExceptionCode) ([]byte, bool) {
		return modbus.AppendExceptionResponse(out, q.Function, code), true
	}
	switch q.Function {
	case modbus.FuncReadHoldingRegisters:
		if end > im.holdingSize() {
			return exc(modbus.ExIllegalDataAddress)
		}
		if end <= holdingCount {
			return modbus.AppendReadResponse(out, q.Function, im.hr[2*addr:2*end]), false
		}
		data := scratch[:2*qty]
		for i := range qty {
			a := addr + i
			var v uint16
			switch {
			case a < holdingCount:
				v = binary.BigEndian.Uint16(im.hr[2*a:])
			case a >= BenchBase:
				v = uint16(a-BenchBase)*31 + uint16(im.step)
			}
			binary.BigEndian.PutUint16(data[2*i:], v)
		}
		return modbus.AppendReadResponse(out, q.Function, data), false
	case modbus.FuncReadInputRegisters:
		if end > inputCount {
			return exc(modbus.ExIllegalDataAddress)
		}
		return modbus.AppendReadResponse(out, q.Function, im.ir[2*addr:2*end]), false
	case modbus.FuncReadCoils, modbus.FuncReadDiscreteInputs:
		tab := im.coil
		if q.Function == modbus.FuncReadDiscreteInputs {
			tab = im.di
		}
		if end > len(tab) {
			return exc(modbus.ExIllegalDataAddress)
		}
		data := scratch[:modbus.BitBytes(qty)]
		clear(data)
		for i, b := range tab[addr:end] {
			data[i/8] |= b << (i % 8)
		}
		return modbus.AppendReadResponse(out, q.Function, data), false
	case modbus.FuncWriteSingleCoil, modbus.FuncWriteMultipleCoils:
		if addr < coilScratch || end > coilScratch+scratchCount {
			return exc(modbus.ExIllegalDataAddress)
		}
		if q.Function == modbus.FuncWriteSingleCoil {
			im.coil[addr] = b2u(q.Value != 0)
			return modbus.AppendWriteResponse(out, q.Function, q.Address, q.Value), false
		}
		for i := range qty {
			im.coil[addr+i] = q.Data[i/8] >> (i % 8) & 1
		}
		return modbus.AppendWriteResponse(out, q.Function, q.Address, q.Quantity), false
	case modbus.FuncWriteSingleRegister, modbus.FuncWriteMultipleRegisters:
		regs := q.Data
		if q.Function == modbus.FuncWriteSingleRegister {
			regs = binary.BigEndian.AppendUint16(scratch[:0], q.Value)
		}
		for i := range qty {
			a := addr + i
			switch {
			case a == addrFeedOverride:
				if binary.BigEndian.Uint16(regs[2*i:]) > FeedOverrideMax {
					return exc(modbus.ExIllegalDataValue)
				}
			case a >= addrScratch && a < addrScratch+scratchCount:
			default:
				return exc(modbus.ExIllegalDataAddress)
			}
		}
		for i := range qty {
			a := addr + i
			v := binary.BigEndian.Uint16(regs[2*i:])
			if a == addrFeedOverride {
				_ = d.m.SetFeedOverride(v) // checked above
			}
			binary.BigEndian.PutUint16(im.hr[2*a:], v)
		}
		v := q.Quantity
		if q.Function == modbus.FuncWriteSingleRegister {
			v = q.Value
		}
		return modbus.AppendWriteResponse(out, q.Function, q.Address, v), false
	case modbus.FuncEncapsulatedInterface:
		objs := d.idObj
		switch q.DeviceIDCode {
		case modbus.DeviceIDIndividual:
			if int(q.ObjectID) >= len(objs) {
				return exc(modbus.ExIllegalDataAddress)
			}
			objs = objs[q.ObjectID : q.ObjectID+1]
		case modbus.DeviceIDBasic:
			objs = objs[:3]
			fallthrough
		default:
			if int(q.ObjectID) < len(objs) {
				objs = objs[q.ObjectID:]
			}
		}
		return modbus.AppendReadDeviceIDResponse(out, q.DeviceIDCode, idConformity, false, 0, objs), false
	}
	return exc(modbus.ExIllegalFunction)
}

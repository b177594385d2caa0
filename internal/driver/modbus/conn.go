package modbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// exchange is the scratch of one request: its PDU, the reply and, for
// Modbus TCP, the rendezvous with the reader. Exchanges are pooled so that
// the read path does not allocate in steady state.
type exchange struct {
	unit  uint8
	q     mb.Request
	r     mb.Response
	req   []byte // request PDU
	resp  []byte // reply PDU; r aliases it
	frame []byte // framing scratch
	done  chan error
	timer *time.Timer
}

var exchanges = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &exchange{
		req:   make([]byte, 0, mb.MaxPDU),
		resp:  make([]byte, 0, mb.MaxPDU),
		frame: make([]byte, 0, mb.MaxADU+3),
		done:  make(chan error, 1),
		timer: t,
	}
}}

// transport moves one request and its reply over a framing.
type transport interface {
	connect(ctx context.Context) error
	close() error
	// roundTrip sends ex.req to ex.unit and leaves the reply decoded in
	// ex.r, checked against ex.q. An exception reply is not an error here.
	// Errors are *errcode.Error whose Msg says what went wrong without
	// saying which request; the Conn adds that.
	roundTrip(ctx context.Context, ex *exchange) error
}

// Conn is a connection to one Modbus endpoint. It implements driver.Conn,
// driver.Writer and driver.Identifier.
type Conn struct {
	t       transport
	name    string
	unit    uint8
	timeout time.Duration
}

// Connect dials the endpoint, closing any previous connection first.
func (c *Conn) Connect(ctx context.Context) error { return c.t.connect(ctx) }

// Close closes the connection; requests in flight fail.
func (c *Conn) Close() error { return c.t.close() }

// op describes a request for error messages. It is a value, formatted
// only when something fails, so that the read path does not allocate.
type op struct {
	verb         string // "read", "write", "identify"
	table        uint32
	start, count uint32
	unit         uint8
	level, obj   uint8
}

func (o op) String() string {
	switch o.verb {
	case "identify":
		return fmt.Sprintf("read device identification (level %d, from object %d) of unit %d", o.level, o.obj, o.unit)
	case "server id":
		return fmt.Sprintf("report server id of unit %d", o.unit)
	case "write":
		return fmt.Sprintf("write %s %d of unit %d", tableNames[o.table], o.start, o.unit)
	}
	return fmt.Sprintf("%s %s %d..%d of unit %d", o.verb, tableNames[o.table], o.start, o.start+o.count-1, o.unit)
}

func (c *Conn) do(ctx context.Context, ex *exchange, o op) error {
	err := c.t.roundTrip(ctx, ex)
	if err != nil {
		var e *errcode.Error
		if errors.As(err, &e) {
			return &errcode.Error{Code: e.Code, Msg: o.String() + ": " + e.Msg, Err: e.Err}
		}
		return errcode.Wrap(errcode.ModbusConnection, err, "%s", o)
	}
	if ex.r.IsException() {
		return exceptionError(&mb.Exception{Function: ex.r.Function, Code: ex.r.Exception}, o.String())
	}
	return nil
}

// Read implements driver.Conn: register bytes as on the wire, or packed
// bits LSB first, appended to buf[:0].
func (c *Conn) Read(ctx context.Context, space, start, count uint32, buf []byte) ([]byte, error) {
	unit, table := splitSpace(space)
	max := Driver{}.MaxCount(space)
	if max == 0 || count < 1 || count > max || start+count > 0x10000 {
		return buf[:0], errcode.New(errcode.ModbusBadAddress, "read %d units from %d of %s: out of the protocol's range", count, start, Driver{}.SpaceName(space))
	}
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	fc := mb.FunctionCode(table)
	ex.unit = unit
	ex.q = mb.Request{Function: fc, Address: uint16(start), Quantity: uint16(count)}
	ex.req = mb.AppendReadRequest(ex.req[:0], fc, uint16(start), uint16(count))
	if err := c.do(ctx, ex, op{verb: "read", table: table, start: start, count: count, unit: unit}); err != nil {
		return buf[:0], err
	}
	return append(buf[:0], ex.r.Data...), nil
}

// Write implements driver.Writer: FC 5 for coils, FC 6 for one register,
// FC 16 for more. A bit or byte of a register is written by reading the
// register and writing it back changed: not atomic, so a device program
// writing the same register in between loses its change.
func (c *Conn) Write(ctx context.Context, p driver.Point, v model.Value) error {
	cd, ok := p.Codec.(*codec)
	if !ok {
		return errcode.New(errcode.ModbusNotWritable, "write %s: the point was not resolved by the modbus driver", p.Type)
	}
	unit, table := splitSpace(p.Space)
	o := op{verb: "write", table: table, start: p.Start, count: p.Count, unit: unit}
	if table != tableCoil && table != tableHR {
		return errcode.New(errcode.ModbusNotWritable, "%s: %s are read-only", o, tableNames[table])
	}
	raw, err := cd.Encode(v)
	if err != nil {
		return err
	}
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	ex.unit = unit
	addr := uint16(p.Start)
	switch {
	case table == tableCoil:
		ex.req = mb.AppendWriteSingleCoil(ex.req[:0], addr, raw[0]&1 == 1)
	case cd.mask() != 0xFFFF:
		ex.q = mb.Request{Function: mb.FuncReadHoldingRegisters, Address: addr, Quantity: 1}
		ex.req = mb.AppendReadRequest(ex.req[:0], mb.FuncReadHoldingRegisters, addr, 1)
		if err := c.do(ctx, ex, o); err != nil {
			return err
		}
		m := cd.mask()
		w := cd.word(ex.r.Data, 0)&^m | cd.word(raw, 0)&m
		cd.putWord(raw, 0, w)
		ex.req = mb.AppendWriteSingleRegister(ex.req[:0], addr, uint16(raw[0])<<8|uint16(raw[1]))
	case len(raw) == 2:
		ex.req = mb.AppendWriteSingleRegister(ex.req[:0], addr, uint16(raw[0])<<8|uint16(raw[1]))
	default:
		ex.req = mb.AppendWriteMultipleRegisters(ex.req[:0], addr, raw)
	}
	if err := ex.q.Decode(ex.req); err != nil {
		return errcode.Wrap(errcode.ModbusValueOutOfRange, err, "%s", o)
	}
	return c.do(ctx, ex, o)
}

// WriteCoils writes qty coils from start of unit with FC 15; packed holds
// the bits LSB first, as Read returns them.
func (c *Conn) WriteCoils(ctx context.Context, unit uint8, start, qty uint16, packed []byte) error {
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	ex.unit = unit
	ex.req = mb.AppendWriteMultipleCoils(ex.req[:0], start, qty, packed)
	o := op{verb: "write", table: tableCoil, start: uint32(start), count: uint32(qty), unit: unit}
	if err := ex.q.Decode(ex.req); err != nil {
		return errcode.Wrap(errcode.ModbusValueOutOfRange, err, "%s", o)
	}
	return c.do(ctx, ex, o)
}

// WriteRegisters writes the big-endian registers regs from start of unit
// with FC 16 (FC 6 when there is one register).
func (c *Conn) WriteRegisters(ctx context.Context, unit uint8, start uint16, regs []byte) error {
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	ex.unit = unit
	if len(regs) == 2 {
		ex.req = mb.AppendWriteSingleRegister(ex.req[:0], start, uint16(regs[0])<<8|uint16(regs[1]))
	} else {
		ex.req = mb.AppendWriteMultipleRegisters(ex.req[:0], start, regs)
	}
	o := op{verb: "write", table: tableHR, start: uint32(start), count: uint32(len(regs) / 2), unit: unit}
	if err := ex.q.Decode(ex.req); err != nil || len(regs)%2 != 0 {
		return errcode.Wrap(errcode.ModbusValueOutOfRange, err, "%s: %d bytes are not whole registers within the limit of %d", o, len(regs), mb.MaxWriteRegisters)
	}
	return c.do(ctx, ex, o)
}

// Identify implements driver.Identifier with FC 43/14: the basic objects,
// then the regular ones; a device without FC 43 (older PLCs and meters,
// libmodbus) is asked FC 17, report server id. Each request passes
// driver.Pace, so the device's budget spaces them. A device that
// implements neither has no identity, which is not an error.
func (c *Conn) Identify(ctx context.Context) (driver.Identity, error) {
	objs := map[uint8]string{}
	for _, level := range []uint8{mb.DeviceIDBasic, mb.DeviceIDRegular} {
		first := uint8(0)
		if level == mb.DeviceIDRegular {
			first = mb.ObjectVendorURL
		}
		err := c.readDeviceID(ctx, level, first, objs)
		if err == nil {
			continue
		}
		switch errcode.Of(err) {
		case errcode.ModbusIllegalFunction, errcode.ModbusIllegalAddress, errcode.ModbusIllegalValue:
			if level == mb.DeviceIDBasic {
				return c.serverID(ctx)
			}
		default:
			if level == mb.DeviceIDBasic {
				return driver.Identity{}, err
			}
		}
		break
	}
	id := driver.Identity{Vendor: objs[mb.ObjectVendorName], Product: objs[mb.ObjectProductCode], Revision: objs[mb.ObjectMajorMinorRevision]}
	if n := objs[mb.ObjectProductName]; n != "" {
		id.Product = n
	}
	names := map[uint8]string{
		mb.ObjectProductCode: "product_code", mb.ObjectVendorURL: "vendor_url", mb.ObjectProductName: "product_name",
		mb.ObjectModelName: "model_name", mb.ObjectUserApplicationName: "user_application_name",
	}
	for k, v := range objs {
		if k <= mb.ObjectMajorMinorRevision && k != mb.ObjectProductCode {
			continue
		}
		if id.Extra == nil {
			id.Extra = map[string]string{}
		}
		n, ok := names[k]
		if !ok {
			n = "object_" + strconv.Itoa(int(k))
		}
		id.Extra[n] = v
	}
	return id, nil
}

// serverID identifies a device by FC 17: the server id and run indicator,
// and the device-specific text after them as the product (libmodbus says
// "LMB3.1.6", many PLCs their model and firmware). A device that does not
// answer it either has no identity.
func (c *Conn) serverID(ctx context.Context) (driver.Identity, error) {
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	ex.unit = c.unit
	ex.req = append(ex.req[:0], byte(mb.FuncReportServerID))
	ex.q = mb.Request{Function: mb.FuncReportServerID}
	done, err := driver.Pace(ctx)
	if err != nil {
		return driver.Identity{}, err
	}
	err = c.do(ctx, ex, op{verb: "server id", unit: c.unit})
	done()
	switch errcode.Of(err) {
	case 0:
	case errcode.ModbusIllegalFunction, errcode.ModbusIllegalAddress, errcode.ModbusIllegalValue:
		return driver.Identity{}, nil
	default:
		return driver.Identity{}, err
	}
	if len(ex.r.Data) == 0 {
		return driver.Identity{}, nil
	}
	id, run, hasRun, extra := ex.r.ServerID()
	idn := driver.Identity{Product: mb.IdentityText(extra), Extra: map[string]string{"server_id": strconv.Itoa(int(id)), "source": "fc17"}}
	if hasRun {
		idn.Extra["run"] = map[bool]string{true: "on", false: "off"}[run]
	}
	return idn, nil
}

// readDeviceID reads one category, following "more follows" a bounded
// number of times in case a device keeps asking for more.
func (c *Conn) readDeviceID(ctx context.Context, level, first uint8, objs map[uint8]string) error {
	ex := exchanges.Get().(*exchange)
	defer exchanges.Put(ex)
	ex.unit = c.unit
	next := first
	for range 16 {
		ex.req = mb.AppendReadDeviceIDRequest(ex.req[:0], level, next)
		ex.q = mb.Request{Function: mb.FuncEncapsulatedInterface, MEIType: mb.MEIReadDeviceID, DeviceIDCode: level, ObjectID: next}
		done, err := driver.Pace(ctx)
		if err != nil {
			return err
		}
		err = c.do(ctx, ex, op{verb: "identify", unit: c.unit, level: level, obj: next})
		done()
		if err != nil {
			return err
		}
		for id, v := range ex.r.Objects() {
			objs[id] = string(v)
		}
		if !ex.r.MoreFollows || ex.r.NextObjectID <= next {
			return nil
		}
		next = ex.r.NextObjectID
	}
	return nil
}

var (
	_ driver.Conn       = (*Conn)(nil)
	_ driver.Writer     = (*Conn)(nil)
	_ driver.Identifier = (*Conn)(nil)
)

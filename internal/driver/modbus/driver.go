package modbus

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

const (
	defaultUnit    = 1
	defaultTimeout = time.Second
	maxStringRegs  = mb.MaxReadRegisters
)

func init() { driver.Register("modbus", Driver{}) }

// Driver is the Modbus driver. The zero value is ready to use.
type Driver struct{}

// Resolve implements driver.Driver.
func (Driver) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	a, err := parseAddress(t.Address)
	if err != nil {
		return driver.Point{}, err
	}
	unit := uint8(defaultUnit)
	if dev.Unit != 0 {
		unit = dev.Unit
	}
	if a.hasUnit {
		unit = uint8(a.unit)
	}
	swapBytes, err := order("byte_order", t.ByteOrder, dev.ByteOrder)
	if err != nil {
		return driver.Point{}, err
	}
	swapWords, err := order("word_order", t.WordOrder, dev.WordOrder)
	if err != nil {
		return driver.Point{}, err
	}
	c := codec{typ: t.Type, table: a.table, bit: a.bit, swapBytes: swapBytes, swapWords: swapWords}
	mismatch := func(why string) (driver.Point, error) {
		return driver.Point{}, errcode.New(errcode.ModbusTypeMismatch, "tag type %s does not fit modbus address %q: %s", t.Type, t.Address, why)
	}
	if isBitTable(a.table) {
		if t.Type != model.Bool {
			return mismatch(tableNames[a.table] + " hold bool values only")
		}
		c.count = 1
	} else {
		if a.bit >= 0 && t.Type != model.Bool {
			return mismatch("a bit index needs type bool")
		}
		switch t.Type {
		case model.Bool, model.Int8, model.Uint8, model.Int16, model.Uint16:
			c.count = 1
		case model.Int32, model.Uint32, model.Float32:
			c.count = 2
		case model.Int64, model.Uint64, model.Float64:
			c.count = 4
		case model.String:
			if t.Length <= 0 || t.Length > 2*maxStringRegs {
				return mismatch("a string needs a length of 1.." + strconv.Itoa(2*maxStringRegs) + " characters")
			}
			c.length = t.Length
			c.count = uint32(t.Length+1) / 2
		default:
			return mismatch("unknown type")
		}
	}
	if a.index+c.count > 0x10000 {
		return mismatch("it runs past unit 65535")
	}
	return driver.Point{Space: Space(unit, a.table), Start: a.index, Count: c.count, Type: t.Type, Codec: sharedCodec(c)}, nil
}

func order(what, tag, dev string) (swap bool, err error) {
	s := tag
	if s == "" {
		s = dev
	}
	switch s {
	case "", "big":
		return false, nil
	case "little":
		return true, nil
	}
	return false, errcode.New(errcode.ModbusBadOption, "%s %q: want big or little", what, s)
}

// MaxCount implements driver.Driver.
// FixedStrings: a string occupies length/2 registers, so it must say its
// length.
func (Driver) FixedStrings() bool { return true }

func (Driver) MaxCount(space uint32) uint32 {
	_, table := splitSpace(space)
	switch {
	case isBitTable(table):
		return mb.MaxReadBits
	case table == tableHR || table == tableIR:
		return mb.MaxReadRegisters
	}
	return 0
}

// SpaceName implements driver.Driver.
func (Driver) SpaceName(space uint32) string {
	unit, table := splitSpace(space)
	n, ok := tableNames[table]
	if !ok {
		n = "table " + strconv.Itoa(int(table))
	}
	return n + ", unit " + strconv.Itoa(int(unit))
}

// Classify implements driver.Driver.
func (Driver) Classify(err error) driver.Fault {
	switch errcode.Of(err) {
	case errcode.ModbusIllegalAddress, errcode.ModbusIllegalValue:
		return driver.FaultRejected
	case errcode.ModbusIllegalFunction, errcode.ModbusDeviceFailure, errcode.ModbusAcknowledge,
		errcode.ModbusBusy, errcode.ModbusGatewayPath, errcode.ModbusGatewayTarget, errcode.ModbusOtherException:
		return driver.FaultDevice
	case errcode.ModbusTimeout:
		return driver.FaultTimeout
	case errcode.ModbusMalformed:
		return driver.FaultMalformed
	case errcode.ModbusBadAddress, errcode.ModbusTypeMismatch, errcode.ModbusNotWritable,
		errcode.ModbusValueOutOfRange, errcode.ModbusBadOption:
		// Our own refusals before any I/O: the connection is fine.
		return driver.FaultDevice
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return driver.FaultTimeout
	}
	return driver.FaultTransport
}

// Open implements driver.Driver. It parses the endpoint and does no I/O.
func (Driver) Open(dev driver.DeviceSpec, endpoint string) (driver.Conn, error) {
	if endpoint == "" {
		endpoint = dev.Endpoint
	}
	timeout := dev.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	t, err := newTransport(endpoint, timeout)
	if err != nil {
		return nil, err
	}
	unit := uint8(defaultUnit)
	if dev.Unit != 0 {
		unit = dev.Unit
	}
	return &Conn{t: t, name: dev.Name, unit: unit, timeout: timeout}, nil
}

// exceptionError turns an exception reply into an error with the code of
// its class.
func exceptionError(ex *mb.Exception, what string) error {
	var c errcode.Code
	switch ex.Code {
	case mb.ExIllegalFunction:
		c = errcode.ModbusIllegalFunction
	case mb.ExIllegalDataAddress:
		c = errcode.ModbusIllegalAddress
	case mb.ExIllegalDataValue:
		c = errcode.ModbusIllegalValue
	case mb.ExServerDeviceFailure:
		c = errcode.ModbusDeviceFailure
	case mb.ExAcknowledge:
		c = errcode.ModbusAcknowledge
	case mb.ExServerDeviceBusy:
		c = errcode.ModbusBusy
	case mb.ExGatewayPathUnavailable:
		c = errcode.ModbusGatewayPath
	case mb.ExGatewayTargetNoResponse:
		c = errcode.ModbusGatewayTarget
	default:
		c = errcode.ModbusOtherException
	}
	return errcode.Wrap(c, ex, "%s", what)
}

var _ driver.Driver = Driver{}

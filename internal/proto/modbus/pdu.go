package modbus

import (
	"errors"
	"strconv"
)

// FunctionCode is a Modbus function code, without the exception bit.
type FunctionCode uint8

// The function codes this codec understands.
const (
	FuncReadCoils              FunctionCode = 1
	FuncReadDiscreteInputs     FunctionCode = 2
	FuncReadHoldingRegisters   FunctionCode = 3
	FuncReadInputRegisters     FunctionCode = 4
	FuncWriteSingleCoil        FunctionCode = 5
	FuncWriteSingleRegister    FunctionCode = 6
	FuncWriteMultipleCoils     FunctionCode = 15
	FuncWriteMultipleRegisters FunctionCode = 16
	FuncReportServerID         FunctionCode = 17 // serial line in the spec; many TCP devices answer it too
	FuncEncapsulatedInterface  FunctionCode = 43
)

// MEIReadDeviceID is the MEI type of Read Device Identification (43/14).
const MEIReadDeviceID = 14

// Read Device ID codes (the "level" of the request).
const (
	DeviceIDBasic      = 1
	DeviceIDRegular    = 2
	DeviceIDExtended   = 3
	DeviceIDIndividual = 4
)

// Device identification object ids of the basic and regular categories.
const (
	ObjectVendorName          = 0
	ObjectProductCode         = 1
	ObjectMajorMinorRevision  = 2
	ObjectVendorURL           = 3
	ObjectProductName         = 4
	ObjectModelName           = 5
	ObjectUserApplicationName = 6
)

// Protocol limits (Modbus Application Protocol v1.1b3, section 6).
const (
	MaxReadBits       = 2000
	MaxReadRegisters  = 125
	MaxWriteBits      = 1968
	MaxWriteRegisters = 123
	MaxPDU            = 253 // function code + data
	exceptionBit      = 0x80
	coilOn            = 0xFF00
)

var funcNames = map[FunctionCode]string{
	FuncReadCoils:              "read coils",
	FuncReadDiscreteInputs:     "read discrete inputs",
	FuncReadHoldingRegisters:   "read holding registers",
	FuncReadInputRegisters:     "read input registers",
	FuncWriteSingleCoil:        "write single coil",
	FuncWriteSingleRegister:    "write single register",
	FuncWriteMultipleCoils:     "write multiple coils",
	FuncWriteMultipleRegisters: "write multiple registers",
	FuncReportServerID:         "report server id",
	FuncEncapsulatedInterface:  "encapsulated interface",
}

func (f FunctionCode) String() string {
	if n, ok := funcNames[f]; ok {
		return n
	}
	return "function " + strconv.Itoa(int(f))
}

// Known reports whether the codec decodes f.
func (f FunctionCode) Known() bool { _, ok := funcNames[f]; return ok }

// IsRead reports a function that reads bits or registers (1-4).
func (f FunctionCode) IsRead() bool { return f >= 1 && f <= 4 }

// IsBitFunc reports a function whose data are bits (1, 2, 5, 15).
func (f FunctionCode) IsBitFunc() bool {
	return f == FuncReadCoils || f == FuncReadDiscreteInputs || f == FuncWriteSingleCoil || f == FuncWriteMultipleCoils
}

// ExceptionCode is the code of a Modbus exception reply.
type ExceptionCode uint8

// Exception codes.
const (
	ExIllegalFunction         ExceptionCode = 0x01
	ExIllegalDataAddress      ExceptionCode = 0x02
	ExIllegalDataValue        ExceptionCode = 0x03
	ExServerDeviceFailure     ExceptionCode = 0x04
	ExAcknowledge             ExceptionCode = 0x05
	ExServerDeviceBusy        ExceptionCode = 0x06
	ExMemoryParityError       ExceptionCode = 0x08
	ExGatewayPathUnavailable  ExceptionCode = 0x0A
	ExGatewayTargetNoResponse ExceptionCode = 0x0B
)

var exceptionNames = map[ExceptionCode]string{
	ExIllegalFunction:         "illegal function",
	ExIllegalDataAddress:      "illegal data address",
	ExIllegalDataValue:        "illegal data value",
	ExServerDeviceFailure:     "server device failure",
	ExAcknowledge:             "acknowledge",
	ExServerDeviceBusy:        "server device busy",
	ExMemoryParityError:       "memory parity error",
	ExGatewayPathUnavailable:  "gateway path unavailable",
	ExGatewayTargetNoResponse: "gateway target device failed to respond",
}

func (c ExceptionCode) String() string {
	if n, ok := exceptionNames[c]; ok {
		return n
	}
	return "exception " + strconv.Itoa(int(c))
}

// Exception is an exception reply as an error.
type Exception struct {
	Function FunctionCode
	Code     ExceptionCode
}

func (e *Exception) Error() string {
	return "modbus exception " + hex2(uint8(e.Code)) + " (" + e.Code.String() + ") to " + e.Function.String()
}

func hex2(b uint8) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// Decoding errors. They are returned unwrapped so that rejecting garbage
// does not allocate.
var (
	ErrTruncated       = errors.New("modbus: truncated frame")
	ErrUnknownFunction = errors.New("modbus: unknown function code")
	ErrBadQuantity     = errors.New("modbus: quantity out of range")
	ErrBadLength       = errors.New("modbus: length or byte count does not match")
	ErrBadCRC          = errors.New("modbus: crc mismatch")
	ErrBadHeader       = errors.New("modbus: bad mbap header")
	ErrMismatch        = errors.New("modbus: response does not answer the request")
)

// ExceptionFor returns the exception a server should send for a request
// that failed to decode with err: illegal function for unknown functions,
// illegal data value otherwise (the spec's choice for bad quantities and
// byte counts).
func ExceptionFor(err error) ExceptionCode {
	if errors.Is(err, ErrUnknownFunction) {
		return ExIllegalFunction
	}
	return ExIllegalDataValue
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func appendBE16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

// BitBytes returns the number of bytes that hold n packed bits.
func BitBytes(n int) int { return (n + 7) / 8 }

package modbus

import (
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// Tables; each equals the function code that reads it, which keeps Read
// a plain conversion.
const (
	tableCoil = uint32(mb.FuncReadCoils)
	tableDI   = uint32(mb.FuncReadDiscreteInputs)
	tableHR   = uint32(mb.FuncReadHoldingRegisters)
	tableIR   = uint32(mb.FuncReadInputRegisters)
)

// Space returns the driver.Point space of a table of a unit.
func Space(unit uint8, table uint32) uint32 { return uint32(unit)<<8 | table }

func splitSpace(space uint32) (unit uint8, table uint32) {
	return uint8(space >> 8), space & 0xFF
}

func isBitTable(table uint32) bool { return table == tableCoil || table == tableDI }

var tableNames = map[uint32]string{
	tableCoil: "coils",
	tableDI:   "discrete inputs",
	tableHR:   "holding registers",
	tableIR:   "input registers",
}

// address is a parsed tag address.
type address struct {
	unit    int // -1: the device's unit
	table   uint32
	index   uint32
	bit     int // -1: whole register
	hasUnit bool
}

// parseAddress parses the syntax of docs/drivers/modbus.md:
// [u<unit>/](coil|di|hr|ir):N[.B] with N 0-based, or the classic 1-based
// 0xxxx/1xxxx/3xxxx/4xxxx (5 digits) and 0xxxxx..4xxxxx (6 digits).
func parseAddress(s string) (address, error) {
	a := address{unit: -1, bit: -1}
	orig := s
	bad := func(why string) (address, error) {
		return address{}, errcode.New(errcode.ModbusBadAddress, "bad modbus address %q: %s", orig, why)
	}
	s = strings.TrimSpace(s)
	if len(s) > 1 && (s[0] == 'u' || s[0] == 'U') {
		if i := strings.IndexByte(s, '/'); i > 0 {
			u, err := strconv.ParseUint(s[1:i], 10, 8)
			if err != nil {
				return bad("unit must be 0..255")
			}
			a.unit, a.hasUnit = int(u), true
			s = s[i+1:]
		}
	}
	num := s
	if i := strings.IndexByte(s, ':'); i >= 0 {
		switch strings.ToLower(s[:i]) {
		case "coil", "co":
			a.table = tableCoil
		case "di":
			a.table = tableDI
		case "hr":
			a.table = tableHR
		case "ir":
			a.table = tableIR
		default:
			return bad("unknown table " + strconv.Quote(s[:i]) + " (want coil, di, hr or ir)")
		}
		num = s[i+1:]
	}
	if j := strings.IndexByte(num, '.'); j >= 0 {
		b, err := strconv.ParseUint(num[j+1:], 10, 8)
		if err != nil || b > 15 {
			return bad("bit must be 0..15")
		}
		a.bit = int(b)
		num = num[:j]
	}
	if num == "" {
		return bad("missing register number")
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return bad("register number must be decimal")
		}
	}
	if a.table == 0 {
		// Classic 1-based form: the first digit names the table.
		if len(num) != 5 && len(num) != 6 {
			return bad("classic addresses have 5 or 6 digits, e.g. 40001 or 400001")
		}
		switch num[0] {
		case '0':
			a.table = tableCoil
		case '1':
			a.table = tableDI
		case '3':
			a.table = tableIR
		case '4':
			a.table = tableHR
		default:
			return bad("classic addresses start with 0, 1, 3 or 4")
		}
		n, _ := strconv.ParseUint(num[1:], 10, 32)
		if n < 1 || n > 65536 {
			return bad("classic register number must be 1..65536")
		}
		a.index = uint32(n - 1)
	} else {
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n > 65535 {
			return bad("register number must be 0..65535")
		}
		a.index = uint32(n)
	}
	if a.bit >= 0 && isBitTable(a.table) {
		return bad("a bit index applies to registers only")
	}
	return a, nil
}

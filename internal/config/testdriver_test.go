package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/model"
)

// testbus is a test-only driver with a Modbus-like address syntax
// (coil:N, di:N, ir:N, hr:N, hr:N.bit), so that validation is tested
// against known rules whatever the real drivers do.
type testbus struct{}

func init() {
	driver.Register("testbus", testbus{})
	// The examples name "modbus"; until the real driver is linked into the
	// test binary, testbus stands in for it.
	if _, ok := driver.Lookup("modbus"); !ok {
		driver.Register("modbus", testbus{})
	}
}

const (
	tbCoil = iota
	tbDI
	tbIR
	tbHR
)

var tbSpaces = map[string]uint32{"coil": tbCoil, "di": tbDI, "ir": tbIR, "hr": tbHR}

func (testbus) Resolve(dev driver.DeviceSpec, t driver.TagSpec) (driver.Point, error) {
	kind, rest, ok := strings.Cut(t.Address, ":")
	space, known := tbSpaces[kind]
	if !ok || !known {
		return driver.Point{}, errors.New("want coil:N, di:N, ir:N or hr:N")
	}
	num, bit, hasBit := strings.Cut(rest, ".")
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return driver.Point{}, fmt.Errorf("register %q is not in 0..65535", num)
	}
	p := driver.Point{Space: space<<8 | uint32(dev.Unit), Start: uint32(n), Count: 1, Type: t.Type}
	bitSpace := space == tbCoil || space == tbDI
	switch {
	case bitSpace && t.Type != model.Bool:
		return driver.Point{}, fmt.Errorf("%s holds bits; %s does not fit", kind, t.Type)
	case bitSpace && hasBit:
		return driver.Point{}, errors.New("a bit number applies to registers only")
	case hasBit:
		b, err := strconv.Atoi(bit)
		if err != nil || b < 0 || b > 15 || t.Type != model.Bool {
			return driver.Point{}, errors.New("a bit number is 0..15 and needs type bool")
		}
	case !bitSpace && t.Type == model.Bool:
		return driver.Point{}, errors.New("a bool in a register needs a bit number, e.g. hr:10.3")
	case t.Type == model.String:
		p.Count = uint32((t.Length + 1) / 2)
	case t.Type.Bits() > 16:
		p.Count = uint32(t.Type.Bits() / 16)
	}
	if p.End() > 65536 {
		return driver.Point{}, errors.New("runs past register 65535")
	}
	return p, nil
}

func (testbus) MaxCount(space uint32) uint32 {
	if space>>8 <= tbDI {
		return 2000
	}
	return 125
}

func (testbus) SpaceName(space uint32) string {
	names := []string{"coils", "discrete inputs", "input registers", "holding registers"}
	return fmt.Sprintf("%s, unit %d", names[space>>8&3], space&0xff)
}

func (testbus) Classify(error) driver.Fault { return driver.FaultDevice }

func (testbus) Open(driver.DeviceSpec, string) (driver.Conn, error) {
	return nil, errors.New("testbus does not connect")
}

// FixedStrings: like Modbus, testbus strings occupy a fixed number of units.
func (testbus) FixedStrings() bool { return true }

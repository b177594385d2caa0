//go:build !linux

package modbus

import (
	"context"

	"github.com/otlink/otlink/internal/errcode"
)

var baudRates = map[int]uint32{1200: 0, 2400: 0, 4800: 0, 9600: 0, 19200: 0, 38400: 0, 57600: 0, 115200: 0, 230400: 0}

func (s serialConfig) open(ctx context.Context) (rtuPort, error) {
	return nil, errcode.New(errcode.ModbusSerial, "serial port %s: serial lines are supported on linux only", s.path)
}

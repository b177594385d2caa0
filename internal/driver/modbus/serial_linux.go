package modbus

import (
	"context"
	"os"

	"golang.org/x/sys/unix"

	"github.com/otlink/otlink/internal/errcode"
)

var baudRates = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600,
	19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200,
	230400: unix.B230400,
}

// open opens and configures the serial port in raw mode. The descriptor is
// non-blocking so that os.File puts it in the runtime poller and deadlines
// work.
func (s serialConfig) open(ctx context.Context) (rtuPort, error) {
	fd, err := unix.Open(s.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errcode.Wrap(errcode.ModbusSerial, err, "open serial port %s", s.path)
	}
	fail := func(err error, what string) (rtuPort, error) {
		_ = unix.Close(fd)
		return nil, errcode.Wrap(errcode.ModbusSerial, err, "%s of serial port %s", what, s.path)
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fail(err, "read settings")
	}
	speed := baudRates[s.baud]
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB | unix.PARODD | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	tio.Cflag |= unix.CREAD | unix.CLOCAL | speed
	if s.data == 7 {
		tio.Cflag |= unix.CS7
	} else {
		tio.Cflag |= unix.CS8
	}
	switch s.parity {
	case 'E':
		tio.Cflag |= unix.PARENB
	case 'O':
		tio.Cflag |= unix.PARENB | unix.PARODD
	}
	if s.stop == 2 {
		tio.Cflag |= unix.CSTOPB
	}
	tio.Ispeed, tio.Ospeed = speed, speed
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fail(err, "configure")
	}
	_ = unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH)
	return os.NewFile(uintptr(fd), s.path), nil
}

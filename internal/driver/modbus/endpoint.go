package modbus

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// newTransport parses an endpoint; it does no I/O.
func newTransport(endpoint string, timeout time.Duration) (transport, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, errcode.Wrap(errcode.ModbusBadEndpoint, err, "bad modbus endpoint %q", endpoint)
	}
	hostPort := func() (string, error) {
		if u.Host == "" || u.Port() == "" {
			return "", errcode.New(errcode.ModbusBadEndpoint, "modbus endpoint %q needs host:port", endpoint)
		}
		return net.JoinHostPort(u.Hostname(), u.Port()), nil
	}
	switch u.Scheme {
	case "tcp", "modbus+tcp":
		hp, err := hostPort()
		if err != nil {
			return nil, err
		}
		return newTCPTransport(hp, timeout), nil
	case "rtu+tcp":
		hp, err := hostPort()
		if err != nil {
			return nil, err
		}
		return &rtuTransport{name: hp, timeout: timeout, dial: dialTCP(hp)}, nil
	case "rtu":
		s, err := parseSerial(u)
		if err != nil {
			return nil, errcode.Wrap(errcode.ModbusBadEndpoint, err, "bad modbus endpoint %q", endpoint)
		}
		return &rtuTransport{name: s.path, timeout: timeout, silence: s.silence(), serial: true, dial: s.open}, nil
	}
	return nil, errcode.New(errcode.ModbusBadEndpoint, "modbus endpoint %q: unknown scheme %q (want tcp, rtu+tcp or rtu)", endpoint, u.Scheme)
}

// serialConfig is a serial line's settings.
type serialConfig struct {
	path   string
	baud   int
	data   int
	parity byte // 'N', 'E' or 'O'
	stop   int
}

func parseSerial(u *url.URL) (serialConfig, error) {
	s := serialConfig{path: u.Path, baud: 19200, data: 8, parity: 'E', stop: 1}
	if s.path == "" {
		return s, errcode.New(errcode.ModbusBadEndpoint, "missing device path, e.g. rtu:///dev/ttyUSB0")
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "baud", "data", "parity", "stop":
		default:
			return s, errcode.New(errcode.ModbusBadEndpoint, "unknown serial setting %q (want baud, parity, stop, data)", k)
		}
	}
	num := func(k string, def int, ok func(int) bool) (int, error) {
		v := q.Get(k)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || !ok(n) {
			return 0, errcode.New(errcode.ModbusBadEndpoint, "bad serial %s %q", k, v)
		}
		return n, nil
	}
	var err error
	if s.baud, err = num("baud", s.baud, func(n int) bool { _, ok := baudRates[n]; return ok }); err != nil {
		return s, err
	}
	if s.data, err = num("data", s.data, func(n int) bool { return n == 7 || n == 8 }); err != nil {
		return s, err
	}
	if s.stop, err = num("stop", s.stop, func(n int) bool { return n == 1 || n == 2 }); err != nil {
		return s, err
	}
	switch p := q.Get("parity"); p {
	case "":
	case "N", "n", "none":
		s.parity = 'N'
	case "E", "e", "even":
		s.parity = 'E'
	case "O", "o", "odd":
		s.parity = 'O'
	default:
		return s, errcode.New(errcode.ModbusBadEndpoint, "bad serial parity %q (want N, E or O)", p)
	}
	return s, nil
}

// silence is the inter-frame gap of 3.5 character times; above 19200 baud
// the spec fixes it at 1.75 ms.
func (s serialConfig) silence() time.Duration {
	if s.baud > 19200 {
		return 1750 * time.Microsecond
	}
	bits := 1 + s.data + s.stop
	if s.parity != 'N' {
		bits++
	}
	return time.Duration(float64(time.Second) * 3.5 * float64(bits) / float64(s.baud))
}

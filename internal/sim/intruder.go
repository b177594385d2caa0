package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

// Intruder plays, for the demo's war room, what an attacker on the plant
// network does with Modbus: from an address of its own it reads every
// device's identification (FC 43/14: an identity scan), writes a scratch
// register of the first device (a host that never wrote before) and asks
// it to restart (FC 8 sub-function 1, which the simulated devices refuse:
// the process is not disturbed). Addresses are loopback ones, 127.0.0.0/8,
// so the traffic stays on this machine.
func (p *Plant) Intrude(ctx context.Context, from netip.Addr) error {
	var errs []error
	for i, d := range p.devices {
		reqs := [][]byte{modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDBasic, 0)}
		if i == 0 {
			reqs = append(reqs,
				modbus.AppendWriteSingleRegister(nil, addrScratch+scratchCount-1, 0xBAD),
				[]byte{8, 0, 1, 0, 0}) // diagnostics: restart communications
		}
		errs = append(errs, exchange(ctx, from, d.Addr(), reqs))
	}
	return errors.Join(errs...)
}

// exchange sends each request on one connection from address from and
// waits for its reply (or a second).
func exchange(ctx context.Context, from netip.Addr, addr string, reqs [][]byte) error {
	dl := net.Dialer{Timeout: time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	c, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 260)
	for i, pdu := range reqs {
		frame := append(modbus.AppendMBAP(nil, uint16(i+1), 1, len(pdu)), pdu...)
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(frame); err != nil {
			return err
		}
		// The reply: the MBAP header, then as many bytes as it says.
		if _, err := io.ReadFull(c, buf[:7]); err != nil {
			return err
		}
		n := int(buf[4])<<8 | int(buf[5])
		if n < 2 || 6+n > len(buf) {
			return errors.New("sim intruder: bad reply length")
		}
		if _, err := io.ReadFull(c, buf[7:6+n]); err != nil {
			return err
		}
	}
	return nil
}

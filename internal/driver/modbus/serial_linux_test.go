package modbus

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

// openPTY returns the master side of a pseudo-terminal and the path of its
// slave, which the driver opens as if it were a serial port.
func openPTY(t *testing.T) (*os.File, string) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n int
	var cerr error
	rc, _ := m.SyscallConn()
	_ = rc.Control(func(fd uintptr) {
		if cerr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); cerr != nil {
			return
		}
		n, cerr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	})
	if cerr != nil {
		_ = m.Close()
		t.Skipf("pseudo-terminal setup: %v", cerr)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestSerialRTU runs RTU on a "serial line" made of a pseudo-terminal: the
// driver configures the slave with termios, the test server answers on the
// master side.
func TestSerialRTU(t *testing.T) {
	master, path := openPTY(t)
	s := &testServer{t: t, coils: make([]bool, 65536), di: make([]bool, 65536), hr: make([]uint16, 65536), ir: make([]uint16, 65536)}
	for i := range s.hr {
		s.hr[i] = uint16(i)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf [mb.MaxRTUFrame]byte
		for {
			n, want := 0, 0
			for range 300 {
				var err error
				if want, err = mb.RTURequestLen(buf[:n]); err != nil || want > len(buf) {
					return
				}
				if want <= n {
					break
				}
				m, err := master.Read(buf[n:want])
				n += m
				if err != nil {
					return
				}
			}
			addr, pdu, err := mb.DecodeRTU(buf[:want])
			if err != nil {
				return
			}
			act, reply := s.handle(addr, pdu)
			if reply == nil || act == silent {
				continue
			}
			if _, err := master.Write(mb.AppendRTU(nil, addr, reply)); err != nil {
				return
			}
		}
	}()
	defer func() { _ = master.Close(); wg.Wait() }()

	c := dial(t, "rtu://"+path+"?baud=115200&parity=N&stop=1", 500*time.Millisecond)
	ctx := context.Background()
	for i := range 20 {
		start := uint32(i * 100)
		b, err := c.Read(ctx, Space(1, tableHR), start, 125, nil)
		if err != nil {
			t.Fatalf("read %d: %v", start, err)
		}
		if got := uint32(b[248])<<8 | uint32(b[249]); got != start+124 {
			t.Fatalf("read %d: last register %d", start, got)
		}
	}
	if err := c.WriteRegisters(ctx, 1, 10, []byte{0xBE, 0xEF}); err != nil {
		t.Fatal(err)
	}
	// Unit 5 is silent: a timeout, after which the line still works.
	if _, err := c.Read(ctx, Space(5, tableHR), 0, 1, nil); err == nil {
		t.Fatal("silent unit answered")
	}
	b, err := c.Read(ctx, Space(1, tableHR), 10, 1, nil)
	if err != nil || b[0] != 0xBE || b[1] != 0xEF {
		t.Fatalf("after timeout: % X %v", b, err)
	}
}

func TestSerialOpenError(t *testing.T) {
	c, err := Driver{}.Open(driver.DeviceSpec{Endpoint: "rtu:///nonexistent/ttyX", Timeout: time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(context.Background())
	if errcode.Of(err) != errcode.ModbusSerial || (Driver{}).Classify(err) != driver.FaultTransport {
		t.Fatalf("got %v", err)
	}
}

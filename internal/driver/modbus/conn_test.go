package modbus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mb "github.com/otlink/otlink/internal/proto/modbus"
)

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func dial(t testing.TB, endpoint string, timeout time.Duration) *Conn {
	t.Helper()
	c, err := Driver{}.Open(driver.DeviceSpec{Name: "test", Endpoint: endpoint, Timeout: timeout}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Conn)
}

func resolve(t testing.TB, addr string, typ model.Type) driver.Point {
	t.Helper()
	p, err := Driver{}.Resolve(driver.DeviceSpec{}, driver.TagSpec{Address: addr, Type: typ, Length: 8})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readPoint reads a point's block alone and decodes it.
func readPoint(t testing.TB, c *Conn, p driver.Point) model.Value {
	t.Helper()
	b, err := c.Read(context.Background(), p.Space, p.Start, p.Count, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Codec.Decode(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConnFramings(t *testing.T) {
	for _, rtu := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "rtu+tcp"}[rtu], func(t *testing.T) {
			s := newTestServer(t, rtu)
			c := dial(t, s.endpoint(), time.Second)
			ctx := context.Background()

			b, err := c.Read(ctx, Space(1, tableHR), 100, 125, make([]byte, 0, 250))
			if err != nil || len(b) != 250 || b[0] != 0 || b[1] != 100 || b[248] != 0 || b[249] != 224 {
				t.Fatalf("read hr: % X %v", b[:4], err)
			}
			b, err = c.Read(ctx, Space(3, tableIR), 0, 1, nil)
			if err != nil || len(b) != 2 || b[0] != 0xFF || b[1] != 0xFF {
				t.Fatalf("read ir unit 3: % X %v", b, err)
			}
			b, err = c.Read(ctx, Space(1, tableDI), 1, 2000, nil)
			if err != nil || len(b) != 250 || b[0] != 0b0100100 {
				t.Fatalf("read di: % X %v", b[:1], err)
			}

			// Writes of every kind, read back.
			for _, w := range []struct {
				addr string
				typ  model.Type
				v    model.Value
			}{
				{"coil:7", model.Bool, model.BoolValue(true)},
				{"hr:200", model.Int16, model.IntValue(model.Int16, -12)},
				{"hr:201", model.Float64, model.FloatValue(model.Float64, 2.25)},
				{"hr:210", model.String, model.StringValue("otlink")},
				{"hr:220.3", model.Bool, model.BoolValue(true)},
				{"hr:221", model.Int8, model.IntValue(model.Int8, -5)},
			} {
				p := resolve(t, w.addr, w.typ)
				if err := c.Write(ctx, p, w.v); err != nil {
					t.Fatalf("write %s: %v", w.addr, err)
				}
				if got := readPoint(t, c, p); got != w.v {
					t.Fatalf("%s: read back %v, want %v", w.addr, got, w.v)
				}
			}
			s.mu.Lock()
			// The bit and the byte kept the rest of their registers (220 = 0x00DC, 221 = 0x00DD).
			if s.hr[220] != 0x00DC|1<<3 || s.hr[221] != 0xFB {
				t.Errorf("read-modify-write: hr220 %#04x hr221 %#04x", s.hr[220], s.hr[221])
			}
			s.mu.Unlock()
			if err := c.Write(ctx, resolve(t, "ir:1", model.Int16), model.IntValue(model.Int16, 1)); errcode.Of(err) != errcode.ModbusNotWritable {
				t.Fatalf("write to ir: %v", err)
			}

			// Exceptions map to codes and faults.
			_, err = c.Read(ctx, Space(1, tableHR), 59990, 20, nil)
			if errcode.Of(err) != errcode.ModbusIllegalAddress || (Driver{}).Classify(err) != driver.FaultRejected {
				t.Fatalf("hole: %v", err)
			}
			var ex *mb.Exception
			if !errors.As(err, &ex) || ex.Code != mb.ExIllegalDataAddress {
				t.Fatalf("exception not in chain: %v", err)
			}
			_, err = c.Read(ctx, Space(9, tableHR), 0, 1, nil)
			if errcode.Of(err) != errcode.ModbusGatewayTarget || (Driver{}).Classify(err) != driver.FaultDevice {
				t.Fatalf("gateway: %v", err)
			}
			// The connection survives exceptions.
			if _, err := c.Read(ctx, Space(1, tableHR), 0, 1, nil); err != nil {
				t.Fatal(err)
			}

			id, err := c.Identify(ctx)
			if err != nil || id.Vendor != "otlink" || id.Product != "Test Server" || id.Revision != "1.2" ||
				id.Extra["product_code"] != "OTL-TEST" || id.Extra["model_name"] != "T-1" || id.Extra["user_application_name"] != "line 1" {
				t.Fatalf("identity %+v %v", id, err)
			}
			// Without FC 43, FC 17 (report server id) names the device.
			s.mu.Lock()
			s.noID = true
			s.mu.Unlock()
			if id, err := c.Identify(ctx); err != nil || id.Product != "OTL test meter v7" || id.Extra["server_id"] != "42" || id.Extra["run"] != "on" || id.Extra["source"] != "fc17" {
				t.Fatalf("identity from FC 17: %+v %v", id, err)
			}
			s.mu.Lock()
			s.noSID = true
			s.mu.Unlock()
			if id, err := c.Identify(ctx); err != nil || id.Vendor != "" || id.Product != "" || id.Extra != nil {
				t.Fatalf("no identity: %+v %v", id, err)
			}
		})
	}
}

func TestTCPConcurrent(t *testing.T) {
	s := newTestServer(t, false)
	s.jitter = true
	c := dial(t, s.endpoint(), 2*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 250)
			for i := range 50 {
				start := uint32(g*1000 + i)
				b, err := c.Read(context.Background(), Space(1, tableHR), start, 10, buf)
				if err != nil {
					errs <- err
					return
				}
				for k := 0; k < 10; k++ {
					if got := uint32(b[2*k])<<8 | uint32(b[2*k+1]); got != start+uint32(k) {
						errs <- fmt.Errorf("read from %d: register %d = %d: replies mixed up", start, k, got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTCPFaults(t *testing.T) {
	ctx := context.Background()
	hr := Space(1, tableHR)
	t.Run("timeout then late reply is dropped", func(t *testing.T) {
		s := newTestServer(t, false)
		c := dial(t, s.endpoint(), 100*time.Millisecond)
		s.setHook(func(q *mb.Request) action {
			if q.Address == 1 {
				return lateReply
			}
			return answer
		})
		_, err := c.Read(ctx, hr, 1, 1, nil)
		if errcode.Of(err) != errcode.ModbusTimeout || (Driver{}).Classify(err) != driver.FaultTimeout {
			t.Fatalf("late: %v", err)
		}
		// The next reply is preceded by the late one, which must be dropped,
		// not taken for this one.
		b, err := c.Read(ctx, hr, 2, 1, nil)
		if err != nil || b[1] != 2 {
			t.Fatalf("after late reply: % X %v", b, err)
		}
		if b, err := c.Read(ctx, hr, 3, 1, nil); err != nil || b[1] != 3 {
			t.Fatalf("connection kept: % X %v", b, err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		s := newTestServer(t, false)
		c := dial(t, s.endpoint(), time.Hour)
		s.setHook(func(q *mb.Request) action { return silent })
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := c.Read(cctx, hr, 1, 1, nil); errcode.Of(err) != errcode.ModbusTimeout {
			t.Fatalf("deadline: %v", err)
		}
	})
	for _, act := range []action{garbage, wrongTID, wrongUnit} {
		t.Run(fmt.Sprintf("malformed %d", act), func(t *testing.T) {
			s := newTestServer(t, false)
			c := dial(t, s.endpoint(), time.Second)
			s.setHook(func(q *mb.Request) action { return act })
			_, err := c.Read(ctx, hr, 1, 1, nil)
			if errcode.Of(err) != errcode.ModbusMalformed || (Driver{}).Classify(err) != driver.FaultMalformed {
				t.Fatalf("got %v", err)
			}
			// The connection was dropped; requests fail until reconnected.
			_, err = c.Read(ctx, hr, 1, 1, nil)
			if f := (Driver{}).Classify(err); err == nil || f != driver.FaultTransport {
				t.Fatalf("after malformed: %v (%v)", err, f)
			}
			s.setHook(nil)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if b, err := c.Read(ctx, hr, 5, 1, nil); err != nil || b[1] != 5 {
				t.Fatalf("after reconnect: % X %v", b, err)
			}
		})
	}
	t.Run("server closes", func(t *testing.T) {
		s := newTestServer(t, false)
		c := dial(t, s.endpoint(), time.Second)
		s.close()
		_, err := c.Read(ctx, hr, 1, 1, nil)
		if err == nil || (Driver{}).Classify(err) != driver.FaultTransport {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("connect refused", func(t *testing.T) {
		s := newTestServer(t, false)
		ep := s.endpoint()
		s.close()
		c, _ := Driver{}.Open(driver.DeviceSpec{Timeout: time.Second}, ep)
		if err := c.Connect(ctx); errcode.Of(err) != errcode.ModbusConnection {
			t.Fatalf("got %v", err)
		}
		if _, err := c.Read(ctx, hr, 1, 1, nil); errcode.Of(err) != errcode.ModbusNotConnected {
			t.Fatalf("read unconnected: %v", err)
		}
	})
	t.Run("bad read range", func(t *testing.T) {
		s := newTestServer(t, false)
		c := dial(t, s.endpoint(), time.Second)
		for _, r := range [][3]uint32{{hr, 0, 126}, {hr, 65535, 2}, {Space(1, tableCoil), 0, 2001}, {1<<8 | 7, 0, 1}, {hr, 0, 0}} {
			if _, err := c.Read(ctx, r[0], r[1], r[2], nil); errcode.Of(err) != errcode.ModbusBadAddress {
				t.Errorf("%v: %v", r, err)
			}
		}
	})
}

func TestRTUFaults(t *testing.T) {
	ctx := context.Background()
	hr := Space(1, tableHR)
	s := newTestServer(t, true)
	c := dial(t, s.endpoint(), 100*time.Millisecond)
	s.setHook(func(q *mb.Request) action {
		if q.Address == 1 {
			return silent
		}
		return answer
	})
	if _, err := c.Read(ctx, hr, 1, 1, nil); errcode.Of(err) != errcode.ModbusTimeout {
		t.Fatalf("silent: %v", err)
	}
	if b, err := c.Read(ctx, hr, 2, 1, nil); err != nil || b[1] != 2 {
		t.Fatalf("after timeout: % X %v", b, err)
	}
	for _, act := range []action{badCRC, wrongUnit, garbage} {
		s.setHook(func(q *mb.Request) action { return act })
		if _, err := c.Read(ctx, hr, 1, 1, nil); errcode.Of(err) != errcode.ModbusMalformed {
			t.Fatalf("action %d: %v", act, err)
		}
		s.setHook(nil)
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if b, err := c.Read(ctx, hr, 4, 1, nil); err != nil || b[1] != 4 {
			t.Fatalf("after reconnect: % X %v", b, err)
		}
	}
	// Concurrent callers are serialised on the line.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				start := uint32(g*100 + i)
				b, err := c.Read(ctx, hr, start, 1, nil)
				if err != nil || uint32(b[0])<<8|uint32(b[1]) != start {
					t.Errorf("read %d: % X %v", start, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

var raceEnabled bool

func TestReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s := newTestServer(t, false)
	c := dial(t, s.endpoint(), time.Second)
	buf := make([]byte, 0, 250)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		var err error
		if buf, err = c.Read(ctx, Space(1, tableHR), 0, 125, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per read", allocs)
	}
}

// BenchmarkRead125 measures round trips of 125-register reads against the
// in-test server on loopback, one at a time and with 4 outstanding.
func BenchmarkRead125(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("inflight=%d", par), func(b *testing.B) {
			s := newTestServer(b, false)
			c := dial(b, s.endpoint(), time.Second)
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 0, 250)
				for pb.Next() {
					var err error
					if buf, err = c.Read(context.Background(), Space(1, tableHR), 0, 125, buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)*125/b.Elapsed().Seconds(), "registers/s")
		})
	}
}

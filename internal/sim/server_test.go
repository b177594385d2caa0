package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestServeReadsAndWrites(t *testing.T) {
	clk := NewManualClock(t0)
	d := startDevice(t, DeviceConfig{Machine: MachineConfig{Kind: KindMill, Seed: 5}, Clock: clk, Bench: 2000})
	c := dial(t, d.Addr())

	// FC 3 and 4 serve the encoded values.
	hr, err := c.readRegs(modbus.FuncReadHoldingRegisters, 100, 24)
	if err != nil {
		t.Fatal(err)
	}
	v := d.Values()
	if got := math.Float32frombits(binary.BigEndian.Uint32(hr[32:])); got != float32(v.Energy) {
		t.Errorf("energy float32 %v, want %v", got, float32(v.Energy))
	}
	ir, err := c.readRegs(modbus.FuncReadInputRegisters, 10, 1)
	if err != nil || binary.BigEndian.Uint16(ir) != uint16(v.State) {
		t.Errorf("ir:10 = %x, %v; want state %d", ir, err, v.State)
	}
	// FC 1 and 2 pack bits LSB first.
	r, err := c.do(modbus.AppendReadRequest(nil, modbus.FuncReadCoils, 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	if r.Bit(0) != (v.State == StateRunning) || r.Bit(2) != v.DoorOpen || r.Bit(5) != (v.State == StateIdle) {
		t.Errorf("coils %08b in state %s door %v", r.Data, v.State, v.DoorOpen)
	}
	r, err = c.do(modbus.AppendReadRequest(nil, modbus.FuncReadDiscreteInputs, 16, 4))
	if err != nil || r.Bit(0) != !v.DoorOpen {
		t.Errorf("di:16 = %v, %v; door open %v", r.Data, err, v.DoorOpen)
	}

	// Outside the map: exception 02, for every table.
	for _, q := range [][]byte{
		modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, BenchBase+2000-10, 11),
		modbus.AppendReadRequest(nil, modbus.FuncReadInputRegisters, inputCount, 1),
		modbus.AppendReadRequest(nil, modbus.FuncReadCoils, 0, coilCount+1),
		modbus.AppendReadRequest(nil, modbus.FuncReadDiscreteInputs, 40, 1),
		modbus.AppendWriteSingleRegister(nil, 100, 1),
		modbus.AppendWriteSingleCoil(nil, 0, true),
		modbus.AppendWriteMultipleRegisters(nil, 34, []byte{0, 1, 0, 2, 0, 3}), // runs past the scratch block
	} {
		if _, err := c.do(q); exceptionCode(err) != modbus.ExIllegalDataAddress {
			t.Errorf("% x: %v, want exception 02", q, err)
		}
	}
	// Illegal function: exception 01.
	tid := c.send([]byte{0x07})
	a, err := c.recv(5 * time.Second)
	if err != nil || a.Transaction != tid || !bytes.Equal(a.PDU, []byte{0x87, 0x01}) {
		t.Errorf("FC 7: % x, %v; want 87 01", a.PDU, err)
	}

	// The bench area changes with the steps.
	b1, err := c.readRegs(modbus.FuncReadHoldingRegisters, BenchBase+100, 125)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := binary.BigEndian.Uint16(b1[2:]), uint16(101*31+v.Step); got != want {
		t.Errorf("bench register 101 = %d, want %d", got, want)
	}
	clk.Advance(time.Second)
	b2, _ := c.readRegs(modbus.FuncReadHoldingRegisters, BenchBase+100, 125)
	if bytes.Equal(b1, b2) {
		t.Error("bench registers did not change over a second")
	}
	// A read across the gap below the bench area: zeros there.
	gap, err := c.readRegs(modbus.FuncReadHoldingRegisters, holdingCount-2, 4)
	if err != nil || gap[4] != 0 || gap[5] != 0 {
		t.Errorf("gap read % x, %v", gap, err)
	}

	// Writes: feed override (checked), scratch registers and coils.
	if _, err := c.do(modbus.AppendWriteSingleRegister(nil, addrFeedOverride, 120)); err != nil {
		t.Fatal(err)
	}
	if d.Values().FeedOverride != 120 {
		t.Errorf("feed override %d after writing 120", d.Values().FeedOverride)
	}
	if _, err := c.do(modbus.AppendWriteSingleRegister(nil, addrFeedOverride, 250)); exceptionCode(err) != modbus.ExIllegalDataValue {
		t.Errorf("override 250: %v, want exception 03", err)
	}
	if _, err := c.do(modbus.AppendWriteMultipleRegisters(nil, addrScratch, []byte{0xde, 0xad, 0xbe, 0xef})); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // a re-encode keeps written registers
	got, _ := c.readRegs(modbus.FuncReadHoldingRegisters, addrFeedOverride, 1)
	sc, _ := c.readRegs(modbus.FuncReadHoldingRegisters, addrScratch, 2)
	if binary.BigEndian.Uint16(got) != 120 || !bytes.Equal(sc, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("read back override % x scratch % x", got, sc)
	}
	if _, err := c.do(modbus.AppendWriteSingleCoil(nil, coilScratch+1, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.do(modbus.AppendWriteMultipleCoils(nil, coilScratch+8, 3, []byte{0b101})); err != nil {
		t.Fatal(err)
	}
	r, err = c.do(modbus.AppendReadRequest(nil, modbus.FuncReadCoils, coilScratch, 16))
	if err != nil || !bytes.Equal(r.Data, []byte{0b10, 0b101}) {
		t.Errorf("scratch coils %08b, %v", r.Data, err)
	}
}

func TestIdentity(t *testing.T) {
	d := startDevice(t, DeviceConfig{Name: "press07", Machine: MachineConfig{Kind: KindPress}})
	c := dial(t, d.Addr())
	r, err := c.do(modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDRegular, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint8]string{}
	for id, v := range r.Objects() {
		got[id] = string(v)
	}
	if got[0] != "otlink-sim" || got[1] != "OTL-SIM-PRESS" || got[2] != "1.0.0" || got[6] != "press07" {
		t.Errorf("identity %q", got)
	}
	r, err = c.do(modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDBasic, 0))
	if err != nil || r.NumObjects != 3 {
		t.Errorf("basic identity: %d objects, %v", r.NumObjects, err)
	}
	r, err = c.do(modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDIndividual, 4))
	if err != nil || r.NumObjects != 1 {
		t.Fatalf("object 4: %v %v", r, err)
	}
	for id, v := range r.Objects() {
		if id != 4 || string(v) != "otlink simulated press" {
			t.Errorf("object 4 = %d %q", id, v)
		}
	}
	if _, err := c.do(modbus.AppendReadDeviceIDRequest(nil, modbus.DeviceIDIndividual, 0x80)); exceptionCode(err) != modbus.ExIllegalDataAddress {
		t.Errorf("object 0x80: %v, want exception 02", err)
	}
}

// TestDeviceDeterministic: two devices with the same seed and clock answer
// the same request sequence with the same bytes.
func TestDeviceDeterministic(t *testing.T) {
	read := func(seed uint64) [][]byte {
		clk := NewManualClock(t0)
		d := startDevice(t, DeviceConfig{Machine: MachineConfig{Seed: seed}, Clock: clk})
		c := dial(t, d.Addr())
		var out [][]byte
		for i := range 40 {
			if i == 20 {
				if _, err := c.do(modbus.AppendWriteSingleRegister(nil, addrFeedOverride, 80)); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(time.Duration(i) * 700 * time.Millisecond)
			b, err := c.readRegs(modbus.FuncReadHoldingRegisters, 100, 124)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, b, other := read(11), read(11), read(12)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("read %d differs with the same seed", i)
		}
	}
	if bytes.Equal(a[39], other[39]) {
		t.Error("seeds 11 and 12 answered the same")
	}
}

func TestPipelinedInOrder(t *testing.T) {
	d := startDevice(t, DeviceConfig{})
	c := dial(t, d.Addr())
	var frames []byte
	for i := range 40 {
		pdu := modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, uint16(i), 1)
		frames = modbus.AppendMBAP(frames, uint16(1000+i), 1, len(pdu))
		frames = append(frames, pdu...)
	}
	if _, err := c.nc.Write(frames); err != nil { // one write: all 40 in flight
		t.Fatal(err)
	}
	for i := range 40 {
		a, err := c.recv(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if a.Transaction != uint16(1000+i) {
			t.Fatalf("reply %d has tid %d", i, a.Transaction)
		}
	}
	if s := d.Stats(); s.Requests != 40 || s.ByFunction[3] != 40 || s.InFlight != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestConcurrentConnections(t *testing.T) {
	d := startDevice(t, DeviceConfig{MaxConns: 8})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, d.Addr())
			defer c.nc.Close()
			for i := range 50 {
				if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, uint16(g*10+i%10), 10); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := d.Stats()
	if s.Requests != 400 || s.Accepted != 8 || s.MaxInFlight < 1 || s.MaxInFlight > 8 {
		t.Errorf("stats %+v", s)
	}
	eventually(t, "connections closed", func() bool { return d.Stats().Open == 0 })
	// A ninth connection while eight are open is closed at once.
	var cs []*client
	for range 8 {
		cs = append(cs, dial(t, d.Addr()))
	}
	eventually(t, "8 open connections", func() bool { return d.Stats().Open == 8 })
	extra := dial(t, d.Addr())
	if _, err := extra.recv(5 * time.Second); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("ninth connection: %v, want closed", err)
	}
	if d.Stats().Refused != 1 {
		t.Errorf("refused %d, want 1", d.Stats().Refused)
	}
	_ = cs
}

func TestFaultSlow(t *testing.T) {
	d := startDevice(t, DeviceConfig{Fault: Fault{Delay: 150 * time.Millisecond}})
	c := dial(t, d.Addr())
	start := time.Now()
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("reply after %s, before the 150ms delay", el)
	}
}

func TestFaultDrop(t *testing.T) {
	d := startDevice(t, DeviceConfig{Fault: Fault{DropAfter: 3}})
	c := dial(t, d.Addr())
	for i := range 3 {
		if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, err := c.recv(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after 3 requests: %v, want EOF", err)
	}
	if err := d.SetFault(Fault{DropProb: 1}); err != nil {
		t.Fatal(err)
	}
	c = dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err == nil {
		t.Error("drop_prob 1 answered")
	}
	eventually(t, "no connection open", func() bool { return d.Stats().Open == 0 })
	if s := d.Stats(); s.Dropped != 2 || s.InFlight != 0 {
		t.Errorf("dropped %d in flight %d, want 2 and 0", s.Dropped, s.InFlight)
	}
}

func TestFaultExceptions(t *testing.T) {
	d := startDevice(t, DeviceConfig{Fault: Fault{Exceptions: []ExceptionRule{
		{Code: 4, Function: 3, Start: 100, Count: 10},
		{Code: 6, Function: 4},
	}}})
	c := dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 90, 11); exceptionCode(err) != modbus.ExServerDeviceFailure {
		t.Errorf("hr 90..100: %v, want exception 04", err)
	}
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 110, 10); err != nil {
		t.Errorf("hr 110..119: %v", err)
	}
	if _, err := c.readRegs(modbus.FuncReadInputRegisters, 0, 1); exceptionCode(err) != modbus.ExServerDeviceBusy {
		t.Errorf("ir 0: %v, want exception 06", err)
	}
	if s := d.Stats(); s.Exceptions != 2 {
		t.Errorf("exceptions %d, want 2", s.Exceptions)
	}
}

func TestFaultMalformed(t *testing.T) {
	d := startDevice(t, DeviceConfig{})
	q := modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, 0, 4)
	for _, tc := range []struct {
		how   Malformation
		check func(err error) bool
	}{
		{MalformedTxID, func(err error) bool { return err == errTid }},
		{MalformedGarbage, func(err error) bool { return errors.Is(err, modbus.ErrBadHeader) }},
		{MalformedByteCount, func(err error) bool {
			return errors.Is(err, modbus.ErrBadLength) || errors.Is(err, modbus.ErrTruncated)
		}},
		{MalformedFunction, func(err error) bool { return errors.Is(err, modbus.ErrMismatch) }},
		{MalformedLength, func(err error) bool {
			return errors.Is(err, modbus.ErrBadLength) || errors.Is(err, modbus.ErrTruncated)
		}},
	} {
		if err := d.SetFault(Fault{Malformed: tc.how}); err != nil {
			t.Fatal(err)
		}
		c := dial(t, d.Addr())
		_, err := c.do(q)
		if !tc.check(err) {
			t.Errorf("%s: %v", tc.how, err)
		}
		c.nc.Close()
	}
	// Every 3rd reply only.
	if err := d.SetFault(Fault{Malformed: MalformedTxID, MalformedEvery: 3}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, d.Addr())
	bad := 0
	for range 9 {
		if _, err := c.do(q); err == errTid {
			bad++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if bad != 3 {
		t.Errorf("%d of 9 replies malformed, want 3", bad)
	}
	if err := d.SetFault(Fault{Malformed: "nonsense"}); err == nil {
		t.Error("unknown malformation accepted")
	}
}

func TestFaultHang(t *testing.T) {
	d := startDevice(t, DeviceConfig{Fault: Fault{Hang: true}})
	c := dial(t, d.Addr())
	c.send(modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, 0, 1))
	_, err := c.recv(200 * time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("hung device: %v, want a client timeout", err)
	}
	eventually(t, "request counted", func() bool { return d.Stats().Requests == 1 })
	if s := d.Stats(); s.InFlight != 1 {
		t.Errorf("in flight %d, want 1 (never answered)", s.InFlight)
	}
	c.nc.Close()
	eventually(t, "connection gone", func() bool { s := d.Stats(); return s.Open == 0 && s.InFlight == 0 })
	// Recovery: the same connection style works again.
	if err := d.ClearFault(); err != nil {
		t.Fatal(err)
	}
	c = dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestFaultSmallBlocks(t *testing.T) {
	d := startDevice(t, DeviceConfig{Fault: Fault{MaxBlock: 32, MaxBits: 8}})
	c := dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, holdingCount-1, 2); exceptionCode(err) != modbus.ExIllegalDataAddress {
		t.Errorf("past the holding table: %v, want exception 02", err)
	}
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 100, 33); exceptionCode(err) != modbus.ExIllegalDataValue {
		t.Errorf("33 registers: %v, want exception 03", err)
	}
	if _, err := c.readRegs(modbus.FuncReadInputRegisters, 100, 32); err != nil {
		t.Errorf("32 registers: %v", err)
	}
	if _, err := c.do(modbus.AppendReadRequest(nil, modbus.FuncReadCoils, 0, 9)); exceptionCode(err) != modbus.ExIllegalDataValue {
		t.Errorf("9 coils: %v, want exception 03", err)
	}
}

func TestFaultDownAndRecover(t *testing.T) {
	d := startDevice(t, DeviceConfig{})
	addr := d.Addr()
	c := dial(t, addr)
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.SetFault(Fault{Down: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.recv(5 * time.Second); err == nil {
		t.Error("open connection survived going down")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a down device: %v, want connection refused", err)
	}
	if err := d.ClearFault(); err != nil {
		t.Fatal(err)
	}
	if d.Addr() != addr {
		t.Errorf("came back on %s, was %s", d.Addr(), addr)
	}
	c = dial(t, addr)
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestAccountingGaps(t *testing.T) {
	clk := NewManualClock(t0)
	d := startDevice(t, DeviceConfig{Clock: clk})
	c := dial(t, d.Addr())
	gaps := []time.Duration{30 * time.Millisecond, 25 * time.Millisecond, 400 * time.Millisecond, 30 * time.Millisecond}
	if s := d.Stats(); s.MinGap != -1 {
		t.Errorf("min gap %s before any request", s.MinGap)
	}
	for i := range len(gaps) + 1 {
		if i > 0 {
			clk.Advance(gaps[i-1])
		}
		if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 2); err != nil {
			t.Fatal(err)
		}
	}
	s := d.Stats()
	if s.MinGap != 25*time.Millisecond {
		t.Errorf("min gap %s, want 25ms", s.MinGap)
	}
	want := map[time.Duration]uint64{50 * time.Millisecond: 3, 500 * time.Millisecond: 1}
	var total uint64
	for _, b := range s.Gaps {
		total += b.Count
		if b.Count != want[b.Le] {
			t.Errorf("bucket ≤%s has %d, want %d", b.Le, b.Count, want[b.Le])
		}
	}
	if total != 4 || s.MaxInFlight != 1 || s.Requests != 5 || s.BytesIn != 5*12 || s.BytesOut != 5*(9+4) {
		t.Errorf("stats %+v", s)
	}
	d.ResetStats()
	if s := d.Stats(); s.Requests != 0 || s.MinGap != -1 || s.Open != 1 {
		t.Errorf("after reset %+v", s)
	}
}

func TestAccountingInFlight(t *testing.T) {
	// A slow device makes pipelined and parallel requests overlap.
	d := startDevice(t, DeviceConfig{Fault: Fault{Delay: 150 * time.Millisecond}})
	c := dial(t, d.Addr())
	for range 4 {
		c.send(modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, 0, 1))
	}
	c2 := dial(t, d.Addr())
	c2.send(modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, 0, 1))
	eventually(t, "5 requests arrived", func() bool { return d.Stats().Requests == 5 })
	if s := d.Stats(); s.InFlight != 5 || s.MaxInFlight != 5 {
		t.Errorf("in flight %d max %d, want 5 and 5", s.InFlight, s.MaxInFlight)
	}
	for range 4 {
		if _, err := c.recv(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c2.recv(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all answered", func() bool { return d.Stats().InFlight == 0 })
	// One at a time: at most one in flight.
	d.ResetStats()
	if err := d.ClearFault(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if s := d.Stats(); s.MaxInFlight != 1 || s.Requests != 10 {
		t.Errorf("sequential client: max in flight %d over %d requests", s.MaxInFlight, s.Requests)
	}
}

func TestCloseReleasesPort(t *testing.T) {
	d := NewDevice(DeviceConfig{Name: "x"})
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr := d.Addr()
	c := dial(t, addr)
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := c.recv(5 * time.Second); err == nil {
		t.Error("connection open after Close")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
	if err := d.Start(t.Context()); err == nil {
		t.Error("restart of a closed device accepted")
	}
}

func TestIdleTimeoutAndSpeed(t *testing.T) {
	clk := NewManualClock(t0)
	d := startDevice(t, DeviceConfig{Clock: clk, Speed: 60, IdleTimeout: 100 * time.Millisecond})
	clk.Advance(time.Second)
	if v := d.Values(); v.SimTime != time.Minute {
		t.Errorf("speed 60: %s simulated after 1 s", v.SimTime)
	}
	c := dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 7, 1); err != nil {
		t.Fatal(err)
	}
	// The device closes a connection that stays silent past its idle timeout.
	if _, err := c.recv(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want EOF", err)
	}
}

// TestRandomRequests sends random PDUs behind valid headers: every one gets
// an answer for its transaction, and garbage headers only close the connection.
func TestRandomRequests(t *testing.T) {
	d := startDevice(t, DeviceConfig{Bench: 100})
	c := dial(t, d.Addr())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		pdu := make([]byte, 1+rng.IntN(12))
		for j := range pdu {
			pdu[j] = byte(rng.Uint32())
		}
		if i%3 == 0 {
			pdu[0] = byte(1 + rng.IntN(16)) // mostly known functions
		}
		tid := c.send(pdu)
		a, err := c.recv(5 * time.Second)
		if err != nil || a.Transaction != tid {
			t.Fatalf("request % x: %v", pdu, err)
		}
		var r modbus.Response
		if err := r.Decode(a.PDU); err != nil {
			t.Fatalf("request % x: reply % x does not decode: %v", pdu, a.PDU, err)
		}
	}
	if _, err := c.nc.Write([]byte{0, 1, 0xde, 0xad, 0, 6, 1, 3, 0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.recv(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("bad protocol id: %v, want the connection closed", err)
	}
	c = dial(t, d.Addr())
	if _, err := c.readRegs(modbus.FuncReadHoldingRegisters, 0, 1); err != nil {
		t.Error(err)
	}
}

package sim

import (
	"testing"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

// BenchmarkServeRead125 measures round trips of 125-register reads from a
// bench device over loopback, one request at a time, as the acquisition
// engine with max in-flight 1 does. Allocations include the server's.
func BenchmarkServeRead125(b *testing.B) {
	d := startDevice(b, DeviceConfig{Bench: 10000})
	c := dial(b, d.Addr())
	var q modbus.Request
	var r modbus.Response
	pdus := make([][]byte, 80)
	for i := range pdus {
		pdus[i] = modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, uint16(BenchBase+125*i), 125)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pdu := pdus[i%len(pdus)]
		tid := c.send(pdu)
		a, err := c.recv(5 * time.Second)
		if err != nil || a.Transaction != tid {
			b.Fatalf("reply %d: %v", i, err)
		}
		if err := q.Decode(pdu); err != nil {
			b.Fatal(err)
		}
		if err := r.DecodeFor(&q, a.PDU); err != nil || len(r.Data) != 250 {
			b.Fatalf("reply %d: %v", i, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkServeReadMachine125 reads the machine's typed block (served
// straight from the image) while its clock moves: the model advances at
// most once per 100 ms step, not per request.
func BenchmarkServeReadMachine125(b *testing.B) {
	d := startDevice(b, DeviceConfig{})
	c := dial(b, d.Addr())
	pdu := modbus.AppendReadRequest(nil, modbus.FuncReadHoldingRegisters, 100, 125)
	b.ReportAllocs()
	for b.Loop() {
		tid := c.send(pdu)
		if a, err := c.recv(5 * time.Second); err != nil || a.Transaction != tid {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkMachineStep is the cost of one simulated step.
func BenchmarkMachineStep(b *testing.B) {
	m := NewMachine(MachineConfig{Seed: 1})
	for b.Loop() {
		m.Step()
	}
}

// BenchmarkEncodeImage is the cost of re-encoding a device's image after a step.
func BenchmarkEncodeImage(b *testing.B) {
	m := NewMachine(MachineConfig{Seed: 1})
	im := newImage(0)
	v := m.Values()
	b.ReportAllocs()
	for b.Loop() {
		im.encode(&v)
	}
}

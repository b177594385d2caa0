package modbus

import (
	"bufio"
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/model"
)

// startLibmodbus builds scripts/libmodbus-server.c and starts it on a free
// loopback port. It skips the test when gcc or libmodbus-dev is missing.
func startLibmodbus(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: install it (apt-get install -y gcc) to run the libmodbus interop test")
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libmodbus").Output()
	if err != nil {
		t.Skip("libmodbus not found by pkg-config: install libmodbus-dev and pkg-config (apt-get install -y libmodbus-dev pkg-config) to run the libmodbus interop test")
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "..", "..", "..", "scripts", "libmodbus-server.c")
	bin := filepath.Join(t.TempDir(), "libmodbus-server")
	args := append([]string{"-O2", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("build libmodbus server: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "0")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the server exits when stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		t.Fatalf("libmodbus server did not start: %q %v", line, err)
	}
	return "tcp://127.0.0.1:" + port
}

func TestLibmodbusInterop(t *testing.T) {
	ep := startLibmodbus(t)
	dev := driver.DeviceSpec{Name: "libmodbus", Endpoint: ep, Timeout: 2 * time.Second}
	c := dial(t, ep, 2*time.Second)
	ctx := context.Background()
	res := func(addr string, typ model.Type, length int, bo, wo string) driver.Point {
		t.Helper()
		p, err := Driver{}.Resolve(dev, driver.TagSpec{Name: addr, Address: addr, Type: typ, Length: length, ByteOrder: bo, WordOrder: wo})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Read the whole typed area in one block, as the engine would, and
	// decode every tag from it.
	block, err := c.Read(ctx, Space(1, tableHR), 0, 47, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr   string
		typ    model.Type
		length int
		bo, wo string
		want   model.Value
	}{
		{"hr:0", model.Int16, 0, "", "", model.IntValue(model.Int16, -12345)},
		{"40002", model.Uint16, 0, "", "", model.UintValue(model.Uint16, 54321)},
		{"hr:2", model.Int32, 0, "", "big", model.IntValue(model.Int32, -123456789)},
		{"hr:4", model.Int32, 0, "", "little", model.IntValue(model.Int32, -123456789)},
		{"hr:6", model.Uint32, 0, "", "big", model.UintValue(model.Uint32, 3000000000)},
		{"hr:8", model.Uint32, 0, "", "little", model.UintValue(model.Uint32, 3000000000)},
		{"hr:10", model.Float32, 0, "", "big", model.FloatValue(model.Float32, float64(float32(3.14159)))},
		{"hr:12", model.Float32, 0, "", "little", model.FloatValue(model.Float32, float64(float32(3.14159)))},
		{"hr:14", model.Int64, 0, "", "big", model.IntValue(model.Int64, -1234567890123456789)},
		{"hr:18", model.Int64, 0, "", "little", model.IntValue(model.Int64, -1234567890123456789)},
		{"hr:22", model.Uint64, 0, "", "big", model.UintValue(model.Uint64, 12345678901234567890)},
		{"hr:26", model.Uint64, 0, "", "little", model.UintValue(model.Uint64, 12345678901234567890)},
		{"hr:30", model.Float64, 0, "", "big", model.FloatValue(model.Float64, -2.718281828459045)},
		{"hr:34", model.Float64, 0, "", "little", model.FloatValue(model.Float64, -2.718281828459045)},
		{"hr:38.0", model.Bool, 0, "", "", model.BoolValue(true)},
		{"hr:38.2", model.Bool, 0, "", "", model.BoolValue(false)},
		{"hr:38.15", model.Bool, 0, "", "", model.BoolValue(true)},
		{"hr:38.14", model.Bool, 0, "", "", model.BoolValue(false)},
		{"hr:39", model.Uint8, 0, "", "", model.UintValue(model.Uint8, 246)},
		{"hr:39", model.Int8, 0, "", "", model.IntValue(model.Int8, -10)},
		{"hr:40", model.String, 10, "", "", model.StringValue("libmodbus")},
		{"hr:45", model.Float32, 0, "little", "big", model.FloatValue(model.Float32, -0.5)},
	}
	for _, tc := range cases {
		p := res(tc.addr, tc.typ, tc.length, tc.bo, tc.wo)
		v, err := p.Codec.Decode(block, p.Start)
		if err != nil || v != tc.want {
			t.Errorf("%s %s word order %q: %v (%v), want %v", tc.addr, tc.typ, tc.wo, v, err, tc.want)
		}
	}
	bits := []uint{0, 1, 6, 7, 8, 10, 13, 15}
	for b := range uint(16) {
		p := res("hr:38."+strconv.Itoa(int(b)), model.Bool, 0, "", "")
		v, _ := p.Codec.Decode(block, p.Start)
		want := false
		for _, x := range bits {
			want = want || x == b
		}
		if v.Bool() != want {
			t.Errorf("hr:38.%d = %v", b, v)
		}
	}

	// Input registers, coils and discrete inputs.
	irb, err := c.Read(ctx, Space(1, tableIR), 0, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if got := int(irb[2*i])<<8 | int(irb[2*i+1]); got != 1000+i {
			t.Fatalf("ir %d = %d", i, got)
		}
	}
	for _, tb := range []struct {
		table uint32
		mod   int
	}{{tableCoil, 3}, {tableDI, 5}} {
		b, err := c.Read(ctx, Space(1, tb.table), 0, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			p := res(map[uint32]string{tableCoil: "coil:", tableDI: "di:"}[tb.table]+strconv.Itoa(i), model.Bool, 0, "", "")
			v, _ := p.Codec.Decode(b, p.Start)
			if v.Bool() != (i%tb.mod == 0) {
				t.Fatalf("%s %d = %v", tableNames[tb.table], i, v)
			}
		}
	}

	// Writes: single coil (FC 5), multiple coils (FC 15, via the codec),
	// single register (FC 6), multiple registers (FC 16), read back.
	writes := []struct {
		addr   string
		typ    model.Type
		length int
		wo     string
		v      model.Value
	}{
		{"coil:150", model.Bool, 0, "", model.BoolValue(true)},
		{"00152", model.Bool, 0, "", model.BoolValue(true)},
		{"hr:100", model.Int16, 0, "", model.IntValue(model.Int16, -2)},
		{"hr:101", model.Float32, 0, "little", model.FloatValue(model.Float32, 1.25)},
		{"hr:103", model.Float64, 0, "", model.FloatValue(model.Float64, math.E)},
		{"hr:107", model.String, 7, "", model.StringValue("written")},
		{"hr:111.5", model.Bool, 0, "", model.BoolValue(true)},
		{"hr:112", model.Uint64, 0, "little", model.UintValue(model.Uint64, 1<<63+5)},
	}
	for _, w := range writes {
		p := res(w.addr, w.typ, w.length, "", w.wo)
		if err := c.Write(ctx, p, w.v); err != nil {
			t.Fatalf("write %s: %v", w.addr, err)
		}
		if got := readPoint(t, c, p); got != w.v {
			t.Errorf("%s: read back %v, want %v", w.addr, got, w.v)
		}
	}
	cb, err := c.Read(ctx, Space(1, tableCoil), 148, 6, nil)
	if err != nil || cb[0] != 0b001100 {
		t.Errorf("coils 148..153: %08b %v (coils 150 and 151 on, neighbours off)", cb, err)
	}

	// Block writes: FC 15 and FC 16 through the Conn's low-level methods.
	if err := c.WriteCoils(ctx, 1, 160, 10, []byte{0b10100101, 0b11}); err != nil {
		t.Fatal(err)
	}
	if cb, err := c.Read(ctx, Space(1, tableCoil), 160, 12, nil); err != nil || cb[0] != 0b10100101 || cb[1] != 0b0011 {
		t.Errorf("coils 160..171 after FC 15: %08b %v", cb, err)
	}
	regs := []byte{0, 1, 0, 2, 0xFF, 0xFF}
	if err := c.WriteRegisters(ctx, 1, 150, regs); err != nil {
		t.Fatal(err)
	}
	if rb, err := c.Read(ctx, Space(1, tableHR), 150, 3, nil); err != nil || string(rb) != string(regs) {
		t.Errorf("hr 150..152 after FC 16: % X %v", rb, err)
	}

	// libmodbus 3.1 has no FC 43/14 (exception 01) but answers FC 17,
	// report server id: id 180, run on, "LMB" and its version.
	id, err := c.Identify(ctx)
	if err != nil {
		t.Fatalf("identify: %v", err)
	}
	if !strings.HasPrefix(id.Product, "LMB3.") || id.Extra["server_id"] != "180" || id.Extra["run"] != "on" || id.Extra["source"] != "fc17" {
		t.Fatalf("libmodbus identity from FC 17: %+v", id)
	}
	t.Logf("libmodbus identity: %+v", id)
}

package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// BenchmarkParse10kTags loads a config of one device with 10,000 tags,
// the size of a large line.
func BenchmarkParse10kTags(b *testing.B) {
	m := Machine{Name: "m1", Device: "plc"}
	for i := 0; i < 10000; i++ {
		m.Tags = append(m.Tags, Tag{Name: fmt.Sprintf("t%d", i), Address: fmt.Sprintf("hr:%d", i), Type: "uint16", Unit: "rpm"})
	}
	c := &Config{Version: 1, Plant: Plant{Enterprise: "acme", Sites: []Site{{Name: "s", Areas: []Area{{Name: "a",
		Lines: []Line{{Name: "l", Machines: []Machine{m}}}}}}}},
		Devices: []Device{{Name: "plc", Driver: "testbus", Endpoint: "tcp://127.0.0.1:502"}}}
	var buf bytes.Buffer
	if err := WriteYAML(&buf, c); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse("big.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// plantConfig builds a valid config of devices devices, each feeding one
// machine of perDev tags, spread over lines of ten machines: the shape of
// a large plant, built in code as ImportCSV would.
func plantConfig(devices, perDev int) *Config {
	c := &Config{Version: 1, Plant: Plant{Enterprise: "acme"}}
	types := []string{"uint16", "int16", "float32", "bool"}
	area := Area{Name: "press"}
	for d := 0; d < devices; d++ {
		dev := fmt.Sprintf("plc%d", d)
		c.Devices = append(c.Devices, Device{Name: dev, Driver: "testbus", Endpoint: fmt.Sprintf("tcp://10.0.%d.%d:502", d/250, d%250+1)})
		m := Machine{Name: fmt.Sprintf("m%d", d), Device: dev, Tags: make([]Tag, perDev)}
		reg := 0
		for i := range m.Tags {
			t := &m.Tags[i]
			t.Name = fmt.Sprintf("tag_%d", i)
			t.Type = types[i%len(types)]
			switch t.Type {
			case "bool":
				t.Address = fmt.Sprintf("hr:%d.%d", reg, i%16)
				reg++
			case "float32":
				t.Address = fmt.Sprintf("hr:%d", reg)
				reg += 2
			default:
				t.Address = fmt.Sprintf("hr:%d", reg)
				reg++
			}
			if i%10 == 0 {
				t.Scale = &Scale{Gain: 0.1}
				t.Deadband = 0.5
			}
		}
		if d%10 == 0 {
			area.Lines = append(area.Lines, Line{Name: fmt.Sprintf("line%d", d/10)})
		}
		l := &area.Lines[len(area.Lines)-1]
		l.Machines = append(l.Machines, m)
	}
	c.Plant.Sites = []Site{{Name: "plant1", Areas: []Area{area}}}
	return c
}

// BenchmarkValidate300k runs Defaults and Validate on 100 devices of 3,000
// tags each, as built in code (no Path set yet), and reports the MB
// allocated per run: that garbage used to set the process's peak RSS
// before the engine started. 300k tag paths (~14 MB) are kept, not garbage.
func BenchmarkValidate300k(b *testing.B) {
	c := plantConfig(100, 3000)
	b.ReportAllocs()
	var total uint64
	var before, after runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		walkMachines(c, func(m *Machine, _ string, _ []string) {
			for j := range m.Tags {
				m.Tags[j].Path = ""
			}
		})
		runtime.ReadMemStats(&before)
		b.StartTimer()
		Defaults(c)
		if err := Validate(c); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		total += after.TotalAlloc - before.TotalAlloc
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N)/(1<<20), "MB/op")
}

// writePlantYAML writes plantConfig(devices, perDev) as a YAML file.
func writePlantYAML(tb testing.TB, devices, perDev int) (string, int64) {
	tb.Helper()
	c := plantConfig(devices, perDev)
	var buf bytes.Buffer
	if err := WriteYAML(&buf, c); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "plant.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, int64(buf.Len())
}

func benchLoad(b *testing.B, devices, perDev int) {
	path, size := writePlantYAML(b, devices, perDev)
	runtime.GC()
	b.SetBytes(size)
	b.ReportAllocs()
	peak := watchHeap()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(c.Plant.Sites[0].Areas[0].Lines[0].Machines[0].Tags); n != perDev {
			b.Fatalf("first machine has %d tags, want %d", n, perDev)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MB/op")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
}

// watchHeap samples the bytes of live and not yet swept heap objects
// every 10ms until the returned function is called, which returns the
// highest sample.
func watchHeap() func() uint64 {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				res <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}

// BenchmarkLoad10k loads a 10,000-tag file (10 devices of 1,000 tags).
func BenchmarkLoad10k(b *testing.B) { benchLoad(b, 10, 1000) }

// BenchmarkLoad300k loads a 300,000-tag file (~20 MB): plant scale.
func BenchmarkLoad300k(b *testing.B) {
	if testing.Short() {
		b.Skip("plant-scale load in -short mode")
	}
	benchLoad(b, 100, 3000)
}

package config

import (
	"bytes"
	"fmt"
	"testing"
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

package config

import (
	"fmt"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
)

// Defaults of the MTConnect agent.
const (
	DefaultMTConnectListen = "127.0.0.1:5000"
	DefaultMTConnectBuffer = 131072
	MinMTConnectBuffer     = 8
	MaxMTConnectBuffer     = 1 << 24
)

// MTConnectAgent configures otlink's MTConnect agent, which serves the
// plant's machines as MTConnect devices (docs/mtconnect.md).
type MTConnectAgent struct {
	Enabled bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Listen is the agent's HTTP address; "" = DefaultMTConnectListen.
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"`
	// BufferSize is the number of observations the agent keeps for
	// /sample; 0 = DefaultMTConnectBuffer.
	BufferSize int `yaml:"buffer_size,omitempty" json:"buffer_size,omitempty"`
	// Devices lists the machines served, by name or by full path
	// (acme/taichung/machining/line1/cnc01); empty = every machine.
	Devices []string `yaml:"devices,omitempty" json:"devices,omitempty"`
}

// ListenAddr is the address to listen on, with the default applied.
func (m MTConnectAgent) ListenAddr() string {
	if m.Listen == "" {
		return DefaultMTConnectListen
	}
	return m.Listen
}

// Buffer is the buffer size, with the default applied.
func (m MTConnectAgent) Buffer() int {
	if m.BufferSize == 0 {
		return DefaultMTConnectBuffer
	}
	return m.BufferSize
}

// checkMTConnect validates the mtconnect section. It is checked whether or
// not the agent is enabled, so that turning it on later does not reveal
// old mistakes.
func (v *validator) checkMTConnect(c *Config) {
	m := &c.MTConnect
	if m.Listen != "" {
		if err := checkListen(m.Listen); err != nil {
			v.add(errcode.MTConnectConfig, "$.mtconnect.listen", "e.g. 127.0.0.1:5000", "mtconnect listen %q: %v", m.Listen, err)
		}
	}
	if m.BufferSize != 0 && (m.BufferSize < MinMTConnectBuffer || m.BufferSize > MaxMTConnectBuffer) {
		v.add(errcode.MTConnectConfig, "$.mtconnect.buffer_size", fmt.Sprintf("0 takes the default %d", DefaultMTConnectBuffer),
			"mtconnect buffer_size %d is outside %d..%d", m.BufferSize, MinMTConnectBuffer, MaxMTConnectBuffer)
	}
	if len(m.Devices) == 0 {
		return
	}
	names := map[string]int{} // machine name -> count
	paths := map[string]bool{}
	walkMachines(c, func(mc *Machine, _ string, segs []string) {
		names[mc.Name]++
		paths[strings.Join(append([]string{c.Plant.Enterprise}, segs...), "/")] = true
	})
	seen := map[string]bool{}
	var all []string
	for n := range names {
		all = append(all, n)
	}
	for i, d := range m.Devices {
		p := fmt.Sprintf("$.mtconnect.devices[%d]", i)
		switch {
		case d == "":
			v.add(errcode.MTConnectConfig, p, "write a machine name", "mtconnect device %d is empty", i+1)
		case seen[d]:
			v.add(errcode.MTConnectConfig, p, "list each machine once", "mtconnect device %q is listed twice", d)
		case strings.Contains(d, "/"):
			if !paths[d] {
				v.add(errcode.MTConnectConfig, p, "write the machine's full path: enterprise/site/area/line[/cell]/machine", "mtconnect device %q is not a machine of the plant", d)
			}
		case names[d] == 0:
			v.add(errcode.MTConnectConfig, p, choiceHint(d, all, "machines"), "mtconnect device %q is not a machine of the plant", d)
		case names[d] > 1:
			v.add(errcode.MTConnectConfig, p, "write the machine's full path instead", "mtconnect device %q names %d machines", d, names[d])
		}
		seen[d] = true
	}
}

package config

import (
	"fmt"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/errcode"
)

// checkMonitor validates the monitor section. Whether an interface exists
// is a property of the host, checked when the monitor starts.
func (v *validator) checkMonitor(c *Config) {
	m := &c.Monitor
	seen := map[string]int{}
	for i, ifc := range m.Interfaces {
		p := fmt.Sprintf("$.monitor.interfaces[%d]", i)
		if ifc.Name == "" {
			v.add(errcode.MonitorConfig, p, "write the interface name, e.g. name: eth1", "monitor interface %d has no name", i+1)
			continue
		}
		if j, ok := seen[ifc.Name]; ok {
			v.add(errcode.MonitorConfig, p+".name", "list each interface once; combine filters with 'or'", "monitor interface %q is listed twice (also entry %d)", ifc.Name, j+1)
		}
		seen[ifc.Name] = i
		if _, err := capture.ParseFilter(ifc.BPF); err != nil {
			v.add(errcode.MonitorConfig, p+".bpf", "use the tcpdump filter subset in docs/monitor.md", "monitor interface %q: filter %q: %v", ifc.Name, ifc.BPF, err)
		}
	}
	if m.Learn < 0 {
		v.add(errcode.MonitorConfig, "$.monitor.learn", "", "monitor learn %s must not be negative", m.Learn)
	}
	if m.Flow.MaxFlows < 0 {
		v.add(errcode.MonitorConfig, "$.monitor.flow.max_flows", "0 takes the default", "monitor flow max_flows %d must not be negative", m.Flow.MaxFlows)
	}
	if m.Flow.Idle < 0 {
		v.add(errcode.MonitorConfig, "$.monitor.flow.idle", "0 takes the default", "monitor flow idle %s must not be negative", m.Flow.Idle)
	}
}

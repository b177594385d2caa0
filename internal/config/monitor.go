package config

import (
	"fmt"
	"net/netip"

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
	zones := map[string]int{}
	for i, z := range m.Zones {
		p := fmt.Sprintf("$.monitor.zones[%d]", i)
		if z.Name == "" {
			v.add(errcode.ConfigMissing, p, "write the zone's name, e.g. name: cell-1", "monitor zone %d has no name", i+1)
		} else if j, dup := zones[z.Name]; dup {
			v.add(errcode.ConfigDuplicateName, p+".name", "", "monitor zone %q is defined twice (also entry %d)", z.Name, j+1)
		} else {
			zones[z.Name] = i
		}
		if len(z.Networks) == 0 {
			v.add(errcode.ConfigMissing, p, "list its address ranges, e.g. networks: [10.1.2.0/24]", "monitor zone %q has no networks", z.Name)
		}
		for k, n := range z.Networks {
			if _, err := netip.ParsePrefix(n); err != nil {
				v.add(errcode.ConfigBadNetwork, fmt.Sprintf("%s.networks[%d]", p, k), "write a CIDR prefix such as 10.1.2.0/24 or fd00:1::/64", "monitor zone %q: %q is not a network: %v", z.Name, n, err)
			}
		}
	}
	if m.Flow.Idle < 0 {
		v.add(errcode.MonitorConfig, "$.monitor.flow.idle", "0 takes the default", "monitor flow idle %s must not be negative", m.Flow.Idle)
	}
}

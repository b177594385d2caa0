package asset

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/otlink/otlink/internal/config"
)

// FromConfig returns the devices of an otlink config as configured assets:
// the host of each endpoint (and backup endpoint) that is an IP address.
// Host names are kept as the asset's name only (the inventory never
// resolves names); a device without an IP endpoint is listed with IP "".
func FromConfig(cfg *config.Config) []Asset {
	if cfg == nil {
		return nil
	}
	var out []Asset
	for _, d := range cfg.Devices {
		n := 0
		for _, ep := range []string{d.Endpoint, d.Backup} {
			ip, ok := endpointIP(ep)
			if !ok {
				continue
			}
			out = append(out, Asset{IP: ip.String(), Name: d.Name, Driver: d.Driver, Configured: true, Role: Unknown})
			n++
		}
		if n == 0 {
			out = append(out, Asset{Name: d.Name, Driver: d.Driver, Configured: true, Role: Unknown})
		}
	}
	return out
}

// endpointIP extracts the IP of "tcp://10.0.0.5:502", "10.0.0.5:502",
// "[fd00::5]:4840", "opc.tcp://10.0.0.5:4840/path" or a bare address.
func endpointIP(ep string) (netip.Addr, bool) {
	ep = strings.TrimSpace(ep)
	if ep == "" {
		return netip.Addr{}, false
	}
	host := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return netip.Addr{}, false
		}
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(ep); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

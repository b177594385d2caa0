package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// OPCUAServer configures otlink's OPC UA server (docs/opcua-server.md).
// Zero values take the defaults of OPCUADefaults: secure policies only,
// no anonymous access, users logged in with their otlink password.
type OPCUAServer struct {
	Enabled bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Listen is host:port; default 127.0.0.1:4840. Beyond loopback only
	// with a secure policy.
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"`
	// Hostname is the host put in the endpoint URL clients use; default
	// the listen host, or the machine's name when listening on all
	// addresses.
	Hostname string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	// SecurityPolicies offered; default Basic256Sha256,
	// Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss. None only when listed.
	SecurityPolicies []string `yaml:"security_policies,omitempty" json:"security_policies,omitempty"`
	// SecurityModes of the secure policies; default Sign, SignAndEncrypt.
	SecurityModes []string `yaml:"security_modes,omitempty" json:"security_modes,omitempty"`
	// Anonymous lets clients in without a user (read only). Off by default.
	Anonymous bool `yaml:"anonymous,omitempty" json:"anonymous,omitempty"`
	// MaxSessions bounds the open sessions; default 50.
	MaxSessions int `yaml:"max_sessions,omitempty" json:"max_sessions,omitempty"`
	// SampleInterval is how often values are taken from the engine for
	// reads and subscriptions; default 100ms.
	SampleInterval Duration `yaml:"sample_interval,omitempty" json:"sample_interval,omitempty"`
}

// OPC UA security policies and modes, as written in the config.
const (
	UAPolicyNone                = "None"
	UAPolicyBasic256Sha256      = "Basic256Sha256"
	UAPolicyAes128Sha256RsaOaep = "Aes128_Sha256_RsaOaep"
	UAPolicyAes256Sha256RsaPss  = "Aes256_Sha256_RsaPss"
	UAModeSign                  = "Sign"
	UAModeSignAndEncrypt        = "SignAndEncrypt"
)

// Defaults of the opcua section.
const (
	DefaultOPCUAListen      = "127.0.0.1:4840"
	DefaultOPCUAMaxSessions = 50
	DefaultOPCUASample      = Duration(100 * time.Millisecond)
)

var (
	uaPolicies = []string{UAPolicyNone, UAPolicyBasic256Sha256, UAPolicyAes128Sha256RsaOaep, UAPolicyAes256Sha256RsaPss}
	uaModes    = []string{UAModeSign, UAModeSignAndEncrypt}
)

// OPCUADefaults returns o with its zero values replaced by the defaults.
// Load does not call it, so a written file stays as written; the server
// calls it when it starts.
func OPCUADefaults(o OPCUAServer) OPCUAServer {
	if o.Listen == "" {
		o.Listen = DefaultOPCUAListen
	}
	if len(o.SecurityPolicies) == 0 {
		o.SecurityPolicies = []string{UAPolicyBasic256Sha256, UAPolicyAes128Sha256RsaOaep, UAPolicyAes256Sha256RsaPss}
	}
	if len(o.SecurityModes) == 0 {
		o.SecurityModes = []string{UAModeSign, UAModeSignAndEncrypt}
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = DefaultOPCUAMaxSessions
	}
	if o.SampleInterval == 0 {
		o.SampleInterval = DefaultOPCUASample
	}
	return o
}

// checkOPCUA validates the opcua section. It is checked even when off, so
// that turning it on does not reveal old mistakes.
func (v *validator) checkOPCUA(c *Config) {
	o := OPCUADefaults(c.OPCUA)
	const p = "$.opcua"
	host := ""
	if err := checkListen(o.Listen); err != nil {
		v.add(errcode.UAServerConfig, p+".listen", "e.g. 127.0.0.1:4840", "opcua listen %q: %v", o.Listen, err)
	} else {
		host, _, _ = net.SplitHostPort(o.Listen)
	}
	if o.Hostname != "" {
		if strings.ContainsAny(o.Hostname, "/: ") && net.ParseIP(o.Hostname) == nil {
			v.add(errcode.UAServerConfig, p+".hostname", "a host name or IP address, without scheme or port", "opcua hostname %q is not a host name", o.Hostname)
		} else if _, err := url.Parse("opc.tcp://" + o.Hostname + ":4840"); err != nil {
			v.add(errcode.UAServerConfig, p+".hostname", "a host name or IP address", "opcua hostname %q is not a host name", o.Hostname)
		}
	}
	secure := false
	seen := map[string]bool{}
	for i, pol := range o.SecurityPolicies {
		at := fmt.Sprintf("%s.security_policies[%d]", p, i)
		name, ok := canonical(pol, uaPolicies)
		switch {
		case !ok:
			v.add(errcode.UAServerConfig, at, choiceHint(pol, uaPolicies, "policies"), "opcua security policy %q is not supported", pol)
		case seen[name]:
			v.add(errcode.UAServerConfig, at, "list each policy once", "opcua security policy %s is listed twice", name)
		default:
			seen[name] = true
			secure = secure || name != UAPolicyNone
		}
	}
	seenMode := map[string]bool{}
	for i, m := range o.SecurityModes {
		at := fmt.Sprintf("%s.security_modes[%d]", p, i)
		name, ok := canonical(m, uaModes)
		switch {
		case !ok:
			v.add(errcode.UAServerConfig, at, "Sign or SignAndEncrypt (None is the policy None)", "opcua security mode %q is not supported", m)
		case seenMode[name]:
			v.add(errcode.UAServerConfig, at, "list each mode once", "opcua security mode %s is listed twice", name)
		default:
			seenMode[name] = true
		}
	}
	if !secure && host != "" && !isLoopbackHost(host) {
		v.add(errcode.UAServerConfig, p+".security_policies", "add Basic256Sha256, or listen on 127.0.0.1",
			"opcua listens on %s with security policy None only: anyone on the network could read and log in in clear text", o.Listen)
	}
	if o.MaxSessions < 0 || o.MaxSessions > 10000 {
		v.add(errcode.UAServerConfig, p+".max_sessions", "0 takes the default of 50", "opcua max_sessions %d: want 1..10000", o.MaxSessions)
	}
	if o.SampleInterval < Duration(10*time.Millisecond) || o.SampleInterval > Duration(time.Minute) {
		v.add(errcode.UAServerConfig, p+".sample_interval", "e.g. 100ms", "opcua sample_interval %s: want 10ms..1m", o.SampleInterval.D())
	}
}

// canonical finds s among names, ignoring case and the separators '_' and
// '-' (users write basic256sha256 or aes128-sha256-rsaoaep).
func canonical(s string, names []string) (string, bool) {
	norm := func(x string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(x))
	}
	for _, n := range names {
		if norm(n) == norm(s) {
			return n, true
		}
	}
	return "", false
}

// UAPolicy returns the configured policy name s in its canonical spelling.
func UAPolicy(s string) (string, bool) { return canonical(s, uaPolicies) }

// UAMode returns the configured mode name s in its canonical spelling.
func UAMode(s string) (string, bool) { return canonical(s, uaModes) }

// isLoopbackHost reports whether a listen host reaches only this machine.
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// OPCUAPort returns the port of a valid listen address.
func OPCUAPort(listen string) int {
	_, p, _ := net.SplitHostPort(listen)
	n, _ := strconv.Atoi(p)
	return n
}

package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

const opcuaBase = `version: 1
plant:
  enterprise: acme
  sites: []
devices: []
`

func opcuaProblems(t *testing.T, section string) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(opcuaBase+section))
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("not config errors: %v", err)
	}
	var out []string
	for _, p := range errs {
		if p.Code == errcode.UAServerConfig {
			out = append(out, p.Error())
		}
	}
	return out
}

func TestOPCUAConfig(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"defaults", "opcua: {enabled: true}\n", ""},
		{"spelling", "opcua: {enabled: true, security_policies: [basic256sha256, aes128-sha256-rsaoaep], security_modes: [signandencrypt]}\n", ""},
		{"none on loopback", "opcua: {enabled: true, security_policies: [None]}\n", ""},
		{"none on the network", "opcua: {enabled: true, listen: '0.0.0.0:4840', security_policies: [None]}\n", "policy None only"},
		{"none beside secure on the network", "opcua: {enabled: true, listen: '0.0.0.0:4840', security_policies: [None, Basic256Sha256]}\n", ""},
		{"unknown policy", "opcua: {enabled: true, security_policies: [Basic128Rsa15]}\n", "not supported"},
		{"unknown mode", "opcua: {enabled: true, security_modes: [None]}\n", "mode"},
		{"twice", "opcua: {enabled: true, security_policies: [Basic256Sha256, basic256sha256]}\n", "twice"},
		{"bad listen", "opcua: {enabled: true, listen: '4840'}\n", "listen"},
		{"bad hostname", "opcua: {enabled: true, hostname: 'opc.tcp://x'}\n", "hostname"},
		{"fast sampling", "opcua: {enabled: true, sample_interval: 1ms}\n", "sample_interval"},
	} {
		got := opcuaProblems(t, c.yaml)
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s: %v", c.name, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
			t.Errorf("%s: %v, want one problem with %q", c.name, got, c.want)
		}
	}
}

func TestOPCUADefaults(t *testing.T) {
	o := OPCUADefaults(OPCUAServer{Enabled: true})
	if o.Listen != "127.0.0.1:4840" || o.Anonymous || len(o.SecurityModes) != 2 || strings.Join(o.SecurityPolicies, ",") != "Basic256Sha256,Aes128_Sha256_RsaOaep,Aes256_Sha256_RsaPss" {
		t.Errorf("defaults %+v", o)
	}
}

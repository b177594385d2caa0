package config

import (
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

func TestMTConnectSection(t *testing.T) {
	base := `version: 1
plant:
  enterprise: acme
  sites:
    - name: tc
      areas:
        - name: mach
          lines:
            - name: l1
              machines:
                - name: cnc01
                  tags: []
                - name: cnc02
                  tags: []
devices: []
`
	ok := base + "mtconnect:\n  enabled: true\n  listen: 127.0.0.1:7878\n  buffer_size: 1024\n  devices: [cnc01, acme/tc/mach/l1/cnc02]\n"
	c, err := Parse("ok.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("valid mtconnect section: %v", err)
	}
	if c.MTConnect.ListenAddr() != "127.0.0.1:7878" || c.MTConnect.Buffer() != 1024 || len(c.MTConnect.Devices) != 2 {
		t.Fatalf("decoded %+v", c.MTConnect)
	}
	if (MTConnectAgent{}).ListenAddr() != DefaultMTConnectListen || (MTConnectAgent{}).Buffer() != DefaultMTConnectBuffer {
		t.Fatal("defaults")
	}
	for name, tail := range map[string]string{
		"listen":    "mtconnect:\n  listen: nowhere\n",
		"buffer":    "mtconnect:\n  buffer_size: 3\n",
		"device":    "mtconnect:\n  devices: [cnc99]\n",
		"path":      "mtconnect:\n  devices: [acme/tc/mach/l2/cnc01]\n",
		"twice":     "mtconnect:\n  devices: [cnc01, cnc01]\n",
		"empty dev": "mtconnect:\n  devices: ['']\n",
	} {
		_, err := Parse(name+".yaml", []byte(base+tail))
		if err == nil || !strings.Contains(err.Error(), errcode.MTConnectConfig.String()) {
			t.Errorf("%s: want %s, got %v", name, errcode.MTConnectConfig, err)
		}
	}
}

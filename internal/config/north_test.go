package config

import (
	_ "github.com/otlink/otlink/internal/driver/mqtt" // resolves the mqtt addresses
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

const northBase = "version: 1\nplant:\n  enterprise: acme\nnorth:\n"

func TestNorthValid(t *testing.T) {
	c, err := Parse("n.yaml", []byte(northBase+`  - name: uns
    broker: tcp://127.0.0.1:1883
    topic_prefix: plant/
    tags: ["acme/*/*/line1/*/*", "acme/s/a/l/m/temp"]
  - name: scada
    broker: ssl://broker.example:8883
    client_id: otlink-edge1
    username: otlink
    password_file: /etc/otlink/mqtt.pw
    tls: {ca: /etc/otlink/ca.pem, cert: /etc/otlink/c.pem, key: /etc/otlink/c.key}
    mode: sparkplug
    group: plant1
    edge_node: edge1
    qos: 1
    queue: /var/lib/otlink/q
    queue_max_mb: 64
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.North) != 2 {
		t.Fatalf("north %+v", c.North)
	}
	u, sp := c.North[0], c.North[1]
	if sp.Mode != NorthSparkplug || sp.Group != "plant1" || sp.TLS.Key != "/etc/otlink/c.key" || sp.QueueMaxMB != 64 {
		t.Fatalf("scada %+v", sp)
	}
	if got := u.QueueDir("/data"); got != filepath.Join("/data", "north", "uns") {
		t.Errorf("queue dir %s", got)
	}
	if sp.QueueDir("/data") != "/var/lib/otlink/q" {
		t.Errorf("queue dir %s", sp.QueueDir("/data"))
	}
	if !u.Matches("acme/s/a/line1/m/x") || !u.Matches("acme/s/a/l/m/temp") || u.Matches("acme/s/a/line2/m/x") || !sp.Matches("anything") {
		t.Error("tag globs")
	}
}

func TestNorthValidation(t *testing.T) {
	for _, c := range []struct {
		yaml string
		code errcode.Code
		want string
	}{
		{"  - name: a\n", errcode.ConfigMissing, "no broker"},
		{"  - broker: tcp://h:1883\n", errcode.ConfigMissing, "no name"},
		{"  - name: a b\n    broker: tcp://h:1883\n", errcode.ConfigInvalidName, "path segment"},
		{"  - name: a\n    broker: tcp://h:1883\n  - name: a\n    broker: tcp://h:1883\n", errcode.ConfigDuplicateName, "twice"},
		{"  - name: a\n    broker: h:1883\n", errcode.ConfigBadEndpoint, "broker"},
		{"  - name: a\n    broker: http://h:1883\n", errcode.ConfigBadEndpoint, "scheme"},
		{"  - name: a\n    broker: tcp://h:99999\n", errcode.ConfigBadEndpoint, "port"},
		{"  - name: a\n    broker: tcp://u:pw@h:1883\n", errcode.ConfigBadEndpoint, "credentials"},
		{"  - name: a\n    broker: tcp://h:1883\n    password: secret\n", errcode.ConfigUnknownKey, "password"},
		{"  - name: a\n    broker: tcp://h:1883\n    username: u\n    password_file: f\n    password_env: E\n", errcode.ConfigBadChoice, "not both"},
		{"  - name: a\n    broker: tcp://h:1883\n    password_env: E\n", errcode.ConfigMissing, "username"},
		{"  - name: a\n    broker: ssl://h:8883\n    tls: {cert: c.pem}\n", errcode.ConfigMissing, "cert and key"},
		{"  - name: a\n    broker: tcp://h:1883\n    mode: spb\n", errcode.ConfigBadChoice, "mode"},
		{"  - name: a\n    broker: tcp://h:1883\n    mode: sparkplug\n    group: g\n", errcode.ConfigMissing, "edge_node"},
		{"  - name: a\n    broker: tcp://h:1883\n    mode: sparkplug\n    group: g/1\n    edge_node: e\n", errcode.ConfigInvalidName, "Sparkplug id"},
		{"  - name: a\n    broker: tcp://h:1883\n    mode: sparkplug\n    group: g\n    edge_node: e\n    topic_prefix: x/\n", errcode.ConfigBadChoice, "topic_prefix"},
		{"  - name: a\n    broker: tcp://h:1883\n    group: g\n", errcode.ConfigBadChoice, "sparkplug"},
		{"  - name: a\n    broker: tcp://h:1883\n    qos: 2\n", errcode.ConfigOutOfRange, "qos"},
		{"  - name: a\n    broker: tcp://h:1883\n    queue_max_mb: -1\n", errcode.ConfigOutOfRange, "queue_max_mb"},
		{"  - name: a\n    broker: tcp://h:1883\n    tags: ['acme/[']\n", errcode.ConfigRetentionMatch, "glob"},
	} {
		_, err := Parse("n.yaml", []byte(northBase+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.code.String()) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s with %q", c.yaml, err, c.code, c.want)
		}
	}
}

// TestMQTTDevice checks an mqtt device through the config validator: the
// driver resolves json and sparkplug addresses, the same topic and path
// twice is a duplicate, and a wildcard topic is a bad address.
func TestMQTTDevice(t *testing.T) {
	const base = `version: 1
devices:
  - name: broker
    driver: mqtt
    endpoint: tcp://127.0.0.1:1883
    poll: [{name: fast, interval: 1s}]
  - name: spb
    driver: mqtt
    endpoint: ssl://127.0.0.1:8883
    options: {mode: sparkplug, host_id: scada1}
    poll: [{name: fast, interval: 1s}]
plant:
  enterprise: acme
  sites:
    - name: s
      areas:
        - name: a
          lines:
            - name: l
              machines:
                - name: press
                  device: broker
                  tags:
                    - {name: temp, address: "factory/press/temp#$.value#$.ts", type: float64}
                    - {name: state, address: factory/press/state, type: string, length: 32}
                    - {name: speed, address: "g/e/press/Speed", type: float32, device: spb}
`
	if _, err := Parse("m.yaml", []byte(base)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		extra string
		code  errcode.Code
	}{
		{`                    - {name: temp2, address: "factory/press/temp#$.value#$.ts", type: float64}` + "\n", errcode.ConfigDuplicateAddr},
		{`                    - {name: all, address: "factory/#", type: float64}` + "\n", errcode.ConfigBadAddress},
		{`                    - {name: nogroup, address: "g", type: float64, device: spb}` + "\n", errcode.ConfigBadAddress},
	} {
		_, err := Parse("m.yaml", []byte(base+c.extra))
		if err == nil || !strings.Contains(err.Error(), c.code.String()) {
			t.Errorf("%q: %v, want %s", c.extra, err, c.code)
		}
	}
	bad := strings.Replace(base, "tcp://127.0.0.1:1883", "http://127.0.0.1:1883", 1)
	if _, err := Parse("m.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), errcode.ConfigBadEndpoint.String()) {
		t.Errorf("http endpoint: %v", err)
	}
}

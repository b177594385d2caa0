package config

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strconv"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// North is one northbound publisher: an MQTT broker that receives the
// plant's samples as a unified namespace (UNS JSON) or from a Sparkplug B
// edge node (docs/north.md). Each publisher reads the bus through its own
// durable consumer and keeps a store-and-forward queue on disk, so neither
// a broker outage nor an otlink restart loses a sample.
type North struct {
	Name     string `yaml:"name" json:"name"`
	Broker   string `yaml:"broker" json:"broker"`                           // tcp://host:1883, ssl://host:8883, ws://, wss://
	ClientID string `yaml:"client_id,omitempty" json:"client_id,omitempty"` // default otlink-<name>
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// The password is never written in the config: it is read from a
	// file (mode 0600) or an environment variable.
	PasswordFile string   `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	PasswordEnv  string   `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	TLS          NorthTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	Mode         string   `yaml:"mode,omitempty" json:"mode,omitempty"`                 // uns (default) or sparkplug
	TopicPrefix  string   `yaml:"topic_prefix,omitempty" json:"topic_prefix,omitempty"` // uns: prepended to the tag path
	Group        string   `yaml:"group,omitempty" json:"group,omitempty"`               // sparkplug group id
	EdgeNode     string   `yaml:"edge_node,omitempty" json:"edge_node,omitempty"`       // sparkplug edge node id
	QoS          int      `yaml:"qos,omitempty" json:"qos,omitempty"`                   // 1 (the only level store-and-forward can confirm)
	Queue        string   `yaml:"queue,omitempty" json:"queue,omitempty"`               // queue folder; default DATA/north/<name>
	QueueMaxMB   int      `yaml:"queue_max_mb,omitempty" json:"queue_max_mb,omitempty"` // default 1024
	// Tags selects the tags published, by path.Match globs on the tag
	// path (as retention rules do); empty publishes every tag.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// NorthTLS are the PEM files for a TLS broker.
type NorthTLS struct {
	CA   string `yaml:"ca,omitempty" json:"ca,omitempty"`     // CA of the broker's certificate; default the system's
	Cert string `yaml:"cert,omitempty" json:"cert,omitempty"` // client certificate, with key
	Key  string `yaml:"key,omitempty" json:"key,omitempty"`
}

// North modes.
const (
	NorthUNS       = "uns"
	NorthSparkplug = "sparkplug"
)

// DefaultNorthQueueMB bounds a publisher's queue unless queue_max_mb says
// otherwise.
const DefaultNorthQueueMB = 1024

// QueueDir is the publisher's queue folder for the data folder data.
func (n North) QueueDir(data string) string {
	if n.Queue != "" {
		return n.Queue
	}
	return filepath.Join(data, "north", n.Name)
}

// Matches reports whether the publisher publishes the tag at path p.
func (n North) Matches(p string) bool {
	if len(n.Tags) == 0 {
		return true
	}
	for _, g := range n.Tags {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

func (v *validator) checkNorth(c *Config) {
	ns := newNames("north publisher")
	for i := range c.North {
		n := &c.North[i]
		l := loc{"$", "north", i}
		v.name(ns, l, n.Name)
		switch u, err := url.Parse(n.Broker); {
		case n.Broker == "":
			v.add(errcode.ConfigMissing, l.path(), "e.g. broker: tcp://broker:1883", "north %q has no broker", n.Name)
		case err != nil || u.Host == "":
			v.add(errcode.ConfigBadEndpoint, l.at("broker"), "e.g. tcp://broker:1883 or ssl://broker:8883", "north %q: broker %q is not a URL with a host", n.Name, n.Broker)
		default:
			switch u.Scheme {
			case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
			default:
				v.add(errcode.ConfigBadEndpoint, l.at("broker"), "tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://", "north %q: broker scheme %q is not supported", n.Name, u.Scheme)
			}
			if p := u.Port(); p != "" {
				if k, err := strconv.Atoi(p); err != nil || k < 1 || k > 65535 {
					v.add(errcode.ConfigBadEndpoint, l.at("broker"), "", "north %q: broker port %q is not in 1..65535", n.Name, p)
				}
			}
			if u.User != nil {
				v.add(errcode.ConfigBadEndpoint, l.at("broker"), "use username and password_file or password_env", "north %q: the broker URL must not hold credentials", n.Name)
			}
		}
		if n.PasswordFile != "" && n.PasswordEnv != "" {
			v.add(errcode.ConfigBadChoice, l.at("password_env"), "keep one of them", "north %q: give password_file or password_env, not both", n.Name)
		}
		if (n.PasswordFile != "" || n.PasswordEnv != "") && n.Username == "" {
			v.add(errcode.ConfigMissing, l.path(), "add username", "north %q has a password but no username", n.Name)
		}
		if (n.TLS.Cert == "") != (n.TLS.Key == "") {
			v.add(errcode.ConfigMissing, l.at("tls"), "give both cert and key", "north %q: tls cert and key go together", n.Name)
		}
		switch n.Mode {
		case NorthUNS, "":
			if n.Group != "" || n.EdgeNode != "" {
				v.add(errcode.ConfigBadChoice, l.at("mode"), "set mode: sparkplug, or remove group and edge_node", "north %q: group and edge_node apply to mode sparkplug", n.Name)
			}
		case NorthSparkplug:
			for _, f := range []struct{ key, val string }{{"group", n.Group}, {"edge_node", n.EdgeNode}} {
				switch {
				case f.val == "":
					v.add(errcode.ConfigMissing, l.path(), fmt.Sprintf("add %s: <id>", f.key), "north %q: mode sparkplug needs %s", n.Name, f.key)
				case !sparkplug.ValidID(f.val):
					v.add(errcode.ConfigInvalidName, l.at(f.key), "Sparkplug ids must not contain / + #", "north %q: %s %q is not a Sparkplug id", n.Name, f.key, f.val)
				}
			}
			if n.TopicPrefix != "" {
				v.add(errcode.ConfigBadChoice, l.at("topic_prefix"), "remove topic_prefix: Sparkplug topics are spBv1.0/<group>/...", "north %q: topic_prefix applies to mode uns", n.Name)
			}
		default:
			v.add(errcode.ConfigBadChoice, l.at("mode"), choiceHint(n.Mode, []string{NorthUNS, NorthSparkplug}, "modes"), "north %q: mode %q is not uns or sparkplug", n.Name, n.Mode)
		}
		if n.QoS != 0 && n.QoS != 1 {
			v.add(errcode.ConfigOutOfRange, l.at("qos"), "use qos: 1", "north %q: qos %d is not supported: store-and-forward needs the broker's QoS 1 acknowledgement", n.Name, n.QoS)
		}
		if n.QueueMaxMB < 0 {
			v.add(errcode.ConfigOutOfRange, l.at("queue_max_mb"), "0 takes the default (1024)", "north %q: queue_max_mb %d must not be negative", n.Name, n.QueueMaxMB)
		}
		for j, g := range n.Tags {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				v.add(errcode.ConfigRetentionMatch, fmt.Sprintf("%s.tags[%d]", l.path(), j), "path.Match syntax, e.g. acme/*/line1/*/*", "north %q: tags %q is not a valid glob", n.Name, g)
			}
		}
	}
}

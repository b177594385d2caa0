package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Version is the only config file version this release reads.
const Version = 1

// maxFileSize bounds what Load reads; a tag list of 100k tags is ~10 MB.
const maxFileSize = 64 << 20

// Default values applied by Parse and Defaults.
const (
	DefaultUnit        = 1
	DefaultMaxInFlight = 1
	DefaultPollClass   = "default"
	DefaultPoll        = Duration(time.Second)
	DefaultMaxGap      = 16
	DefaultTimeout     = Duration(time.Second)
	DefaultReport      = "change"
	DefaultBusListen   = "127.0.0.1:4222"
	DefaultMQTTListen  = "127.0.0.1:1883"
	DefaultHTTPListen  = "127.0.0.1:8443"

	DefaultTimePrecision      = Duration(time.Millisecond)
	DefaultCheckpointInterval = Duration(10 * time.Second)
	DefaultRetentionInterval  = Duration(time.Hour)
)

// Load reads, decodes, completes and checks the config file at path. On
// any problem it returns a nil config and an error: an Errors listing every
// problem with file:line:col, or an OTL-1000 error when the file cannot be
// read.
func Load(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.ConfigRead, err, "read config %s", path)
	}
	if st.Size() > maxFileSize {
		return nil, errcode.New(errcode.ConfigRead, "read config %s: file is %d bytes, more than the %d a config may have", path, st.Size(), maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.ConfigRead, err, "read config %s", path)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in messages), applies defaults, fills
// every Tag.Path and checks the result. It returns a nil config and Errors
// when anything is wrong, listing every problem, not only the first.
func Parse(name string, data []byte) (*Config, error) {
	d := newDecoder(name)
	body, ok := d.parseYAML(data)
	if !ok {
		d.probs.sort()
		return nil, d.probs
	}
	var c Config
	if body != nil {
		d.decode(body, reflect.ValueOf(&c).Elem(), nil)
	}
	c.File = name
	present := func(path string) bool { return d.given[path] }
	applyDefaults(&c, present)
	v := &validator{file: name, find: d.find, bad: d.bad, present: present}
	v.probs = d.probs
	v.check(&c)
	if len(v.probs) > 0 {
		v.probs.sort()
		return nil, v.probs
	}
	fillPaths(&c)
	return &c, nil
}

// Validate checks a config built in code (for instance by ImportCSV) and
// returns Errors listing every problem, or nil. Problems carry YAML paths
// instead of line numbers. Call Defaults first if c may lack defaults.
func Validate(c *Config) error {
	v := &validator{file: c.File, bad: map[string]bool{}, present: func(string) bool { return false },
		find: func(string) (pos, pos, bool) { return pos{}, pos{}, false }}
	v.check(c)
	if len(v.probs) > 0 {
		return v.probs
	}
	return nil
}

// Defaults fills the defaults of every zero value of c and the Path of
// every tag, as Parse does for a file.
func Defaults(c *Config) {
	applyDefaults(c, func(string) bool { return false })
	fillPaths(c)
}

// applyDefaults sets default values. present tells whether a key was
// written in the file, so that an explicit 0 (unit 0, max_gap 0) is kept.
func applyDefaults(c *Config, present func(path string) bool) {
	for i := range c.Devices {
		d := &c.Devices[i]
		p := fmt.Sprintf("$.devices[%d]", i)
		if d.Unit == 0 && !present(p+".unit") {
			d.Unit = DefaultUnit
		}
		if d.Timeout == 0 && !present(p+".timeout") {
			d.Timeout = DefaultTimeout
		}
		if d.Budget.MaxInFlight == 0 && !present(p+".budget.max_in_flight") {
			d.Budget.MaxInFlight = DefaultMaxInFlight
		}
		if len(d.Poll) == 0 {
			d.Poll = []PollClass{{Name: DefaultPollClass, Interval: DefaultPoll}}
		}
		if d.Coalesce.MaxGap == 0 && !present(p+".coalesce.max_gap") {
			d.Coalesce.MaxGap = DefaultMaxGap
		}
		if d.Report == "" {
			d.Report = DefaultReport
		}
	}
	walkMachines(c, func(m *Machine, mp string, _ []string) {
		for j := range m.Tags {
			t := &m.Tags[j]
			if t.Scale != nil && t.Scale.Gain == 0 && !present(fmt.Sprintf("%s.tags[%d].scale.gain", mp, j)) {
				t.Scale.Gain = 1
			}
		}
	})
	if c.Bus.Listen == "" {
		c.Bus.Listen = DefaultBusListen
	}
	if c.Bus.MQTT == "" {
		c.Bus.MQTT = DefaultMQTTListen
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultHTTPListen
	}
	h := &c.Historian
	if h.Backend == "" {
		h.Backend = HistorianEmbedded
	}
	if h.TimePrecision == 0 && !present("$.historian.time_precision") {
		h.TimePrecision = DefaultTimePrecision
	}
	if h.Sync == "" {
		h.Sync = "batch"
	}
	if h.CheckpointInterval == 0 && !present("$.historian.checkpoint_interval") {
		h.CheckpointInterval = DefaultCheckpointInterval
	}
	if h.RetentionInterval == 0 && !present("$.historian.retention_interval") {
		h.RetentionInterval = DefaultRetentionInterval
	}
	if h.Rollups == nil {
		on := h.Backend == HistorianEmbedded
		h.Rollups = &on
	}
}

// walkMachines calls fn for every machine with its YAML path and its
// hierarchy names (site, area, line[, cell], machine).
func walkMachines(c *Config, fn func(m *Machine, path string, segs []string)) {
	for si := range c.Plant.Sites {
		s := &c.Plant.Sites[si]
		for ai := range s.Areas {
			a := &s.Areas[ai]
			for li := range a.Lines {
				l := &a.Lines[li]
				lp := fmt.Sprintf("$.plant.sites[%d].areas[%d].lines[%d]", si, ai, li)
				for ci := range l.Cells {
					cl := &l.Cells[ci]
					for mi := range cl.Machines {
						m := &cl.Machines[mi]
						fn(m, fmt.Sprintf("%s.cells[%d].machines[%d]", lp, ci, mi), []string{s.Name, a.Name, l.Name, cl.Name, m.Name})
					}
				}
				for mi := range l.Machines {
					m := &l.Machines[mi]
					fn(m, fmt.Sprintf("%s.machines[%d]", lp, mi), []string{s.Name, a.Name, l.Name, m.Name})
				}
			}
		}
	}
}

// fillPaths sets every Tag.Path: the machine's prefix is built once, and
// each tag costs one allocation, or none when its Path is already right
// (Defaults run again on a loaded config).
func fillPaths(c *Config) {
	walkMachines(c, func(m *Machine, _ string, segs []string) {
		// A path with one more segment, empty, ends in the separator.
		prefix := model.JoinPath(append(append([]string{c.Plant.Enterprise}, segs...), "")...)
		for j := range m.Tags {
			t := &m.Tags[j]
			if len(t.Path) == len(prefix)+len(t.Name) && strings.HasPrefix(t.Path, prefix) && strings.HasSuffix(t.Path, t.Name) {
				continue
			}
			t.Path = prefix + t.Name
		}
	})
}

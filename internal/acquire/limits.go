package acquire

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	"github.com/otlink/otlink/internal/errcode"
)

// limitsFile is the learned-limit file of one device:
// DataDir/acquire/limits/<device>.json. Its format:
//
//	{"device": "press-3", "limits": {"196609": {"name": "holding registers, unit 1", "max": 60}}}
//
// Keys are the driver's space numbers; name is for people. Delete the file
// to let the engine relearn (for instance after a firmware upgrade).
type limitsFile struct {
	Device string                `json:"device"`
	Limits map[string]limitEntry `json:"limits"`
}

type limitEntry struct {
	Name string `json:"name"`
	Max  uint32 `json:"max"`
}

func (d *device) limitsPath() string {
	if d.eng.opts.DataDir == "" {
		return ""
	}
	return filepath.Join(d.eng.opts.DataDir, "acquire", "limits", filepath.Base(d.p.cfg.Name)+".json")
}

func (d *device) loadLimits() {
	path := d.limitsPath()
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return
	}
	var f limitsFile
	if err == nil {
		err = json.Unmarshal(data, &f)
	}
	if err != nil {
		d.log.Warn("cannot load learned block limits; relearning", "code", errcode.AcquireLimits.String(), "err", err)
		return
	}
	d.lmu.Lock()
	for k, v := range f.Limits {
		s, err := strconv.ParseUint(k, 10, 32)
		if err != nil || v.Max == 0 {
			continue
		}
		d.learned[uint32(s)] = v.Max
	}
	d.lmu.Unlock()
	d.planGen.Add(1)
}

func (d *device) saveLimits() {
	path := d.limitsPath()
	if path == "" {
		return
	}
	f := limitsFile{Device: d.p.cfg.Name, Limits: map[string]limitEntry{}}
	d.lmu.Lock()
	for s, n := range d.learned {
		f.Limits[spaceKey(s)] = limitEntry{Name: d.p.drv.SpaceName(s), Max: n}
	}
	d.lmu.Unlock()
	data, _ := json.MarshalIndent(f, "", "  ")
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, append(data, '\n'), 0o644); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		d.log.Warn("cannot save learned block limits", "code", errcode.AcquireLimits.String(), "err", err)
	}
}

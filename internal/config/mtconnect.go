package config

// MTConnectAgent configures otlink's MTConnect agent.
type MTConnectAgent struct {
	Enabled bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
}

func (v *validator) checkMTConnect(c *Config) {}

package config

// OPCUAServer configures otlink's OPC UA server.
type OPCUAServer struct {
	Enabled bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
}

func (v *validator) checkOPCUA(c *Config) {}

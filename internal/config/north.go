package config

// North is one northbound publisher.
type North struct {
	Name string `yaml:"name" json:"name"`
}

func (v *validator) checkNorth(c *Config) {}

// Package config owns otlink's configuration file: it reads the YAML, applies
// defaults, fills tag paths and checks everything a plant engineer can get
// wrong, reporting every problem at once with file:line:col and a stable
// OTL-10nn code. It also imports tag lists exported by other gateways (CSV)
// and writes configs back as YAML.
//
// It must not do I/O beyond reading the file it is given, must not open
// connections, and must not import driver implementations: drivers are found
// through the registry of internal/driver, which the binary fills.
package config

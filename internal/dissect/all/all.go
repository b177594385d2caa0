// Package all registers every dissector otlink has: import it for its
// side effects where the pipeline runs (otlink analyze, run, bench). It
// holds no code; a dissector package is listed here once it builds.
package all

import (
	_ "github.com/otlink/otlink/internal/dissect/bacnet" // registers "bacnet"
	_ "github.com/otlink/otlink/internal/dissect/dnp3"   // registers "dnp3"
	_ "github.com/otlink/otlink/internal/dissect/enip"   // registers "enip"
	_ "github.com/otlink/otlink/internal/dissect/iec104" // registers "iec104"
	_ "github.com/otlink/otlink/internal/dissect/modbus" // registers "modbus"
	_ "github.com/otlink/otlink/internal/dissect/mqtt"   // registers "mqtt"
	_ "github.com/otlink/otlink/internal/dissect/opcua"  // registers "opcua"
	_ "github.com/otlink/otlink/internal/dissect/s7comm" // registers "s7comm"
)

package errcode

// Configuration codes, 1000–1099. Owned by internal/config.
const (
	ConfigRead            Code = 1000
	ConfigSyntax          Code = 1001
	ConfigUnknownKey      Code = 1002
	ConfigWrongType       Code = 1003
	ConfigMissing         Code = 1004
	ConfigDuplicateName   Code = 1005
	ConfigInvalidName     Code = 1006
	ConfigVersion         Code = 1007
	ConfigUnknownDriver   Code = 1008
	ConfigBadEndpoint     Code = 1009
	ConfigUnknownDevice   Code = 1010
	ConfigNoDevice        Code = 1011
	ConfigUnknownType     Code = 1012
	ConfigUnknownPoll     Code = 1013
	ConfigPollBelowFloor  Code = 1014
	ConfigBadInterval     Code = 1015
	ConfigBudgetRange     Code = 1016
	ConfigUnknownOrder    Code = 1017
	ConfigWritableNoLimit Code = 1018
	ConfigBadLimits       Code = 1019
	ConfigBadRange        Code = 1020
	ConfigBadDeadband     Code = 1021
	ConfigStringLength    Code = 1022
	ConfigBadAddress      Code = 1023
	ConfigOverlap         Code = 1024
	ConfigDuplicateAddr   Code = 1025
	ConfigBadDuration     Code = 1026
	ConfigBadChoice       Code = 1027
	ConfigOutOfRange      Code = 1028
	ConfigDuplicateKey    Code = 1029
	ConfigBadScale        Code = 1030
	ConfigBadListen       Code = 1031
	ConfigHistorianDSN    Code = 1032
	ConfigRetentionMatch  Code = 1033
	ConfigRetentionNeg    Code = 1034
	ConfigRetentionOrder  Code = 1035
	ConfigLossy           Code = 1036
	ConfigLossyType       Code = 1037

	ConfigCSVHeader  Code = 1050
	ConfigCSVRow     Code = 1051
	ConfigCSVType    Code = 1052
	ConfigCSVAddress Code = 1053
	ConfigCSVScan    Code = 1054
	ConfigCSVNotice  Code = 1055
	ConfigBadNetwork Code = 1056
)

func init() {
	register(
		Entry{Code: ConfigRead, Name: "config.read", Title: "the config file cannot be read",
			Causes: []string{"the path is wrong", "the file is not readable by the otlink user"},
			Checks: []string{"ls -l the path given to --config", "the working directory of the service"},
			Fix:    "give the right path, or fix the file's permissions"},
		Entry{Code: ConfigSyntax, Name: "config.syntax", Title: "the config file is not valid YAML",
			Causes: []string{"a tab used for indentation", "a missing or extra space after ':' or '-'", "an unclosed quote or bracket"},
			Checks: []string{"the line and column in the message, and the line above it", "indentation: YAML needs spaces, never tabs"},
			Fix:    "fix the YAML at the given line; indent with spaces and quote values that contain ': ' or '#'"},
		Entry{Code: ConfigUnknownKey, Name: "config.unknown_key", Title: "a key is not known at this place of the config",
			Causes: []string{"a typing error in the key", "a key placed at the wrong level of indentation", "a key from another product's config"},
			Checks: []string{"the suggested key in the message", "docs/config.md for the keys of this section"},
			Fix:    "rename the key to the suggested one, or move it to the section where it belongs"},
		Entry{Code: ConfigWrongType, Name: "config.wrong_type", Title: "a value has the wrong type",
			Causes: []string{"text where a number is expected", "a single item where a list is expected (missing '- ')", "a list where a section is expected"},
			Checks: []string{"the expected type named in the message", "docs/config.md for the key"},
			Fix:    "write the value in the expected form; start list items with '- '"},
		Entry{Code: ConfigMissing, Name: "config.missing", Title: "a required key is missing",
			Causes: []string{"a key left out", "a key misspelt (see also OTL-1002 in the same run)"},
			Checks: []string{"the section at the given line"},
			Fix:    "add the key named in the message"},
		Entry{Code: ConfigDuplicateName, Name: "config.duplicate_name", Title: "two items of the same kind share a name",
			Causes: []string{"a copied block whose name was not changed"},
			Checks: []string{"the other item named in the message"},
			Fix:    "give each site, area, line, cell, machine, tag, device and poll class a unique name among its siblings"},
		Entry{Code: ConfigInvalidName, Name: "config.invalid_name", Title: "a name is not a valid path segment",
			Causes: []string{"a name with spaces, '/', '.' or other punctuation"},
			Checks: []string{"names become tag paths, MQTT topics and NATS subjects"},
			Fix:    "use only letters, digits, '_' and '-' (at most 64 characters)"},
		Entry{Code: ConfigVersion, Name: "config.version", Title: "the config version is not supported",
			Causes: []string{"a config written for another otlink release"},
			Checks: []string{"the 'version' key at the top of the file"},
			Fix:    "set 'version: 1', or convert the file with the otlink release that wrote it"},
		Entry{Code: ConfigUnknownDriver, Name: "config.unknown_driver", Title: "a device names a driver otlink does not have",
			Causes: []string{"a typing error in 'driver'", "a driver not built into this binary"},
			Checks: []string{"the list of drivers in the message"},
			Fix:    "set 'driver' to one of the listed drivers"},
		Entry{Code: ConfigBadEndpoint, Name: "config.bad_endpoint", Title: "a device endpoint is not a valid URL",
			Causes: []string{"a missing scheme (tcp://)", "a missing or invalid port", "a scheme the driver does not support"},
			Checks: []string{"the endpoint form: tcp://host:port, rtu+tcp://host:port, rtu:///dev/ttyUSB0?baud=19200"},
			Fix:    "write the endpoint as scheme://host:port"},
		Entry{Code: ConfigUnknownDevice, Name: "config.unknown_device", Title: "a tag or machine refers to a device that is not defined",
			Causes: []string{"a typing error in 'device'", "the device was renamed or removed"},
			Checks: []string{"the 'devices' section"},
			Fix:    "use the name of a device listed under 'devices'"},
		Entry{Code: ConfigNoDevice, Name: "config.no_device", Title: "a tag has no device to read it from",
			Causes: []string{"neither the tag nor its machine sets 'device'"},
			Checks: []string{"the machine of the tag"},
			Fix:    "set 'device' on the machine (for all its tags) or on the tag"},
		Entry{Code: ConfigUnknownType, Name: "config.unknown_type", Title: "a tag has an unknown data type",
			Causes: []string{"a type name from another product (e.g. 'float', 'word', 'REAL')"},
			Checks: []string{"the list of types in the message"},
			Fix:    "use one of bool, int8..int64, uint8..uint64, float32, float64, string"},
		Entry{Code: ConfigUnknownPoll, Name: "config.unknown_poll", Title: "a tag names a poll class its device does not have",
			Causes: []string{"a typing error in 'poll'", "the poll class is defined on another device"},
			Checks: []string{"the 'poll' list of the tag's device"},
			Fix:    "use a poll class of the device, or add the class to the device"},
		Entry{Code: ConfigPollBelowFloor, Name: "config.poll_below_floor", Title: "a poll interval is shorter than the device's poll floor",
			Causes: []string{"a fast poll class on a device whose budget forbids it"},
			Checks: []string{"the device's budget.poll_floor, agreed with the equipment's owner"},
			Fix:    "raise the poll interval to at least the floor; lower the floor only if the equipment can take it"},
		Entry{Code: ConfigBadInterval, Name: "config.bad_interval", Title: "an interval or timeout is zero or negative",
			Causes: []string{"'0s' or a negative duration"},
			Checks: []string{"the key named in the message"},
			Fix:    "give a positive duration such as 500ms or 5s"},
		Entry{Code: ConfigBudgetRange, Name: "config.budget_range", Title: "a device budget value is out of range",
			Causes: []string{"max_in_flight outside 1..16", "a negative min_gap or poll_floor"},
			Checks: []string{"what the device can take: most PLCs serve one request at a time"},
			Fix:    "set max_in_flight between 1 and 16 and non-negative gaps"},
		Entry{Code: ConfigUnknownOrder, Name: "config.unknown_order", Title: "a byte or word order is not 'big' or 'little'",
			Causes: []string{"another product's notation such as ABCD or CDAB"},
			Checks: []string{"docs/config.md, byte and word order"},
			Fix:    "use 'big' or 'little' (ABCD = big/big, CDAB = big bytes/little words, BADC = little/big, DCBA = little/little)"},
		Entry{Code: ConfigWritableNoLimit, Name: "config.writable_no_limits", Title: "a writable numeric tag has no write limits",
			Causes: []string{"'writable: true' without 'limits'"},
			Checks: []string{"the safe range of the setpoint, agreed with process engineering"},
			Fix:    "add 'limits: {min: ..., max: ...}' to the tag, or remove 'writable'"},
		Entry{Code: ConfigBadLimits, Name: "config.bad_limits", Title: "write limits are inconsistent",
			Causes: []string{"limits min greater than max", "a negative max_step"},
			Checks: []string{"the tag's limits"},
			Fix:    "make min <= max and max_step >= 0"},
		Entry{Code: ConfigBadRange, Name: "config.bad_range", Title: "an engineering range is empty or reversed",
			Causes: []string{"range min greater than or equal to max"},
			Checks: []string{"the tag's range"},
			Fix:    "make range min smaller than max"},
		Entry{Code: ConfigBadDeadband, Name: "config.bad_deadband", Title: "a deadband is negative or set on a non-numeric tag",
			Causes: []string{"a negative deadband", "a deadband on a bool or string tag"},
			Checks: []string{"the tag's type and deadband"},
			Fix:    "use a deadband >= 0 in engineering units, on numeric tags only"},
		Entry{Code: ConfigStringLength, Name: "config.string_length", Title: "a string tag has no valid length",
			Causes: []string{"a string tag without 'length'", "a negative length"},
			Checks: []string{"the device documentation for the string's size"},
			Fix:    "set 'length' to the number of characters of the string"},
		Entry{Code: ConfigBadAddress, Name: "config.bad_address", Title: "the driver rejects a tag's address",
			Causes: []string{"a typing error in the address", "an address outside the device's range", "a data type that does not fit the address (e.g. float32 on a coil)"},
			Checks: []string{"docs/drivers/ for the driver's address syntax"},
			Fix:    "write the address in the driver's syntax, with a type that fits it"},
		Entry{Code: ConfigOverlap, Name: "config.overlap", Title: "two tags of one device read overlapping units as different values",
			Causes: []string{"a 32-bit tag whose second register is another tag", "a wrong register number"},
			Checks: []string{"the register map of the device"},
			Fix:    "correct the address of one of the tags (bits of a register may overlap it)"},
		Entry{Code: ConfigDuplicateAddr, Name: "config.duplicate_address", Title: "two tags of one device have the same address and type",
			Causes: []string{"a copied tag whose address was not changed"},
			Checks: []string{"the other tag named in the message"},
			Fix:    "remove the duplicate or correct its address"},
		Entry{Code: ConfigBadDuration, Name: "config.bad_duration", Title: "a duration cannot be read",
			Causes: []string{"a number without unit ('5' instead of '5s')", "an unknown unit"},
			Checks: []string{"units: ms, s, m, h (e.g. 100ms, 5s, 1m30s)"},
			Fix:    "write the duration with its unit, e.g. 500ms or 5s"},
		Entry{Code: ConfigBadChoice, Name: "config.bad_choice", Title: "a value is not one of the allowed choices",
			Causes: []string{"a typing error"},
			Checks: []string{"the allowed values in the message"},
			Fix:    "use one of the allowed values"},
		Entry{Code: ConfigOutOfRange, Name: "config.out_of_range", Title: "a number is out of its allowed range",
			Causes: []string{"a negative count", "a unit id above 255"},
			Checks: []string{"the range given in the message"},
			Fix:    "use a number within the range"},
		Entry{Code: ConfigDuplicateKey, Name: "config.duplicate_key", Title: "a key appears twice in the same section",
			Causes: []string{"a key copied twice; YAML would silently keep only one"},
			Checks: []string{"both lines given in the message"},
			Fix:    "keep one of the two keys"},
		Entry{Code: ConfigBadScale, Name: "config.bad_scale", Title: "a scaling gain is zero or not finite",
			Causes: []string{"gain: 0, which turns every reading into the offset"},
			Checks: []string{"the tag's scale"},
			Fix:    "set a non-zero gain, or omit gain for 1"},
		Entry{Code: ConfigBadListen, Name: "config.bad_listen", Title: "a listen address is not host:port",
			Causes: []string{"a missing port", "a port outside 0..65535", "a URL where host:port is expected"},
			Checks: []string{"the key named in the message"},
			Fix:    "write host:port, e.g. 127.0.0.1:8080 or :8080"},
		Entry{Code: ConfigHistorianDSN, Name: "config.historian_dsn", Title: "a historian dsn is given for a backend that does not use one",
			Causes: []string{"historian.dsn is set while historian.backend is embedded (the default) or off"},
			Checks: []string{"the historian section of the config"},
			Fix:    "set backend: postgres to store in PostgreSQL, or remove the dsn"},
		Entry{Code: ConfigRetentionMatch, Name: "config.retention_match", Title: "a retention rule's match is not a valid glob",
			Causes: []string{"an unclosed '[' or a trailing '\\' in historian.retention[].match"},
			Checks: []string{"the match pattern: path.Match syntax, '*' stops at '/'"},
			Fix:    "write the glob as e.g. acme/*/line1/*/* or leave match out to match every tag"},
		Entry{Code: ConfigRetentionNeg, Name: "config.retention_negative", Title: "a retention duration or interval is negative",
			Causes: []string{"a '-' in raw, rollup_1m, rollup_1h or retention_interval"},
			Checks: []string{"the historian.retention rules and historian.retention_interval"},
			Fix:    "give a positive duration such as 90d, or 0 to keep that data forever"},
		Entry{Code: ConfigRetentionOrder, Name: "config.retention_order", Title: "rollups would be deleted before the raw data they summarise",
			Causes: []string{"rollup_1m or rollup_1h is shorter than raw", "raw is 0 (forever) while a rollup has a limit"},
			Checks: []string{"the rule's raw, rollup_1m and rollup_1h"},
			Fix:    "keep rollups at least as long as raw (e.g. raw 90d, rollup_1m 730d, rollup_1h 0 = forever)"},
		Entry{Code: ConfigLossy, Name: "config.lossy", Title: "a tag's lossy compression settings are invalid",
			Causes: []string{"a negative or non-finite exc_dev or comp_dev", "a negative time", "exc_min above exc_max or comp_min above comp_max"},
			Checks: []string{"the tag's lossy: section (docs/history.md)"},
			Fix:    "give deviations ≥ 0 in the tag's units and min times no larger than max times"},
		Entry{Code: ConfigLossyType, Name: "config.lossy_type", Title: "lossy compression is set on a tag that is not numeric",
			Causes: []string{"lossy: on a bool or string tag: deviations need numbers"},
			Checks: []string{"the tag's type"},
			Fix:    "remove lossy from the tag; bool and string tags are stored when they change"},
		Entry{Code: ConfigCSVHeader, Name: "config.csv_header", Title: "a CSV tag list has an unknown header",
			Causes: []string{"a CSV that is not a Kepware tag export nor the generic name,address,type,scan_ms,description form"},
			Checks: []string{"the first line of the file"},
			Fix:    "export the tags from Kepware as CSV, or write the header name,address,type,scan_ms,description[,unit]"},
		Entry{Code: ConfigCSVRow, Name: "config.csv_row", Title: "a CSV row cannot be imported",
			Causes: []string{"a missing tag name or address", "a wrong number of columns", "a name that clashes with another row"},
			Checks: []string{"the row number in the message (the header is row 1)"},
			Fix:    "correct the row and import again, or add the tag by hand"},
		Entry{Code: ConfigCSVType, Name: "config.csv_type", Title: "a CSV row has a data type otlink cannot map",
			Causes: []string{"BCD, Date or array types"},
			Checks: []string{"the data type column"},
			Fix:    "change the row's data type, or add the tag by hand"},
		Entry{Code: ConfigCSVAddress, Name: "config.csv_address", Title: "a CSV row has an address otlink cannot convert",
			Causes: []string{"an address of a non-Modbus driver", "a register number out of range"},
			Checks: []string{"the address column: 400001, 40001, 300010, 000005, 100003, 400010.3"},
			Fix:    "write the address in otlink's syntax (hr:100, coil:3, ...) and import again"},
		Entry{Code: ConfigCSVScan, Name: "config.csv_scan", Title: "a CSV row has an invalid scan rate",
			Causes: []string{"a scan rate that is not a positive number of milliseconds"},
			Checks: []string{"the scan rate column"},
			Fix:    "give the scan rate in milliseconds, or leave it empty for the default class"},
		Entry{Code: ConfigCSVNotice, Name: "config.csv_notice", Title: "a CSV row was imported with a change worth checking",
			Causes: []string{"a read/write tag imported read-only because writes need limits", "a scaling mode otlink does not have"},
			Checks: []string{"the message of the row"},
			Fix:    "review the imported tag and complete it by hand"},
		Entry{Code: ConfigBadNetwork, Name: "config.bad_network", Title: "a network range is not a CIDR prefix",
			Causes: []string{"a typing error", "an address without its prefix length", "an octet above 255"},
			Checks: []string{"the zone's networks list"},
			Fix:    "write prefixes such as 10.1.2.0/24 or fd00:1::/64"},
	)
}

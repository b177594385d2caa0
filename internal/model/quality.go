package model

import "fmt"

// Quality is a sample's quality, with the bit layout of an OPC UA StatusCode
// (Part 4, 7.39): the top two bits give the severity (00 good, 01 uncertain,
// 10 bad) and the next 14 bits the sub-code. Values are the ones OPC UA
// defines, so a Quality can be handed to an OPC UA client unchanged.
type Quality uint32

// Qualities otlink sets. Codes are from the OPC UA specification.
const (
	Good                              Quality = 0x00000000
	GoodNoData                        Quality = 0x00A50000 // not in the spec's Good set for data, used for "nothing polled yet"
	Uncertain                         Quality = 0x40000000
	UncertainLastUsableValue          Quality = 0x40900000
	UncertainSensorNotAccurate        Quality = 0x40930000
	UncertainEngineeringUnitsExceeded Quality = 0x40940000
	Bad                               Quality = 0x80000000
	BadConfigurationError             Quality = 0x80890000
	BadNotConnected                   Quality = 0x808A0000
	BadDeviceFailure                  Quality = 0x808B0000
	BadOutOfService                   Quality = 0x808D0000
	BadCommunicationError             Quality = 0x80050000
	BadTimeout                        Quality = 0x800A0000
	BadNoCommunication                Quality = 0x80310000
	BadWaitingForInitialData          Quality = 0x80320000
	BadDecodingError                  Quality = 0x80070000
	BadOutOfRange                     Quality = 0x803C0000
	BadNodeIDUnknown                  Quality = 0x80340000
)

var qualityNames = map[Quality]string{
	Good:                              "Good",
	GoodNoData:                        "GoodNoData",
	Uncertain:                         "Uncertain",
	UncertainLastUsableValue:          "UncertainLastUsableValue",
	UncertainSensorNotAccurate:        "UncertainSensorNotAccurate",
	UncertainEngineeringUnitsExceeded: "UncertainEngineeringUnitsExceeded",
	Bad:                               "Bad",
	BadConfigurationError:             "BadConfigurationError",
	BadNotConnected:                   "BadNotConnected",
	BadDeviceFailure:                  "BadDeviceFailure",
	BadOutOfService:                   "BadOutOfService",
	BadCommunicationError:             "BadCommunicationError",
	BadTimeout:                        "BadTimeout",
	BadNoCommunication:                "BadNoCommunication",
	BadWaitingForInitialData:          "BadWaitingForInitialData",
	BadDecodingError:                  "BadDecodingError",
	BadOutOfRange:                     "BadOutOfRange",
	BadNodeIDUnknown:                  "BadNodeIdUnknown",
}

// IsGood reports severity good.
func (q Quality) IsGood() bool { return q&0xC0000000 == 0 }

// IsUncertain reports severity uncertain.
func (q Quality) IsUncertain() bool { return q&0xC0000000 == 0x40000000 }

// IsBad reports severity bad.
func (q Quality) IsBad() bool { return q&0x80000000 != 0 }

// Severity returns "good", "uncertain" or "bad".
func (q Quality) Severity() string {
	switch {
	case q.IsBad():
		return "bad"
	case q.IsUncertain():
		return "uncertain"
	}
	return "good"
}

// String returns the OPC UA name of the code, or its hex form.
func (q Quality) String() string {
	if n, ok := qualityNames[q&0xFFFF0000]; ok {
		return n
	}
	return fmt.Sprintf("0x%08X", uint32(q))
}

// MarshalText writes the quality's name so that JSON shows "Good", "BadTimeout".
func (q Quality) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

package query

import (
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/model"
)

// Status is a sample quality or an aggregate status: an OPC UA StatusCode
// with its historian info bits. In JSON it is its name followed by the
// set bits, "Good", "UncertainDataSubNormal+Calculated+Partial",
// "BadTimeout", or the hex code when the name is not known.
type Status model.Quality

var extraNames = map[model.Quality]string{
	agg.BadNoData:              "BadNoData",
	agg.UncertainDataSubNormal: "UncertainDataSubNormal",
}

var statusBits = []struct {
	q    model.Quality
	name string
}{
	{agg.Calculated &^ agg.InfoDataValue, "Calculated"},
	{agg.Interpolated &^ agg.InfoDataValue, "Interpolated"},
	{agg.Partial &^ agg.InfoDataValue, "Partial"},
	{agg.MultiValue &^ agg.InfoDataValue, "MultiValue"},
}

// Quality returns the status as a model.Quality.
func (s Status) Quality() model.Quality { return model.Quality(s) }

// String returns the text form.
func (s Status) String() string {
	q := model.Quality(s)
	base := q & 0xFFFF0000
	name, ok := extraNames[base]
	if !ok {
		name = base.String()
		if strings.HasPrefix(name, "0x") {
			return "0x" + strconv.FormatUint(uint64(q), 16)
		}
	}
	if q&agg.InfoDataValue != 0 {
		for _, b := range statusBits {
			if q&b.q != 0 {
				name += "+" + b.name
			}
		}
	}
	return name
}

// MarshalText writes String.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (s *Status) UnmarshalText(b []byte) error {
	txt := string(b)
	if strings.HasPrefix(txt, "0x") {
		n, err := strconv.ParseUint(txt[2:], 16, 32)
		*s = Status(n)
		return err
	}
	parts := strings.Split(txt, "+")
	q, ok := qualityByName(parts[0])
	if !ok {
		return &strconv.NumError{Func: "Status", Num: txt, Err: strconv.ErrSyntax}
	}
	for _, p := range parts[1:] {
		found := false
		for _, b := range statusBits {
			if b.name == p {
				q |= b.q | agg.InfoDataValue
				found = true
			}
		}
		if !found {
			return &strconv.NumError{Func: "Status", Num: txt, Err: strconv.ErrSyntax}
		}
	}
	*s = Status(q)
	return nil
}

func qualityByName(n string) (model.Quality, bool) {
	for q, name := range extraNames {
		if name == n {
			return q, true
		}
	}
	// The model's names: try every severity and sub-code it defines.
	for _, q := range knownQualities {
		if q.String() == n {
			return q, true
		}
	}
	return 0, false
}

var knownQualities = []model.Quality{
	model.Good, model.GoodNoData, model.Uncertain, model.UncertainLastUsableValue,
	model.UncertainSensorNotAccurate, model.UncertainEngineeringUnitsExceeded, model.Bad,
	model.BadConfigurationError, model.BadNotConnected, model.BadDeviceFailure, model.BadOutOfService,
	model.BadCommunicationError, model.BadTimeout, model.BadNoCommunication, model.BadWaitingForInitialData,
	model.BadDecodingError, model.BadOutOfRange, model.BadNodeIDUnknown,
}

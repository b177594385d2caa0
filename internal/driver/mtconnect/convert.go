package mtconnect

import (
	"math"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	mtc "github.com/otlink/otlink/internal/mtconnect"
)

// textEvents are event types whose values are words, never numbers: a
// numeric tag on one of them is a configuration error found at subscribe.
var textEvents = map[string]bool{
	"AVAILABILITY": true, "EXECUTION": true, "CONTROLLER_MODE": true, "PROGRAM": true,
	"EMERGENCY_STOP": true, "DOOR_STATE": true, "FUNCTIONAL_MODE": true, "MESSAGE": true,
	"OPERATOR_ID": true, "PART_ID": true, "PROGRAM_COMMENT": true, "ROTARY_MODE": true,
	"AXIS_STATE": true, "CHUCK_STATE": true, "DIRECTION": true, "ACTIVE_AXES": true,
	"BLOCK": true, "PART_NUMBER": true, "PROGRAM_HEADER": true, "SERIAL_NUMBER": true,
	"PROGRAM_EDIT": true, "PROGRAM_EDIT_NAME": true, "CONTROLLER_MODE_OVERRIDE": true,
}

// checkType says whether a tag of type t can carry item di.
func checkType(t model.Type, di *mtc.DataItem) error {
	switch di.Representation {
	case "DATA_SET", "TABLE", "TIME_SERIES":
		if t != model.String {
			return errcode.New(errcode.MTConnectTypeMismatch, "data item %q is a %s: use type string", di.ID, di.Representation)
		}
	}
	if di.Category == mtc.Event && textEvents[di.Type] && (t.IsNumeric()) {
		return errcode.New(errcode.MTConnectTypeMismatch, "data item %q (%s) carries words, not a %s: use type string", di.ID, di.Type, t)
	}
	return nil
}

// levelRank orders condition levels by severity.
func levelRank(l string) int {
	switch l {
	case mtc.LevelNormal:
		return 0
	case mtc.LevelWarning:
		return 1
	case mtc.LevelFault:
		return 2
	}
	return -1 // unavailable
}

var levelNames = [...]string{"NORMAL", "WARNING", "FAULT"}

// conditionValue is the value of a condition of the given rank: its name
// for strings, 0/1/2 for numbers, active for bool.
func conditionValue(t model.Type, rank int) (model.Value, model.Quality, uint16) {
	if rank < 0 {
		return model.Value{}, model.BadNoCommunication, uint16(errcode.MTConnectUnavailable)
	}
	switch {
	case t == model.String:
		return model.StringValue(levelNames[rank]), model.Good, 0
	case t == model.Bool:
		return model.BoolValue(rank > 0), model.Good, 0
	case t.IsFloat():
		return model.FloatValue(t, float64(rank)), model.Good, 0
	case t.IsSigned():
		return model.IntValue(t, int64(rank)), model.Good, 0
	}
	return model.UintValue(t, uint64(rank)), model.Good, 0
}

// value converts an observation's text to a tag of type t.
func value(t model.Type, text string) (model.Value, model.Quality, uint16) {
	s := strings.TrimSpace(text)
	if s == mtc.Unavailable {
		return model.Value{}, model.BadNoCommunication, uint16(errcode.MTConnectUnavailable)
	}
	bad := func() (model.Value, model.Quality, uint16) {
		return model.Value{}, model.BadDecodingError, uint16(errcode.MTConnectBadValue)
	}
	switch {
	case t == model.String:
		return model.StringValue(text), model.Good, 0
	case t == model.Bool:
		switch strings.ToUpper(s) {
		case "TRUE", "1", "ON", "YES", "ACTIVE", "TRIGGERED", "OPEN", "AVAILABLE":
			return model.BoolValue(true), model.Good, 0
		case "FALSE", "0", "OFF", "NO", "INACTIVE", "ARMED", "CLOSED", "NOT_AVAILABLE":
			return model.BoolValue(false), model.Good, 0
		}
		return bad()
	case t.IsFloat():
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad()
		}
		if t == model.Float32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
			return model.Value{}, model.BadOutOfRange, uint16(errcode.MTConnectBadValue)
		}
		return model.FloatValue(t, f), model.Good, 0
	}
	// Integers: agents write part counts as "12" but some write "12.0".
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return bad()
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		f = float64(n)
		if t.IsSigned() && inSigned(t, n) {
			return model.IntValue(t, n), model.Good, 0
		}
	}
	if f != math.Trunc(f) {
		return bad()
	}
	if t.IsSigned() {
		if f < -math.Exp2(float64(t.Bits()-1)) || f >= math.Exp2(float64(t.Bits()-1)) {
			return model.Value{}, model.BadOutOfRange, uint16(errcode.MTConnectBadValue)
		}
		return model.IntValue(t, int64(f)), model.Good, 0
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		if t.Bits() < 64 && u >= 1<<uint(t.Bits()) {
			return model.Value{}, model.BadOutOfRange, uint16(errcode.MTConnectBadValue)
		}
		return model.UintValue(t, u), model.Good, 0
	}
	if f < 0 || f >= math.Exp2(float64(t.Bits())) {
		return model.Value{}, model.BadOutOfRange, uint16(errcode.MTConnectBadValue)
	}
	return model.UintValue(t, uint64(f)), model.Good, 0
}

func inSigned(t model.Type, n int64) bool {
	b := t.Bits()
	return b == 64 || n >= -(1<<(b-1)) && n < 1<<(b-1)
}

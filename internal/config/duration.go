package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// String writes the duration as Go does: "100ms", "5s", "1m30s".
// String writes the duration as Go does, without zero tails: "100ms",
// "5s", "1m30s", "1m" (not "1m0s"), "2h" (not "2h0m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes the duration as "5s", so YAML and JSON show it readably.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "100ms", "5s", "1m30s". A number without a unit is
// rejected: "5" could mean seconds or milliseconds, and guessing wrong
// would poll a PLC a thousand times too often.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML lets goccy/go-yaml and similar decoders read a Duration.
func (d *Duration) UnmarshalYAML(b []byte) error {
	s := strings.TrimSpace(string(b))
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	} else if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return d.UnmarshalText([]byte(s))
}

var errNoUnit = errors.New("no unit")

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration: write e.g. 500ms or 5s")
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		if s == "0" {
			return 0, nil
		}
		return 0, fmt.Errorf("duration %q has no unit: write %ss or %sms: %w", s, s, s, errNoUnit)
	}
	// Days ("90d", "1d12h") are read here: retention periods are written
	// in days, and Go's ParseDuration stops at hours.
	bad := fmt.Errorf("invalid duration %q: write e.g. 100ms, 5s, 1m30s or 90d", s)
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimPrefix(s, "-")
	var days int64
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n < 0 || n > 100_000 {
			return 0, bad
		}
		days, rest = n, rest[i+1:]
		if rest == "" {
			rest = "0s"
		}
	}
	v, err := time.ParseDuration(rest)
	if err != nil || v < 0 {
		return 0, bad
	}
	v += time.Duration(days) * 24 * time.Hour
	if neg {
		v = -v
	}
	return Duration(v), nil
}

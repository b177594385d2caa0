package query

import (
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// ParseTime reads a query time relative to now:
//
//	2024-05-01T08:00:00Z, 2024-05-01T08:00:00.5+08:00  RFC 3339 (fraction optional)
//	1714550400, 1714550400.5                           Unix seconds (≤ 11 digits)
//	1714550400000                                      Unix milliseconds (12–14 digits)
//	now, now-1h, now+15m, -15m, -2d, -1w               relative to now
//
// Relative units are Go's (ns us ms s m h) plus d (24 h) and w (7 d).
// The empty string is an error; callers choose their own defaults.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errcode.New(errcode.QueryTime, "empty time")
	}
	rel := ""
	switch {
	case strings.EqualFold(s, "now"):
		return now, nil
	case len(s) > 3 && strings.EqualFold(s[:3], "now") && (s[3] == '-' || s[3] == '+'):
		rel = s[3:]
	case s[0] == '-' || s[0] == '+':
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			rel = s
		}
	}
	if rel != "" {
		d, err := ParseDuration(rel[1:])
		if err != nil {
			return time.Time{}, errcode.Wrap(errcode.QueryTime, err, "read relative time %q", s)
		}
		if rel[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eEnNiI") {
		digits := len(strings.TrimLeft(strings.SplitN(s, ".", 2)[0], "+-"))
		if digits >= 12 && digits <= 14 && !strings.Contains(s, ".") {
			ms, _ := strconv.ParseInt(s, 10, 64)
			return time.UnixMilli(ms), nil
		}
		if digits <= 11 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9+0.5)).Round(time.Microsecond), nil
		}
	}
	return time.Time{}, errcode.New(errcode.QueryTime, "read time %q: want RFC 3339, Unix seconds or milliseconds, or now-1h", s)
}

// ParseDuration reads a positive duration: Go's syntax ("1h30m", "250ms")
// plus d (24 h) and w (7 d) as whole-number units, as in "2d" or "1w12h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var extra time.Duration
	for _, u := range []struct {
		c byte
		d time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		if i := strings.IndexByte(s, u.c); i > 0 {
			n, err := strconv.Atoi(s[:i])
			if err != nil || n < 0 {
				return 0, errcode.New(errcode.QueryTime, "read duration %q", s)
			}
			extra += time.Duration(n) * u.d
			s = s[i+1:]
		}
	}
	if s == "" {
		if extra == 0 {
			return 0, errcode.New(errcode.QueryTime, "read duration: empty")
		}
		return extra, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errcode.New(errcode.QueryTime, "read duration %q", s)
	}
	return extra + d, nil
}

package errcode

// Codes of the historian's query layer, export and lossy compression
// (5200–5249).
const (
	QueryTime      Code = 5200
	QueryRange     Code = 5201
	QueryAggregate Code = 5202
	QueryBuckets   Code = 5203
	QueryGlob      Code = 5204
	QueryTags      Code = 5205
	QueryCursor    Code = 5206
	QueryArg       Code = 5207
	QueryRead      Code = 5208
	ExportWrite    Code = 5220
	ExportFormat   Code = 5221
	LossySettings  Code = 5230
)

func init() {
	register(
		Entry{Code: QueryTime, Name: "query.time", Title: "a time in a history query cannot be read",
			Causes: []string{"a typo in the time", "a time zone missing from an RFC 3339 time", "a relative time with an unknown unit"},
			Checks: []string{"the from, to or time parameter"},
			Fix:    "write times as RFC 3339 (2024-05-01T08:00:00Z), Unix seconds or milliseconds, \"now\", or relative to now (now-1h, -15m, -2d)"},
		Entry{Code: QueryRange, Name: "query.range", Title: "a history query's end is not after its start",
			Causes: []string{"from and to swapped", "a relative time that resolves after the other bound"},
			Checks: []string{"the resolved from and to of the query"},
			Fix:    "choose a to after the from"},
		Entry{Code: QueryAggregate, Name: "query.aggregate", Title: "a history query names an aggregate that does not exist",
			Causes: []string{"a typo in the aggregate name", "no aggregate named at all"},
			Checks: []string{"the aggregates parameter against the list in docs/history.md"},
			Fix:    "use names such as count, min, max, avg, twa, total, range, first, last, stddev, pct_good, pct_bad, dur_state_zero, dur_state_nonzero, transitions, interpolative"},
		Entry{Code: QueryBuckets, Name: "query.buckets", Title: "a history query asks for too many intervals, points or pixels",
			Causes: []string{"an interval too short for the time range", "a bucket count or width above the limit"},
			Checks: []string{"the range divided by the interval, the buckets or width parameter"},
			Fix:    "choose a longer interval or a shorter range so that at most 100000 intervals result"},
		Entry{Code: QueryGlob, Name: "query.glob", Title: "a tag pattern in a history query is malformed",
			Causes: []string{"an unclosed [ in the pattern", "a backslash at the end"},
			Checks: []string{"the tags parameter; patterns use path.Match syntax per segment"},
			Fix:    "close brackets and escape special characters, or list the tags by name"},
		Entry{Code: QueryTags, Name: "query.tags", Title: "a history query names no tags, or too many",
			Causes: []string{"the tags parameter is empty", "a pattern that matches more tags than allowed"},
			Checks: []string{"the tags parameter and what `otlink history latest PATTERN` lists"},
			Fix:    "name at least one tag and narrow patterns that match too many"},
		Entry{Code: QueryCursor, Name: "query.cursor", Title: "a paging cursor of a raw history query is invalid",
			Causes: []string{"the cursor was edited or truncated", "the cursor belongs to a query with other tags"},
			Checks: []string{"that the cursor is passed unchanged with the same tags"},
			Fix:    "repeat the query without a cursor and follow next_cursor from its answer"},
		Entry{Code: QueryArg, Name: "query.arg", Title: "a history query has an invalid parameter",
			Causes: []string{"an unknown mode, quality filter or plot method", "a negative limit or width"},
			Checks: []string{"the parameter named in the message against docs/history.md"},
			Fix:    "use one of the values listed in docs/history.md"},
		Entry{Code: QueryRead, Name: "query.read", Title: "the historian backend failed while answering a query",
			Causes: []string{"a damaged chunk", "the PostgreSQL server went away", "the query was cancelled"},
			Checks: []string{"the wrapped error and its own code", "the historian's log"},
			Fix:    "fix the cause the wrapped error names and repeat the query"},
		Entry{Code: ExportWrite, Name: "export.write", Title: "writing a history export failed",
			Causes: []string{"the disk is full", "the output was closed (a broken pipe)"},
			Checks: []string{"free space on the target and the wrapped error"},
			Fix:    "free space or choose another output and export again"},
		Entry{Code: ExportFormat, Name: "export.format", Title: "an export format or layout is unknown",
			Causes: []string{"a typo in --format or --layout"},
			Checks: []string{"the formats listed in docs/history.md"},
			Fix:    "use --format csv or parquet, --layout long or wide"},
		Entry{Code: LossySettings, Name: "lossy.settings", Title: "a tag's lossy compression settings are invalid",
			Causes: []string{"a negative deviation or time", "a minimum time above the maximum time"},
			Checks: []string{"exc_dev, exc_min, exc_max, comp_dev, comp_min, comp_max of the tag"},
			Fix:    "use deviations ≥ 0 in the tag's units and min ≤ max times; 0 turns a filter off"},
	)
}

package query

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/agg"
	"github.com/otlink/otlink/internal/historian/lossy"
	"github.com/otlink/otlink/internal/model"
)

// Defaults and limits; Config overrides them.
const (
	DefaultFrom     = "now-1h"
	DefaultTo       = "now"
	DefaultLimit    = 10_000
	MaxLimit        = 1_000_000
	DefaultMaxTags  = 1000
	DefaultWidth    = 1000
	MaxBuckets      = agg.MaxBuckets
	lttbOversample  = 8
	ctxCheckSamples = 4096
)

// Config tunes an Engine. The zero value is usable.
type Config struct {
	MaxTags  int // tags one request may name or match; 0 means DefaultMaxTags
	MaxLimit int // raw samples one page may hold; 0 means MaxLimit
	// TagInfo returns a tag's lossy compression settings, shown beside
	// results computed from its (compressed) samples. Nil means none.
	TagInfo func(tag string) (lossy.Settings, bool)
	// Now is the clock for relative times; nil means time.Now.
	Now func() time.Time
	// RawKept returns how long a tag's raw samples are kept (0: forever);
	// aggregates reaching further back are read from rollups when the
	// Reader has them (Rollups). Nil means forever.
	RawKept func(tag string) time.Duration
	// RollupSpan: aggregates over a longer range are read from rollups
	// too (0: DefaultRollupSpan, 7 days).
	RollupSpan time.Duration
	// RollupLag: buckets ending later than now - RollupLag are computed
	// from raw samples, their rollups may not be written yet (0:
	// DefaultRollupLag, 5 min).
	RollupLag time.Duration
}

// Engine answers history queries from a historian.Reader. It is safe for
// concurrent use when the Reader is.
type Engine struct {
	r historian.Reader
	c Config
}

// New returns an Engine reading from r; it does no I/O.
func New(r historian.Reader, c Config) *Engine {
	if c.MaxTags <= 0 {
		c.MaxTags = DefaultMaxTags
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = MaxLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RollupSpan <= 0 {
		c.RollupSpan = DefaultRollupSpan
	}
	if c.RollupLag <= 0 {
		c.RollupLag = DefaultRollupLag
	}
	return &Engine{r: r, c: c}
}

// After is an optional Reader ability: the first sample of tag with
// Source >= t. Readers without it are asked for Raw(tag, t, MaxInt64) and
// only its first sample is read.
type After interface {
	After(ctx context.Context, tag string, t int64) (s model.Sample, ok bool, err error)
}

// Point is one sample in a response.
type Point struct {
	Time    time.Time   `json:"t"` // source time, UTC, RFC 3339 with nanoseconds
	Value   model.Value `json:"v"` // null when there is no value
	Quality Status      `json:"q"`
	Code    uint16      `json:"code,omitempty"` // OTL code explaining a bad quality
}

func point(s model.Sample) Point {
	return Point{Time: time.Unix(0, s.Source).UTC(), Value: s.Value, Quality: Status(s.Quality), Code: s.Code}
}

// Series is the points of one tag.
type Series struct {
	Tag    string  `json:"tag"`
	Points []Point `json:"points"`
	// Compression is set when the tag's samples were stored through a
	// lossy filter: what is shown was reconstructed within these bounds.
	Compression *lossy.Settings `json:"compression,omitempty"`
}

// Quality filters of raw queries.
const (
	QualityAll        = "all"         // every sample
	QualityGood       = "good"        // Good severity only
	QualityExcludeBad = "exclude-bad" // Good and Uncertain
)

// RawRequest asks for the stored samples of tags in [From, To).
type RawRequest struct {
	Tags    []string `json:"tags"`              // names or path.Match patterns ("line1/*/temp")
	From    string   `json:"from,omitempty"`    // see ParseTime; default now-1h
	To      string   `json:"to,omitempty"`      // exclusive; default now
	Limit   int      `json:"limit,omitempty"`   // samples in this page over all tags; default 10000
	Quality string   `json:"quality,omitempty"` // all (default), good, exclude-bad
	Cursor  string   `json:"cursor,omitempty"`  // next_cursor of the previous page; fixes From and To
}

// RawResponse is one page of raw samples, tag after tag in the order of
// the resolved tag list. NextCursor is set when more samples follow.
type RawResponse struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Series     []Series  `json:"series"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// AtRequest asks for the value of tags at one time.
type AtRequest struct {
	Tags []string `json:"tags"`
	Time string   `json:"time,omitempty"` // default now
	Mode string   `json:"mode,omitempty"` // auto (default), stepped, linear
}

// Modes of AtRequest.
const (
	ModeAuto    = "auto"    // stepped for bool, integer and string tags, linear for floats
	ModeStepped = "stepped" // the last value at or before the time holds
	ModeLinear  = "linear"  // interpolated between the samples around the time (floats)
)

// AtValue is one tag's value at the requested time.
type AtValue struct {
	Tag     string      `json:"tag"`
	Value   model.Value `json:"v"`
	Quality Status      `json:"q"` // Interpolated bit when no sample lies exactly at the time
	Code    uint16      `json:"code,omitempty"`
	Mode    string      `json:"mode"`             // stepped or linear, as applied
	Source  *time.Time  `json:"source,omitempty"` // time of the sample at or before the time
}

// AtResponse holds the values in the order of the resolved tags.
type AtResponse struct {
	Time   time.Time `json:"time"`
	Values []AtValue `json:"values"`
}

// AggOptions are the Part 13 aggregate configuration of a request.
type AggOptions struct {
	TreatUncertainAsBad bool    `json:"treat_uncertain_as_bad,omitempty"`
	PercentGood         float64 `json:"percent_good,omitempty"` // 0..100, default 100
	PercentBad          float64 `json:"percent_bad,omitempty"`  // 0..100, default 100
	Stepped             bool    `json:"stepped,omitempty"`      // step floats too (bool/int/string always step)
}

// AggRequest asks for aggregates of tags over intervals [From+k·Interval,
// From+(k+1)·Interval) ∩ [From, To). Give Interval or Buckets; with
// neither, one interval covers the range.
type AggRequest struct {
	Tags       []string `json:"tags"`
	From       string   `json:"from,omitempty"`
	To         string   `json:"to,omitempty"`
	Interval   string   `json:"interval,omitempty"` // "1m", "15m", "1h", "1d"
	Buckets    int      `json:"buckets,omitempty"`  // number of intervals, when Interval is empty
	Aggregates []string `json:"aggregates"`         // names, see Aggregates()
	AggOptions
}

// AggValue is one aggregate of one interval.
type AggValue struct {
	Value  model.Value `json:"v"`           // null when the aggregate has no value
	Time   *time.Time  `json:"t,omitempty"` // min, max: when; first, last: the sample's time
	Status *Status     `json:"q,omitempty"` // only where it differs from the interval's status
}

// Bucket is one processing interval; Values line up with
// AggResponse.Aggregates.
type Bucket struct {
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end"`
	Status Status     `json:"q"`
	Values []AggValue `json:"values"`
}

// AggSeries is one tag's intervals.
type AggSeries struct {
	Tag         string          `json:"tag"`
	Compression *lossy.Settings `json:"compression,omitempty"`
	// Rollup is "1m" or "1h" when (the older) buckets were combined from
	// the store's rollups instead of raw samples.
	Rollup  string   `json:"rollup,omitempty"`
	Buckets []Bucket `json:"buckets"`
}

// AggResponse answers an AggRequest.
type AggResponse struct {
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	Interval   string      `json:"interval"`
	Aggregates []string    `json:"aggregates"` // canonical names, in the requested order
	Series     []AggSeries `json:"series"`
}

// Plot methods.
const (
	MethodMinMax = "minmax" // per pixel column the minimum and maximum, plus both ends
	MethodLTTB   = "lttb"   // Largest-Triangle-Three-Buckets to Width points
)

// PlotRequest asks for points to draw tags on a chart Width pixels wide.
type PlotRequest struct {
	Tags   []string `json:"tags"`
	From   string   `json:"from,omitempty"`
	To     string   `json:"to,omitempty"`
	Width  int      `json:"width,omitempty"`  // default 1000, at most 100000
	Method string   `json:"method,omitempty"` // minmax (default) or lttb
}

// PlotResponse holds the decimated points of each tag.
type PlotResponse struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Width  int       `json:"width"`
	Method string    `json:"method"`
	Series []Series  `json:"series"`
}

// LatestRequest asks for the newest sample of tags (names or patterns).
type LatestRequest struct {
	Tags []string `json:"tags"`
}

// TagPoint is a Point with its tag.
type TagPoint struct {
	Tag string `json:"tag"`
	Point
}

// LatestResponse holds one value per tag; a tag with no samples has a
// null value and quality BadWaitingForInitialData.
type LatestResponse struct {
	Values []TagPoint `json:"values"`
}

// ---- common parts ----

func (e *Engine) timeRange(from, to string) (int64, int64, error) {
	now := e.c.Now()
	if from == "" {
		from = DefaultFrom
	}
	if to == "" {
		to = DefaultTo
	}
	f, err := ParseTime(from, now)
	if err != nil {
		return 0, 0, err
	}
	t, err := ParseTime(to, now)
	if err != nil {
		return 0, 0, err
	}
	if !t.After(f) {
		return 0, 0, errcode.New(errcode.QueryRange, "range from %s to %s is empty", f.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano))
	}
	return f.UnixNano(), t.UnixNano(), nil
}

// Tags resolves names and patterns to tags: a pattern (with * ? or [) is
// expanded through the Reader, a plain name is kept even when it has no
// data (its results say BadNoData). Duplicates are dropped.
func (e *Engine) Tags(ctx context.Context, names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !strings.ContainsAny(n, "*?[\\") {
			add(n)
			continue
		}
		if _, err := path.Match(n, ""); err != nil {
			return nil, errcode.Wrap(errcode.QueryGlob, err, "tag pattern %q", n)
		}
		ts, err := e.r.Tags(ctx, n)
		if err != nil {
			return nil, errcode.Wrap(errcode.QueryRead, err, "list tags matching %q", n)
		}
		for _, t := range ts {
			add(t)
			if len(out) > e.c.MaxTags {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errcode.New(errcode.QueryTags, "no tags named or matched by %q", names)
	}
	if len(out) > e.c.MaxTags {
		return nil, errcode.New(errcode.QueryTags, "tags %q give more than %d tags", names, e.c.MaxTags)
	}
	return out, nil
}

func (e *Engine) compression(tag string) *lossy.Settings {
	if e.c.TagInfo == nil {
		return nil
	}
	if s, ok := e.c.TagInfo(tag); ok && !s.IsZero() {
		return &s
	}
	return nil
}

func readErr(err error, what, tag string) error {
	if errcode.Of(err) == errcode.QueryRead {
		return err
	}
	return errcode.Wrap(errcode.QueryRead, err, "%s of %s", what, tag)
}

// after returns the first sample of tag with Source >= t.
func (e *Engine) after(ctx context.Context, tag string, t int64) (model.Sample, bool, error) {
	if a, ok := e.r.(After); ok {
		return a.After(ctx, tag, t)
	}
	it, err := e.r.Raw(ctx, tag, t, math.MaxInt64)
	if err != nil {
		return model.Sample{}, false, err
	}
	defer it.Close()
	if it.Next() {
		return it.At(), true, nil
	}
	return model.Sample{}, false, it.Err()
}

// maxLookback bounds how many earlier timestamps lead walks back over.
const maxLookback = 64

// lead returns the samples before from that agg needs: the last one (it
// bounds the first interval) and, when that one is not good, back to the
// last good one (NumberOfTransitions compares with it). The walk stops
// after maxLookback timestamps: a tag bad for longer counts its first good
// sample in range as no transition.
func (e *Engine) lead(ctx context.Context, tag string, from int64, o *agg.Options) ([]model.Sample, error) {
	var out []model.Sample
	t := from
	for range maxLookback {
		s, ok, err := e.r.Before(ctx, tag, t)
		if err != nil {
			return nil, readErr(err, "read before the range", tag)
		}
		if !ok {
			break
		}
		// Every sample at that time: Before gives only the last one.
		it, err := e.r.Raw(ctx, tag, s.Source, t)
		if err != nil {
			return nil, readErr(err, "read before the range", tag)
		}
		var at []model.Sample
		for it.Next() {
			at = append(at, it.At())
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return nil, readErr(err, "read before the range", tag)
		}
		if len(at) == 0 {
			at = []model.Sample{s}
		}
		out = append(at, out...)
		if slices.ContainsFunc(at, func(s model.Sample) bool { return good(s, o) }) {
			break
		}
		t = s.Source
	}
	return out, nil
}

// good is agg's notion of a usable sample.
func good(s model.Sample, o *agg.Options) bool {
	if !s.Value.IsValid() || s.Quality.IsBad() || (s.Quality.IsUncertain() && o.TreatUncertainAsBad) {
		return false
	}
	return s.Value.T == model.String || !math.IsNaN(s.Value.Float())
}

// chain is an agg.Iterator over the sample before from (when lead), the
// samples in [from, to) and the first sample at or after to (when trail,
// read only if the consumer gets that far). It checks ctx now and then.
type chain struct {
	e        *Engine
	ctx      context.Context
	tag      string
	from, to int64
	trail    bool

	stage int // 0 lead, 1 raw, 2 trail, 3 done
	lead  []model.Sample
	it    historian.Iterator
	cur   model.Sample
	n     int
	err   error
}

func (e *Engine) chain(ctx context.Context, tag string, from, to int64, lead *agg.Options, trail bool) (*chain, error) {
	c := &chain{e: e, ctx: ctx, tag: tag, from: from, to: to, trail: trail, stage: 1}
	if lead != nil {
		ls, err := e.lead(ctx, tag, from, lead)
		if err != nil {
			return nil, err
		}
		c.lead, c.stage = ls, 0
	}
	it, err := e.r.Raw(ctx, tag, from, to)
	if err != nil {
		return nil, readErr(err, "read", tag)
	}
	c.it = it
	return c, nil
}

func (c *chain) Next() bool {
	if c.err != nil {
		return false
	}
	if c.n++; c.n%ctxCheckSamples == 0 {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			return false
		}
	}
	for {
		switch c.stage {
		case 0:
			if len(c.lead) > 0 {
				c.cur, c.lead = c.lead[0], c.lead[1:]
				return true
			}
			c.stage = 1
		case 1:
			if c.it.Next() {
				return true // At reads the store's iterator: no copy here
			}
			if err := c.it.Err(); err != nil {
				c.err = err
				return false
			}
			c.stage = 2
			if !c.trail {
				c.stage = 3
			}
		case 2:
			c.stage = 3
			s, ok, err := c.e.after(c.ctx, c.tag, c.to)
			if err != nil {
				c.err = err
				return false
			}
			if ok {
				c.cur = s
				return true
			}
		default:
			return false
		}
	}
}

func (c *chain) At() model.Sample {
	if c.stage == 1 {
		return c.it.At()
	}
	return c.cur
}

func (c *chain) close() error {
	err := c.it.Close()
	if c.err != nil {
		return readErr(c.err, "read", c.tag)
	}
	if err != nil {
		return readErr(err, "close reader", c.tag)
	}
	return nil
}

// ---- Raw ----

type cursor struct {
	tag      int
	from, to int64
	pos      int64
	skip     int
	hash     uint32
}

func tagsHash(tags []string) uint32 {
	h := fnv.New32a()
	for _, t := range tags {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

func (c cursor) String() string {
	s := fmt.Sprintf("1.%d.%d.%d.%d.%d.%x", c.tag, c.from, c.to, c.pos, c.skip, c.hash)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseCursor(s string, tags []string) (cursor, error) {
	var c cursor
	bad := func(why string) (cursor, error) {
		return cursor{}, errcode.New(errcode.QueryCursor, "cursor %.40q: %s", s, why)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64url")
	}
	f := strings.Split(string(b), ".")
	if len(f) != 7 || f[0] != "1" {
		return bad("unknown layout")
	}
	var n [5]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return bad("malformed")
		}
	}
	h, err := strconv.ParseUint(f[6], 16, 32)
	if err != nil {
		return bad("malformed")
	}
	c = cursor{tag: int(n[0]), from: n[1], to: n[2], pos: n[3], skip: int(n[4]), hash: uint32(h)}
	switch {
	case c.hash != tagsHash(tags):
		return bad("made for other tags")
	case c.tag < 0 || c.tag >= len(tags) || c.from >= c.to || c.pos < c.from || c.pos >= c.to || c.skip < 0:
		return bad("out of range")
	}
	return c, nil
}

func qualityFilter(name string) (func(model.Quality) bool, error) {
	switch name {
	case "", QualityAll:
		return func(model.Quality) bool { return true }, nil
	case QualityGood:
		return model.Quality.IsGood, nil
	case QualityExcludeBad:
		return func(q model.Quality) bool { return !q.IsBad() }, nil
	}
	return nil, errcode.New(errcode.QueryArg, "quality filter %q: want all, good or exclude-bad", name)
}

// Raw returns a page of stored samples.
func (e *Engine) Raw(ctx context.Context, req RawRequest) (*RawResponse, error) {
	keep, err := qualityFilter(req.Quality)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit < 0 || limit > e.c.MaxLimit:
		return nil, errcode.New(errcode.QueryArg, "limit %d: want 1..%d", limit, e.c.MaxLimit)
	case limit == 0:
		limit = min(DefaultLimit, e.c.MaxLimit)
	}
	var from, to int64
	if req.Cursor == "" {
		if from, to, err = e.timeRange(req.From, req.To); err != nil {
			return nil, err
		}
	}
	tags, err := e.Tags(ctx, req.Tags)
	if err != nil {
		return nil, err
	}
	cur := cursor{from: from, to: to, pos: from, hash: tagsHash(tags)}
	if req.Cursor != "" {
		if cur, err = parseCursor(req.Cursor, tags); err != nil {
			return nil, err
		}
		from, to = cur.from, cur.to
	}
	resp := &RawResponse{From: time.Unix(0, from).UTC(), To: time.Unix(0, to).UTC(), Series: []Series{}}
	n := 0
	for i := cur.tag; i < len(tags); i++ {
		start, skip := from, 0
		if i == cur.tag {
			start, skip = cur.pos, cur.skip
		}
		next, err := e.rawTag(ctx, tags[i], start, to, skip, keep, limit-n, resp)
		if err != nil {
			return nil, err
		}
		n += len(resp.Series[len(resp.Series)-1].Points)
		if next != nil {
			next.tag, next.from, next.to, next.hash = i, from, to, cur.hash
			resp.NextCursor = next.String()
			break
		}
	}
	return resp, nil
}

// rawTag appends the series of tag from start (skipping the first skip
// samples at start) with at most room points; it returns where to go on
// when a further sample would pass the filter.
func (e *Engine) rawTag(ctx context.Context, tag string, start, to int64, skip int, keep func(model.Quality) bool, room int, resp *RawResponse) (*cursor, error) {
	it, err := e.r.Raw(ctx, tag, start, to)
	if err != nil {
		return nil, readErr(err, "read", tag)
	}
	defer it.Close()
	ser := Series{Tag: tag, Points: []Point{}, Compression: e.compression(tag)}
	curT, nAt := start, -1
	var next *cursor
	for k := 0; it.Next(); k++ {
		if k%ctxCheckSamples == 0 {
			if err := ctx.Err(); err != nil {
				return nil, readErr(err, "read", tag)
			}
		}
		s := it.At()
		if s.Source == curT {
			nAt++
		} else {
			curT, nAt = s.Source, 0
		}
		if s.Source == start && nAt < skip {
			continue
		}
		if !keep(s.Quality) {
			continue
		}
		if len(ser.Points) >= room {
			next = &cursor{pos: s.Source, skip: nAt}
			break
		}
		ser.Points = append(ser.Points, point(s))
	}
	if err := it.Err(); err != nil {
		return nil, readErr(err, "read", tag)
	}
	resp.Series = append(resp.Series, ser)
	return next, nil
}

// ---- At ----

// At returns the value of each tag at one time.
func (e *Engine) At(ctx context.Context, req AtRequest) (*AtResponse, error) {
	switch req.Mode {
	case "", ModeAuto, ModeStepped, ModeLinear:
	default:
		return nil, errcode.New(errcode.QueryArg, "mode %q: want auto, stepped or linear", req.Mode)
	}
	ts := req.Time
	if ts == "" {
		ts = "now"
	}
	tt, err := ParseTime(ts, e.c.Now())
	if err != nil {
		return nil, err
	}
	t := tt.UnixNano()
	tags, err := e.Tags(ctx, req.Tags)
	if err != nil {
		return nil, err
	}
	resp := &AtResponse{Time: time.Unix(0, t).UTC(), Values: make([]AtValue, 0, len(tags))}
	for _, tag := range tags {
		v, err := e.at(ctx, tag, t, req.Mode)
		if err != nil {
			return nil, err
		}
		resp.Values = append(resp.Values, v)
	}
	return resp, nil
}

func (e *Engine) at(ctx context.Context, tag string, t int64, mode string) (AtValue, error) {
	out := AtValue{Tag: tag, Quality: Status(agg.BadNoData), Mode: mode}
	if mode == "" || mode == ModeAuto {
		out.Mode = ModeStepped
	}
	if t == math.MaxInt64 {
		return out, nil
	}
	prev, ok, err := e.r.Before(ctx, tag, t+1)
	if err != nil {
		return out, readErr(err, "read before the time", tag)
	}
	if !ok {
		return out, nil
	}
	src := time.Unix(0, prev.Source).UTC()
	out.Source = &src
	if (mode == "" || mode == ModeAuto) && prev.Value.T.IsFloat() {
		out.Mode = ModeLinear
	}
	ss := []model.Sample{prev}
	if out.Mode == ModeLinear && prev.Source != t {
		next, ok, err := e.after(ctx, tag, t+1)
		if err != nil {
			return out, readErr(err, "read after the time", tag)
		}
		if ok {
			ss = append(ss, next)
		}
	}
	v, st := agg.ValueAt(ss, t, out.Mode == ModeStepped)
	out.Quality = Status(st)
	switch {
	case st&0xFFFF0000 == agg.BadNoData:
		if prev.Quality.IsBad() { // say why rather than "no data"
			out.Quality, out.Code = Status(prev.Quality), prev.Code
		}
	case v == prev.Value.Float() || !prev.Value.T.IsFloat():
		out.Value = prev.Value
	default:
		out.Value = model.FloatValue(prev.Value.T, v)
	}
	return out, nil
}

// ---- Latest ----

// Latest returns the newest sample of each tag.
func (e *Engine) Latest(ctx context.Context, req LatestRequest) (*LatestResponse, error) {
	tags, err := e.Tags(ctx, req.Tags)
	if err != nil {
		return nil, err
	}
	ss, err := e.r.Latest(ctx, tags)
	if err != nil {
		return nil, errcode.Wrap(errcode.QueryRead, err, "read latest of %d tags", len(tags))
	}
	resp := &LatestResponse{Values: make([]TagPoint, 0, len(ss))}
	for i, s := range ss {
		tp := TagPoint{Tag: s.Tag, Point: point(s)}
		if tp.Tag == "" && i < len(tags) {
			tp.Tag = tags[i]
		}
		if s.Quality == model.BadWaitingForInitialData && !s.Value.IsValid() {
			tp.Time = time.Time{}
		}
		resp.Values = append(resp.Values, tp)
	}
	return resp, nil
}

// ---- Plot ----

// Plot returns decimated points of each tag for a chart.
func (e *Engine) Plot(ctx context.Context, req PlotRequest) (*PlotResponse, error) {
	w := req.Width
	switch {
	case w < 0 || w > MaxBuckets:
		return nil, errcode.New(errcode.QueryBuckets, "width %d: want 1..%d", w, MaxBuckets)
	case w == 0:
		w = DefaultWidth
	}
	m := req.Method
	switch m {
	case "":
		m = MethodMinMax
	case MethodMinMax, MethodLTTB:
	default:
		return nil, errcode.New(errcode.QueryArg, "plot method %q: want minmax or lttb", m)
	}
	from, to, err := e.timeRange(req.From, req.To)
	if err != nil {
		return nil, err
	}
	tags, err := e.Tags(ctx, req.Tags)
	if err != nil {
		return nil, err
	}
	resp := &PlotResponse{From: time.Unix(0, from).UTC(), To: time.Unix(0, to).UTC(), Width: w, Method: m, Series: make([]Series, 0, len(tags))}
	var buf []model.Sample
	for _, tag := range tags {
		c, err := e.chain(ctx, tag, from, to, nil, false)
		if err != nil {
			return nil, err
		}
		buckets := w
		if m == MethodLTTB {
			// LTTB needs the points in memory; a min/max pass at a finer
			// resolution first keeps that bounded and loses no extreme.
			buckets = min(w*lttbOversample, MaxBuckets)
		}
		buf, err = agg.MinMax(c, from, to, buckets, buf[:0])
		if cerr := c.close(); cerr != nil {
			return nil, cerr
		}
		if err != nil {
			return nil, readErr(err, "decimate", tag)
		}
		pts := buf
		if m == MethodLTTB {
			pts = agg.LTTB(buf, w)
		}
		ser := Series{Tag: tag, Points: make([]Point, len(pts)), Compression: e.compression(tag)}
		for i, s := range pts {
			ser.Points[i] = point(s)
		}
		resp.Series = append(resp.Series, ser)
	}
	return resp, nil
}

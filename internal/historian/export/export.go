package export

import (
	"context"
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

// Layouts of CSV exports.
const (
	Long = "long" // one row per sample: time,tag,value,quality,code
	Wide = "wide" // one row per timestamp, one column per tag
)

// Info is a progress report.
type Info struct {
	Samples  int64   // samples written so far
	Bytes    int64   // bytes written so far
	Fraction float64 // share of the work done, 0..1 (tags × time range)
	Done     bool    // the last report
}

// Progress receives reports every few thousand samples and once at the
// end. It runs on the exporting goroutine and must be quick.
type Progress func(Info)

// Options tune an export.
type Options struct {
	Layout   string   // CSV only: long (default) or wide
	Progress Progress // nil for none
	// Fill carries a tag's last value into later rows of the wide layout
	// instead of leaving the cell empty.
	Fill bool
}

const reportEvery = 8192

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tracker turns positions into progress reports.
type tracker struct {
	p        Progress
	from, to int64
	ntags    int
	samples  int64
	bytes    func() int64
}

func (t *tracker) sample(tagIdx int, at int64) {
	t.samples++
	if t.p == nil || t.samples%reportEvery != 0 {
		return
	}
	f := (float64(tagIdx) + float64(at-t.from)/float64(t.to-t.from)) / float64(t.ntags)
	t.p(Info{Samples: t.samples, Bytes: t.bytes(), Fraction: min(max(f, 0), 1)})
}

func (t *tracker) done() {
	if t.p != nil {
		t.p(Info{Samples: t.samples, Bytes: t.bytes(), Fraction: 1, Done: true})
	}
}

func checkRange(tags []string, from, to time.Time) error {
	if !to.After(from) {
		return errcode.New(errcode.QueryRange, "export range from %s to %s is empty", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	if len(tags) == 0 {
		return errcode.New(errcode.QueryTags, "export of no tags")
	}
	return nil
}

func readErr(err error, tag string) error {
	return errcode.Wrap(errcode.QueryRead, err, "read %s for export", tag)
}

func writeErr(err error) error {
	if errcode.Of(err) != 0 {
		return err
	}
	return errcode.Wrap(errcode.ExportWrite, err, "write export")
}

// valueText is the CSV text of a value: empty when there is none, floats
// in the shortest form that reads back exactly.
func valueText(v model.Value) string {
	if !v.IsValid() {
		return ""
	}
	return v.Str()
}

// CSV writes the samples of tags with from ≤ source time < to. The long
// layout has the header time,tag,value,quality,code and one row per
// sample, tag after tag; times are RFC 3339 with nanoseconds in UTC,
// quality is the OPC UA name, code the OTL code of a bad sample. The wide
// layout has the header time,<tag>... and one row per distinct timestamp;
// a cell is empty when the tag has no good or uncertain sample at that
// time (unless Fill).
func CSV(ctx context.Context, w io.Writer, r historian.Reader, tags []string, from, to time.Time, o Options) error {
	if err := checkRange(tags, from, to); err != nil {
		return err
	}
	cw := &counter{w: w}
	out := csv.NewWriter(cw)
	tr := &tracker{p: o.Progress, from: from.UnixNano(), to: to.UnixNano(), ntags: len(tags), bytes: func() int64 { return cw.n }}
	var err error
	switch o.Layout {
	case "", Long:
		err = csvLong(ctx, out, r, tags, tr)
	case Wide:
		tr.ntags = 1
		err = csvWide(ctx, out, r, tags, tr, o.Fill)
	default:
		return errcode.New(errcode.ExportFormat, "csv layout %q: want long or wide", o.Layout)
	}
	if err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return writeErr(err)
	}
	tr.done()
	return nil
}

func csvLong(ctx context.Context, out *csv.Writer, r historian.Reader, tags []string, tr *tracker) error {
	if err := out.Write([]string{"time", "tag", "value", "quality", "code"}); err != nil {
		return writeErr(err)
	}
	rec := make([]string, 5)
	var tb []byte
	for i, tag := range tags {
		it, err := r.Raw(ctx, tag, tr.from, tr.to)
		if err != nil {
			return readErr(err, tag)
		}
		for it.Next() {
			s := it.At()
			tb = time.Unix(0, s.Source).UTC().AppendFormat(tb[:0], time.RFC3339Nano)
			rec[0], rec[1], rec[2], rec[3] = string(tb), tag, valueText(s.Value), s.Quality.String()
			rec[4] = ""
			if s.Code != 0 {
				rec[4] = strconv.Itoa(int(s.Code))
			}
			if err := out.Write(rec); err != nil {
				it.Close()
				return writeErr(err)
			}
			tr.sample(i, s.Source)
			if tr.samples%reportEvery == 0 && ctx.Err() != nil {
				it.Close()
				return readErr(ctx.Err(), tag)
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return readErr(err, tag)
		}
	}
	return nil
}

// csvWide merges the tags' iterators by time; memory is one sample per tag.
func csvWide(ctx context.Context, out *csv.Writer, r historian.Reader, tags []string, tr *tracker, fill bool) error {
	its := make([]historian.Iterator, len(tags))
	defer func() {
		for _, it := range its {
			if it != nil {
				it.Close()
			}
		}
	}()
	head := make([]model.Sample, len(tags))
	live := make([]bool, len(tags))
	for i, tag := range tags {
		it, err := r.Raw(ctx, tag, tr.from, tr.to)
		if err != nil {
			return readErr(err, tag)
		}
		its[i] = it
		if live[i] = it.Next(); live[i] {
			head[i] = it.At()
		} else if err := it.Err(); err != nil {
			return readErr(err, tag)
		}
	}
	if err := out.Write(append([]string{"time"}, tags...)); err != nil {
		return writeErr(err)
	}
	rec := make([]string, len(tags)+1)
	var tb []byte
	for rows := 1; ; rows++ {
		t := int64(math.MaxInt64)
		for i := range its {
			if live[i] && head[i].Source < t {
				t = head[i].Source
			}
		}
		if t == math.MaxInt64 {
			return nil
		}
		if !fill {
			clear(rec)
		}
		tb = time.Unix(0, t).UTC().AppendFormat(tb[:0], time.RFC3339Nano)
		rec[0] = string(tb)
		for i, it := range its {
			// Every sample of this tag at t: the last one wins the cell.
			for live[i] && head[i].Source == t {
				s := head[i]
				if !s.Quality.IsBad() && s.Value.IsValid() {
					rec[i+1] = valueText(s.Value)
				} else {
					rec[i+1] = ""
				}
				tr.sample(0, t) // progress by time, over all tags at once
				if live[i] = it.Next(); live[i] {
					head[i] = it.At()
				} else if err := it.Err(); err != nil {
					return readErr(err, tags[i])
				}
			}
		}
		if err := out.Write(rec); err != nil {
			return writeErr(err)
		}
		if rows%reportEvery == 0 && ctx.Err() != nil {
			return readErr(ctx.Err(), "tags")
		}
	}
}

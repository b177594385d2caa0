package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

type mem map[string][]model.Sample

type sliceIt struct {
	s []model.Sample
	i int
}

func (it *sliceIt) Next() bool       { it.i++; return it.i < len(it.s) }
func (it *sliceIt) At() model.Sample { return it.s[it.i] }
func (it *sliceIt) Err() error       { return nil }
func (it *sliceIt) Close() error     { return nil }

func (m mem) Raw(ctx context.Context, tag string, from, to int64) (historian.Iterator, error) {
	ss := m[tag]
	lo := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= from })
	hi := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= to })
	return &sliceIt{s: ss[lo:max(lo, hi)], i: -1}, nil
}
func (m mem) Before(context.Context, string, int64) (model.Sample, bool, error) {
	return model.Sample{}, false, nil
}
func (m mem) Latest(context.Context, []string) ([]model.Sample, error) { return nil, nil }
func (m mem) Tags(context.Context, string) ([]string, error)           { return nil, nil }

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func data(n int) (mem, []string) {
	m := mem{}
	for i := range n {
		t := t0.UnixNano() + int64(i)*1e9 + int64(i%7)
		m["a/temp"] = append(m["a/temp"], model.Sample{Tag: "a/temp", Source: t, Value: model.FloatValue(model.Float64, 20+float64(i)/3)})
		if i%2 == 0 {
			m["a/count"] = append(m["a/count"], model.Sample{Tag: "a/count", Source: t, Value: model.IntValue(model.Int64, math.MaxInt64-int64(i))})
		}
	}
	m["a/text"] = []model.Sample{
		{Tag: "a/text", Source: t0.UnixNano(), Value: model.StringValue("he said \"stop, now\"\nthen left")},
		{Tag: "a/text", Source: t0.UnixNano() + 5e9, Quality: model.BadTimeout, Code: 2102},
		{Tag: "a/text", Source: t0.UnixNano() + 6e9, Value: model.FloatValue(model.Float64, math.NaN())},
	}
	return m, []string{"a/temp", "a/count", "a/text"}
}

func TestCSVLongRoundTrip(t *testing.T) {
	m, tags := data(20000)
	var buf bytes.Buffer
	var infos []Info
	err := CSV(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{Progress: func(i Info) { infos = append(infos, i) }})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "time,tag,value,quality,code" {
		t.Fatalf("header %v", recs[0])
	}
	recs = recs[1:]
	i := 0
	for _, tag := range tags {
		for _, s := range m[tag] {
			r := recs[i]
			i++
			tm, err := time.Parse(time.RFC3339Nano, r[0])
			if err != nil || tm.UnixNano() != s.Source || r[1] != tag || r[3] != s.Quality.String() {
				t.Fatalf("row %d %v for %+v", i, r, s)
			}
			switch {
			case !s.Value.IsValid():
				if r[2] != "" || r[4] != "2102" {
					t.Fatalf("row %d: %v", i, r)
				}
			case s.Value.T == model.String:
				if r[2] != s.Value.Str() {
					t.Fatalf("string %q, want %q", r[2], s.Value.Str())
				}
			case s.Value.T == model.Int64:
				if n, err := strconv.ParseInt(r[2], 10, 64); err != nil || n != s.Value.Int() {
					t.Fatalf("int %s, want %d", r[2], s.Value.Int())
				}
			default:
				f, err := strconv.ParseFloat(r[2], 64)
				if err != nil || (f != s.Value.Float() && !math.IsNaN(s.Value.Float())) {
					t.Fatalf("float %s, want %v", r[2], s.Value.Float())
				}
			}
		}
	}
	if i != len(recs) {
		t.Fatalf("%d rows, want %d", len(recs), i)
	}
	last := infos[len(infos)-1]
	if len(infos) < 3 || !last.Done || last.Samples != int64(i) || last.Fraction != 1 {
		t.Fatalf("progress: %d reports, last %+v", len(infos), last)
	}
	for k := 1; k < len(infos); k++ {
		if infos[k].Fraction < infos[k-1].Fraction || infos[k].Samples <= infos[k-1].Samples || infos[k].Bytes < infos[k-1].Bytes {
			t.Fatalf("progress goes back: %+v then %+v", infos[k-1], infos[k])
		}
	}
}

func TestCSVWide(t *testing.T) {
	m, tags := data(10)
	var buf bytes.Buffer
	if err := CSV(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{Layout: Wide}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "time,a/temp,a/count,a/text" || len(recs) != 1+10+2 {
		t.Fatalf("wide: %d rows, header %v", len(recs), recs[0])
	}
	// Row 1 is t0: all three tags; row 2 is t0+1s: only temp.
	if recs[1][3] == "" || recs[1][2] != strconv.FormatInt(math.MaxInt64, 10) || recs[2][2] != "" || recs[2][1] == "" {
		t.Fatalf("wide rows: %q %q", recs[1], recs[2])
	}
	buf.Reset()
	if err := CSV(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{Layout: Wide, Fill: true}); err != nil {
		t.Fatal(err)
	}
	recs, _ = csv.NewReader(&buf).ReadAll()
	if recs[2][2] == "" {
		t.Fatalf("fill: %q", recs[2])
	}
	if err := CSV(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{Layout: "tall"}); errcode.Of(err) != errcode.ExportFormat {
		t.Errorf("bad layout: %v", err)
	}
	if err := CSV(context.Background(), &buf, m, tags, t0, t0, Options{}); errcode.Of(err) != errcode.QueryRange {
		t.Errorf("empty range: %v", err)
	}
}

func TestParquetRoundTrip(t *testing.T) {
	m, tags := data(10000)
	var buf bytes.Buffer
	var last Info
	if err := Parquet(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{Progress: func(i Info) { last = i }}); err != nil {
		t.Fatal(err)
	}
	if !last.Done || last.Bytes != int64(buf.Len()) {
		t.Errorf("last progress %+v, file %d bytes", last, buf.Len())
	}
	rd := parquet.NewGenericReader[Row](bytes.NewReader(buf.Bytes()))
	defer rd.Close()
	var want []model.Sample
	for _, tag := range tags {
		want = append(want, m[tag]...)
	}
	if rd.NumRows() != int64(len(want)) {
		t.Fatalf("%d rows, want %d", rd.NumRows(), len(want))
	}
	rows := make([]Row, len(want))
	n, err := rd.Read(rows)
	if n != len(want) {
		t.Fatalf("read %d rows: %v", n, err)
	}
	for i, s := range want {
		r := rows[i]
		if r.Time != s.Source || r.Tag != s.Tag || r.Quality != int64(s.Quality) || r.Code != int32(s.Code) || r.Type != s.Value.T.String() {
			t.Fatalf("row %d: %+v for %+v", i, r, s)
		}
		switch {
		case !s.Value.IsValid():
			if r.Value != nil || r.Text != nil {
				t.Fatalf("row %d: value for a sample without one", i)
			}
		case s.Value.T == model.String:
			if r.Text == nil || *r.Text != s.Value.Str() || r.Value != nil {
				t.Fatalf("row %d: text %v", i, r.Text)
			}
		case math.IsNaN(s.Value.Float()):
			if r.Value != nil || r.Text == nil || *r.Text != "NaN" {
				t.Fatalf("row %d: NaN as %v %v", i, r.Value, r.Text)
			}
		default:
			if r.Value == nil || *r.Value != s.Value.Float() || *r.Text != s.Value.Str() {
				t.Fatalf("row %d: value %v text %v, want %v", i, r.Value, r.Text, s.Value)
			}
		}
	}
	t.Logf("parquet: %d samples in %d bytes (%.2f B/sample)", len(want), buf.Len(), float64(buf.Len())/float64(len(want)))
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errcode.New(errcode.ExportWrite, "disk full")
	}
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	m, tags := data(20000)
	if err := CSV(context.Background(), &failWriter{after: 1000}, m, tags, t0, t0.Add(24*time.Hour), Options{}); errcode.Of(err) != errcode.ExportWrite {
		t.Errorf("csv: %v", err)
	}
	if err := Parquet(context.Background(), &failWriter{after: 10}, m, tags, t0, t0.Add(24*time.Hour), Options{}); errcode.Of(err) != errcode.ExportWrite {
		t.Errorf("parquet: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Parquet(ctx, &bytes.Buffer{}, m, tags, t0, t0.Add(24*time.Hour), Options{}); errcode.Of(err) != errcode.QueryRead {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBar(t *testing.T) {
	var out bytes.Buffer
	clock := t0
	b := NewBar(&out, false)
	b.now = func() time.Time { return clock }
	b.Update(Info{Samples: 10, Fraction: 0.5})
	if out.Len() != 0 {
		t.Fatalf("not a terminal: drew %q", out.String())
	}
	clock = clock.Add(2 * time.Second)
	b.Update(Info{Samples: 20, Bytes: 2048, Fraction: 1, Done: true})
	if got := out.String(); got != "exported 20 samples, 2.0 KiB in 2s\n" {
		t.Fatalf("summary %q", got)
	}
	out.Reset()
	b = NewBar(&out, true)
	b.now = func() time.Time { return clock }
	b.Update(Info{Samples: 10, Fraction: 0.5})
	b.Update(Info{Samples: 11, Fraction: 0.6}) // too soon: not drawn
	clock = clock.Add(time.Second)
	b.Update(Info{Samples: 20, Fraction: 1, Done: true})
	lines := strings.Split(out.String(), "\r")
	if len(lines) != 3 || !strings.Contains(lines[1], "[###############...............]  50%") ||
		!strings.Contains(lines[2], "100% 20 samples") || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("tty output %q", out.String())
	}
}

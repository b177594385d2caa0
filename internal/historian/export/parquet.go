package export

import (
	"context"
	"io"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

// Row is one sample in a Parquet export; its tags define the schema.
// Value holds numbers and bools (1/0) as doubles; Text holds the exact
// text of every valid value, so strings and 64-bit integers beyond 2^53
// survive. Both are null when the sample has no value.
type Row struct {
	Time        int64    `parquet:"time,timestamp(nanosecond)"`
	Tag         string   `parquet:"tag,dict"`
	Type        string   `parquet:"type,dict"`
	Value       *float64 `parquet:"value,optional"`
	Text        *string  `parquet:"text,optional"`
	Quality     int64    `parquet:"quality"` // OPC UA StatusCode
	QualityName string   `parquet:"quality_name,dict"`
	Code        int32    `parquet:"code"` // OTL code explaining a bad quality, 0 otherwise
}

func row(s model.Sample, tag string) Row {
	r := Row{Time: s.Source, Tag: tag, Type: s.Value.T.String(), Quality: int64(s.Quality),
		QualityName: s.Quality.String(), Code: int32(s.Code)}
	if s.Value.IsValid() {
		txt := s.Value.Str()
		r.Text = &txt
		if s.Value.T != model.String {
			f := s.Value.Float()
			if !math.IsNaN(f) {
				r.Value = &f
			}
		}
	}
	return r
}

const parquetBatch = 4096

// Parquet writes the samples of tags with from ≤ source time < to as one
// Parquet file (zstd, a row group per million rows), tag after tag.
func Parquet(ctx context.Context, w io.Writer, r historian.Reader, tags []string, from, to time.Time, o Options) error {
	if err := checkRange(tags, from, to); err != nil {
		return err
	}
	cw := &counter{w: w}
	pw := parquet.NewGenericWriter[Row](cw, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(1<<20))
	tr := &tracker{p: o.Progress, from: from.UnixNano(), to: to.UnixNano(), ntags: len(tags), bytes: func() int64 { return cw.n }}
	buf := make([]Row, 0, parquetBatch)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := pw.Write(buf)
		buf = buf[:0]
		return err
	}
	for i, tag := range tags {
		it, err := r.Raw(ctx, tag, tr.from, tr.to)
		if err != nil {
			return readErr(err, tag)
		}
		for it.Next() {
			s := it.At()
			buf = append(buf, row(s, tag))
			tr.sample(i, s.Source)
			if len(buf) == parquetBatch {
				if err := flush(); err != nil {
					it.Close()
					return writeErr(err)
				}
				if err := ctx.Err(); err != nil {
					it.Close()
					return readErr(err, tag)
				}
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return readErr(err, tag)
		}
	}
	if err := flush(); err != nil {
		return writeErr(err)
	}
	if err := pw.Close(); err != nil {
		return writeErr(err)
	}
	tr.done()
	return nil
}

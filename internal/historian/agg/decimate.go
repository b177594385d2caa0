package agg

import (
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// plottable reports whether s has a value a chart can draw.
func plottable(s *model.Sample) (float64, bool) {
	if !s.Value.IsValid() || s.Quality.IsBad() || s.Value.T == model.String {
		return 0, false
	}
	f := s.Value.Float()
	return f, !math.IsNaN(f)
}

// MinMax decimates samples in [start, end) for a chart of the given
// width: per bucket (pixel column) the samples holding the minimum and the
// maximum, in time order, plus the first and last drawable samples, so the
// envelope and the ends of the line are exact. Bad, string and NaN samples
// are skipped. Memory is O(buckets).
func MinMax(it Iterator, start, end int64, buckets int, dst []model.Sample) ([]model.Sample, error) {
	if end <= start || buckets <= 0 || buckets > MaxBuckets {
		return dst, errcode.New(errcode.HistAggArgs, "min/max decimation of [%d, %d) into %d buckets", start, end, buckets)
	}
	type mm struct {
		lo, hi   model.Sample
		flo, fhi float64
		n        int
	}
	bs := make([]mm, buckets)
	var first, last model.Sample
	have := false
	span := float64(end - start)
	prevT := int64(math.MinInt64)
	for it.Next() {
		s := it.At()
		if s.Source < prevT {
			return dst, errcode.New(errcode.HistAggOrder, "sample at %d after one at %d", s.Source, prevT)
		}
		prevT = s.Source
		if s.Source >= end {
			break
		}
		f, ok := plottable(&s)
		if s.Source < start || !ok {
			continue
		}
		if !have {
			first, have = s, true
		}
		last = s
		k := min(int(float64(s.Source-start)/span*float64(buckets)), buckets-1)
		b := &bs[k]
		if b.n == 0 || f < b.flo {
			b.lo, b.flo = s, f
		}
		if b.n == 0 || f > b.fhi {
			b.hi, b.fhi = s, f
		}
		b.n++
	}
	if !have {
		return dst, nil
	}
	emit := func(s model.Sample) {
		if n := len(dst); n > 0 && dst[n-1] == s {
			return
		}
		dst = append(dst, s)
	}
	emit(first)
	for i := range bs {
		b := &bs[i]
		if b.n == 0 {
			continue
		}
		if b.lo.Source <= b.hi.Source {
			emit(b.lo)
			emit(b.hi)
		} else {
			emit(b.hi)
			emit(b.lo)
		}
	}
	emit(last)
	return dst, nil
}

// LTTB decimates samples to at most threshold points with Steinarsson's
// Largest-Triangle-Three-Buckets: the first and last drawable samples are
// kept, and from each bucket between them the sample forming the largest
// triangle with the previous choice and the next bucket's average. Bad,
// string and NaN samples are skipped. Fewer drawable samples than the
// threshold are returned unchanged.
func LTTB(samples []model.Sample, threshold int) []model.Sample {
	pts := make([]model.Sample, 0, len(samples))
	ys := make([]float64, 0, len(samples))
	for i := range samples {
		if f, ok := plottable(&samples[i]); ok {
			pts = append(pts, samples[i])
			ys = append(ys, f)
		}
	}
	n := len(pts)
	if threshold >= n || threshold < 3 {
		if threshold < 3 && n > 2 && threshold > 0 {
			return []model.Sample{pts[0], pts[n-1]}[:min(threshold, 2)]
		}
		return pts
	}
	out := make([]model.Sample, 0, threshold)
	out = append(out, pts[0])
	every := float64(n-2) / float64(threshold-2)
	a := 0
	t0 := pts[0].Source
	x := func(i int) float64 { return float64(pts[i].Source - t0) }
	for i := range threshold - 2 {
		// The next bucket's average point.
		ns, ne := int(float64(i+1)*every)+1, min(int(float64(i+2)*every)+1, n)
		if ns >= ne { // the last bucket: the last point
			ns, ne = n-1, n
		}
		var ax, ay float64
		for j := ns; j < ne; j++ {
			ax += x(j)
			ay += ys[j]
		}
		ax /= float64(ne - ns)
		ay /= float64(ne - ns)
		// This bucket's point with the largest triangle.
		bs, be := int(float64(i)*every)+1, int(float64(i+1)*every)+1
		best, bestArea := bs, -1.0
		px, py := x(a), ys[a]
		for j := bs; j < be; j++ {
			area := math.Abs((px-ax)*(ys[j]-py) - (px-x(j))*(ay-py))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, pts[best])
		a = best
	}
	return append(out, pts[n-1])
}

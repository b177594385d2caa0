package query

import (
	"context"
	"path"
	"sort"
	"strings"

	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

// mem is a historian.Reader over sorted slices, for tests.
type mem struct {
	series map[string][]model.Sample
	raws   int // Raw calls, to see that lazy reads stay lazy
}

func newMem() *mem { return &mem{series: map[string][]model.Sample{}} }

func (m *mem) add(ss ...model.Sample) {
	for _, s := range ss {
		m.series[s.Tag] = append(m.series[s.Tag], s)
	}
	for _, v := range m.series {
		sort.SliceStable(v, func(i, j int) bool { return v[i].Source < v[j].Source })
	}
}

type sliceIt struct {
	s []model.Sample
	i int
}

func (it *sliceIt) Next() bool       { it.i++; return it.i < len(it.s) }
func (it *sliceIt) At() model.Sample { return it.s[it.i] }
func (it *sliceIt) Err() error       { return nil }
func (it *sliceIt) Close() error     { return nil }

func (m *mem) Raw(ctx context.Context, tag string, from, to int64) (historian.Iterator, error) {
	m.raws++
	ss := m.series[tag]
	lo := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= from })
	hi := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= to })
	return &sliceIt{s: ss[lo:max(lo, hi)], i: -1}, nil
}

func (m *mem) Before(ctx context.Context, tag string, t int64) (model.Sample, bool, error) {
	ss := m.series[tag]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= t })
	if i == 0 {
		return model.Sample{}, false, nil
	}
	return ss[i-1], true, nil
}

func (m *mem) Latest(ctx context.Context, tags []string) ([]model.Sample, error) {
	out := make([]model.Sample, len(tags))
	for i, t := range tags {
		ss := m.series[t]
		if len(ss) == 0 {
			out[i] = model.Sample{Tag: t, Quality: model.BadWaitingForInitialData}
			continue
		}
		out[i] = ss[len(ss)-1]
	}
	return out, nil
}

func (m *mem) Tags(ctx context.Context, glob string) ([]string, error) {
	var out []string
	for t := range m.series {
		ok := glob == ""
		if !ok {
			pp, tp := strings.Split(glob, "/"), strings.Split(t, "/")
			ok = len(pp) == len(tp)
			for i := 0; ok && i < len(pp); i++ {
				ok, _ = path.Match(pp[i], tp[i])
			}
		}
		if ok {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

// memAfter adds the optional After ability.
type memAfter struct{ *mem }

func (m memAfter) After(ctx context.Context, tag string, t int64) (model.Sample, bool, error) {
	ss := m.series[tag]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Source >= t })
	if i == len(ss) {
		return model.Sample{}, false, nil
	}
	return ss[i], true, nil
}

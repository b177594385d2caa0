package app

import (
	"context"
	"sync"

	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/lossy"
	"github.com/otlink/otlink/internal/model"
)

// LossyWriter runs one lossy.Filter per configured tag between the bus
// and the store: Write offers each sample of such a tag to its filter and
// writes only what the filter keeps; other tags pass unchanged.
//
// A filter holds back the newest sample of its tag until the next one
// shows whether it is needed, so the stored history of a lossy tag lags
// by one sample (live values come from the bus). Flush writes what the
// filters hold, at shutdown. A sample older than the last one offered for
// its tag (late data, or a batch redelivered after a failed write) is
// written unfiltered: late data is never dropped, and the store drops
// exact duplicates. Samples a filter released but the store refused are
// kept and written again with the next call, since the batch that held
// them was acknowledged earlier.
type LossyWriter struct {
	w       historian.Writer
	mu      sync.Mutex
	tags    map[string]*lossyTag
	pending []model.Sample
}

type lossyTag struct {
	f    *lossy.Filter
	last int64
	seen bool
}

// NewLossyWriter wraps w with a filter per tag of settings (zero settings
// are left out); it does no I/O.
func NewLossyWriter(w historian.Writer, settings map[string]lossy.Settings) *LossyWriter {
	l := &LossyWriter{w: w, tags: make(map[string]*lossyTag, len(settings))}
	for tag, s := range settings {
		if !s.IsZero() && s.Validate() == nil {
			l.tags[tag] = &lossyTag{f: lossy.New(s)}
		}
	}
	return l
}

// Write filters samples and writes what is kept.
func (l *LossyWriter) Write(ctx context.Context, samples []model.Sample) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append(make([]model.Sample, 0, len(l.pending)+len(samples)), l.pending...)
	for _, s := range samples {
		t := l.tags[s.Tag]
		switch {
		case t == nil:
			out = append(out, s)
		case t.seen && s.Source <= t.last:
			out = append(out, s)
		default:
			t.seen, t.last = true, s.Source
			out = append(out, t.f.Offer(s)...)
		}
	}
	return l.write(ctx, out)
}

func (l *LossyWriter) write(ctx context.Context, out []model.Sample) error {
	if len(out) == 0 {
		l.pending = nil
		return nil
	}
	if err := l.w.Write(ctx, out); err != nil {
		l.pending = out
		return err
	}
	l.pending = nil
	return nil
}

// Flush writes the samples the filters hold back and resets them.
func (l *LossyWriter) Flush(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.pending
	for _, t := range l.tags {
		out = append(out, t.f.Flush()...)
		t.seen = false
	}
	return l.write(ctx, out)
}

package historian

import (
	"context"

	"github.com/otlink/otlink/internal/model"
)

// Writer stores samples. When Write returns nil the samples are durable:
// a crash of the process (SIGKILL) after that loses none of them. Writing
// a sample that is already stored (same tag, source time, value and
// quality) stores nothing: redelivery from the bus is harmless.
type Writer interface {
	Write(ctx context.Context, samples []model.Sample) error
}

// Iterator walks samples of one tag in source-time order. Next must be
// called before At; Err reports why Next returned false early; Close
// releases what the iterator holds and may be called more than once.
type Iterator interface {
	Next() bool
	At() model.Sample
	Err() error
	Close() error
}

// Reader reads stored samples back.
type Reader interface {
	// Raw iterates the samples of tag with from <= Source < to (Unix ns).
	Raw(ctx context.Context, tag string, from, to int64) (Iterator, error)
	// Before returns the last sample of tag with Source < t (for
	// interpolation at the start of a range); ok is false when none.
	Before(ctx context.Context, tag string, t int64) (s model.Sample, ok bool, err error)
	// Latest returns the newest stored sample of each tag, in the order
	// given; a tag with no samples yields a Sample with only Tag set and
	// quality model.BadWaitingForInitialData.
	Latest(ctx context.Context, tags []string) ([]model.Sample, error)
	// Tags lists the stored tags whose path matches glob (path.Match
	// syntax per segment; "" matches all).
	Tags(ctx context.Context, glob string) ([]string, error)
}

// Store is a historian backend.
type Store interface {
	Writer
	Reader
	Close() error
}

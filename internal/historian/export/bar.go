package export

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal (for NewBar).
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Bar draws export progress. On a terminal it redraws one line in place
// (at most every 100 ms, and always at the end); elsewhere it prints only
// a summary line at the end, so logs and pipes stay clean.
type Bar struct {
	w     io.Writer
	tty   bool
	width int
	start time.Time
	last  time.Time
	now   func() time.Time
	shown bool
}

// NewBar returns a Bar writing to w (usually stderr).
func NewBar(w io.Writer, isTerminal bool) *Bar {
	return &Bar{w: w, tty: isTerminal, width: 30, now: time.Now}
}

// Update is a Progress.
func (b *Bar) Update(i Info) {
	now := b.now()
	if b.start.IsZero() {
		b.start = now
	}
	el := now.Sub(b.start)
	if i.Done {
		if b.tty {
			fmt.Fprintf(b.w, "\r%s\n", b.line(i, el))
		} else {
			fmt.Fprintf(b.w, "exported %d samples, %s in %s\n", i.Samples, size(i.Bytes), el.Round(time.Millisecond))
		}
		return
	}
	if !b.tty || (b.shown && now.Sub(b.last) < 100*time.Millisecond) {
		return
	}
	b.last, b.shown = now, true
	fmt.Fprintf(b.w, "\r%s", b.line(i, el))
}

func (b *Bar) line(i Info, el time.Duration) string {
	n := int(i.Fraction*float64(b.width) + 0.5)
	n = min(max(n, 0), b.width)
	rate := ""
	if s := el.Seconds(); s > 0 {
		rate = fmt.Sprintf(" %.0f/s", float64(i.Samples)/s)
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %d samples %s%s %s\x1b[K", strings.Repeat("#", n), strings.Repeat(".", b.width-n),
		100*i.Fraction, i.Samples, size(i.Bytes), rate, el.Round(100*time.Millisecond))
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

package integrity

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the verdict on a range of entries.
type Status string

const (
	StatusVerified Status = "verified" // data and tree match
	StatusGap      Status = "gap"      // a chunk is missing: sequence hole or data gone without a purge
	StatusPurge    Status = "purge"    // removed by a recorded retention purge
	StatusAmended  Status = "amended"  // late data recorded as an amendment
	StatusTampered Status = "tampered" // data, records or tree differ from what was recorded or signed
)

// failing reports whether a status fails verification.
func (s Status) failing() bool { return s == StatusGap || s == StatusTampered }

// Range is one line of a report: consecutive entries of one tag with one
// verdict, or one problem. Tag is empty for problems that cannot be tied to
// a tag (a damaged record, a missing node file).
type Range struct {
	Status     Status    `json:"status"`
	Tag        string    `json:"tag,omitempty"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	Entries    uint64    `json:"entries"`
	Samples    uint64    `json:"samples,omitempty"`
	// purge: the policy and who ran it; purge, amend: the leaves removed or
	// superseded.
	Policy string   `json:"policy,omitempty"`
	Actor  string   `json:"actor,omitempty"`
	Leaves []uint64 `json:"leaves,omitempty"`
	// tampered, gap: the first failing entry, the hash recorded in the log and
	// the hash found in the data.
	FailIndex *uint64 `json:"fail_index,omitempty"`
	Expected  *Hash   `json:"expected,omitempty"`
	Found     *Hash   `json:"found,omitempty"`
	Reason    string  `json:"reason,omitempty"`
}

// CheckpointCheck is the verdict on one signed checkpoint.
type CheckpointCheck struct {
	Source  string `json:"source"` // "store", "bundle" or the name given
	Origin  string `json:"origin,omitempty"`
	Size    uint64 `json:"size"`
	Root    Hash   `json:"root"`
	KeyName string `json:"key_name,omitempty"`
	KeyHash uint32 `json:"key_hash,omitempty"`
	// Status: ok, bad_signature, other_origin, ahead (the log is shorter),
	// mismatch (root differs), inconsistent (consistency proof fails).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (c CheckpointCheck) failing() bool { return c.Status != "ok" }

// Summary counts a report.
type Summary struct {
	Entries           uint64 `json:"entries"`    // leaves in the log (or bundle)
	Chunks            uint64 `json:"chunks"`     // chunk entries selected
	Samples           uint64 `json:"samples"`    // samples in verified chunks
	LeafBytes         uint64 `json:"leaf_bytes"` // entry bytes hashed
	Verified          int    `json:"verified"`   // ranges by status
	Gaps              int    `json:"gaps"`
	Purges            int    `json:"purges"`
	Amended           int    `json:"amended"`
	Tampered          int    `json:"tampered"`
	Omitted           int    `json:"omitted"` // problem ranges beyond MaxRanges
	Checkpoints       int    `json:"checkpoints"`
	CheckpointsFailed int    `json:"checkpoints_failed"`
}

// Report is the result of Verify or VerifyBundle; its JSON form is what
// `otlink verify --json` prints and /api/v1/integrity serves.
type Report struct {
	OK     bool   `json:"ok"`
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   Hash   `json:"root"`
	// VerifierKey is the key signatures were checked with; KeySource says
	// where it came from: "trusted" (given by the caller), "store" or
	// "bundle" (taken from what is being verified, which proves less).
	VerifierKey string            `json:"verifier_key"`
	KeySource   string            `json:"key_source"`
	Recomputed  bool              `json:"recomputed"` // chunk data was re-read and hashed
	Repair      *Repair           `json:"repair,omitempty"`
	Checkpoints []CheckpointCheck `json:"checkpoints"`
	Ranges      []Range           `json:"ranges"`
	Notes       []string          `json:"notes,omitempty"`
	Summary     Summary           `json:"summary"`
}

// ExitCode is 0 when everything verified and 1 otherwise, as `otlink verify`
// exits (2, usage errors, is the caller's).
func (r *Report) ExitCode() int {
	if r.OK {
		return 0
	}
	return 1
}

// finish counts ranges, sorts them and sets OK.
func (r *Report) finish() {
	sort.SliceStable(r.Ranges, func(i, j int) bool {
		a, b := r.Ranges[i], r.Ranges[j]
		if a.Tag != b.Tag {
			return a.Tag < b.Tag
		}
		return a.FirstIndex < b.FirstIndex
	})
	s := &r.Summary
	s.Verified, s.Gaps, s.Purges, s.Amended, s.Tampered = 0, 0, 0, 0, 0
	r.OK = s.Omitted == 0
	for _, g := range r.Ranges {
		switch g.Status {
		case StatusVerified:
			s.Verified++
		case StatusGap:
			s.Gaps++
		case StatusPurge:
			s.Purges++
		case StatusAmended:
			s.Amended++
		case StatusTampered:
			s.Tampered++
		}
		if g.Status.failing() {
			r.OK = false
		}
	}
	s.Checkpoints, s.CheckpointsFailed = len(r.Checkpoints), 0
	for _, c := range r.Checkpoints {
		if c.failing() {
			s.CheckpointsFailed++
			r.OK = false
		}
	}
}

// WriteText renders the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "integrity of %s: %s\n", r.Origin, verdict)
	fmt.Fprintf(&b, "log: %d entries, root %x\n", r.Size, r.Root[:])
	fmt.Fprintf(&b, "key: %s (%s)\n", r.VerifierKey, r.KeySource)
	if !r.Recomputed {
		b.WriteString("chunk data: not re-read (log structure and signatures only)\n")
	}
	if r.Repair != nil && *r.Repair != (Repair{}) {
		fmt.Fprintf(&b, "torn tail ignored: %d records, %d entry bytes\n", r.Repair.Records, r.Repair.EntryBytes)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Checkpoints) > 0 {
		fmt.Fprintln(tw, "\ncheckpoint\tsize\tkey\tstatus\t")
		for _, c := range r.Checkpoints {
			st := c.Status
			if c.Reason != "" {
				st += ": " + c.Reason
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", c.Source, c.Size, c.KeyName, st)
		}
	}
	if len(r.Ranges) > 0 {
		fmt.Fprintln(tw, "\nstatus\ttag\tfrom\tto\tentries\tdetail\t")
		for _, g := range r.Ranges {
			tag := g.Tag
			if tag == "" {
				tag = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d..%d\t%s\t\n", strings.ToUpper(string(g.Status)), tag,
				fmtTime(g.From), fmtTime(g.To), g.FirstIndex, g.LastIndex, detail(g))
		}
	}
	tw.Flush()
	s := r.Summary
	fmt.Fprintf(&b, "\nsummary: %d entries, %d chunks, %d samples; ranges: %d verified, %d gap, %d purge, %d amended, %d tampered",
		s.Entries, s.Chunks, s.Samples, s.Verified, s.Gaps, s.Purges, s.Amended, s.Tampered)
	if s.Omitted > 0 {
		fmt.Fprintf(&b, " (+%d problems not listed)", s.Omitted)
	}
	fmt.Fprintf(&b, "; checkpoints: %d checked, %d failed\n", s.Checkpoints, s.CheckpointsFailed)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func detail(g Range) string {
	var parts []string
	switch g.Status {
	case StatusVerified:
		parts = append(parts, fmt.Sprintf("%d samples", g.Samples))
	case StatusPurge:
		parts = append(parts, fmt.Sprintf("policy %s by %s, %d chunks", g.Policy, g.Actor, len(g.Leaves)))
	case StatusAmended:
		parts = append(parts, fmt.Sprintf("%d samples, supersedes %v", g.Samples, g.Leaves))
	}
	if g.FailIndex != nil {
		parts = append(parts, fmt.Sprintf("first failing entry %d", *g.FailIndex))
	}
	if g.Expected != nil {
		parts = append(parts, "expected "+g.Expected.String())
	}
	if g.Found != nil {
		parts = append(parts, "found "+g.Found.String())
	}
	if g.Reason != "" {
		parts = append(parts, g.Reason)
	}
	return strings.Join(parts, "; ")
}

// builder groups entries into ranges: consecutive entries of one tag with
// the same run status merge; problems stand alone, up to max of them.
type builder struct {
	out      []Range
	last     map[string]int
	problems int
	max      int
	omitted  int
}

func newBuilder(max int) *builder {
	if max <= 0 {
		max = 1000
	}
	return &builder{last: map[string]int{}, max: max}
}

// run adds entry i to the tag's open run of the same status and reason.
func (b *builder) run(i uint64, e *Entry, st Status, reason string) {
	if k, ok := b.last[e.Tag]; ok {
		g := &b.out[k]
		if g.Status == st && g.Reason == reason && g.FailIndex == nil && g.Leaves == nil {
			g.LastIndex = i
			g.Entries++
			g.Samples += e.Count
			if e.From.Before(g.From) {
				g.From = e.From
			}
			if e.To.After(g.To) {
				g.To = e.To
			}
			return
		}
	}
	b.add(Range{Status: st, Tag: e.Tag, From: e.From, To: e.To, FirstIndex: i, LastIndex: i, Entries: 1, Samples: e.Count, Reason: reason})
}

func (b *builder) add(g Range) {
	if g.Status.failing() {
		if b.problems >= b.max {
			b.omitted++
			return
		}
		b.problems++
	}
	if n := len(b.out); n > 0 && g.Status.failing() {
		p := &b.out[n-1]
		if p.Status == g.Status && p.Tag == g.Tag && p.Reason == g.Reason && p.Expected == nil && g.Expected == nil &&
			p.LastIndex+1 == g.FirstIndex {
			p.LastIndex = g.LastIndex
			p.Entries = p.LastIndex - p.FirstIndex + 1
			b.problems--
			return
		}
	}
	if g.Entries == 0 && g.LastIndex >= g.FirstIndex {
		g.Entries = g.LastIndex - g.FirstIndex + 1
	}
	b.out = append(b.out, g)
	b.last[g.Tag] = len(b.out) - 1
}

func ptr[T any](v T) *T { return &v }

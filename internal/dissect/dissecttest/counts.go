package dissecttest

import (
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

// Counts is, per function value, the number of PDUs (or tshark field
// occurrences).
type Counts map[uint32]int

// Total is the sum of all counts.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Diff describes, in increasing value order, every value whose count
// differs between ours and theirs (tshark); "" when they agree.
func Diff(ours, theirs Counts) string {
	keys := map[uint32]bool{}
	for k := range ours {
		keys[k] = true
	}
	for k := range theirs {
		keys[k] = true
	}
	ks := make([]uint32, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	var b strings.Builder
	for _, k := range ks {
		if ours[k] != theirs[k] {
			b.WriteString(" 0x" + strconv.FormatUint(uint64(k), 16) + ": ours " + strconv.Itoa(ours[k]) + " tshark " + strconv.Itoa(theirs[k]) + ";")
		}
	}
	return b.String()
}

// Tally is Counts per Counting map, as the flow summary keeps them.
type Tally map[dissect.Counting]Counts

// Add counts n PDUs of function f in map k.
func (t Tally) Add(k dissect.Counting, f uint32, n int) {
	if t[k] == nil {
		t[k] = Counts{}
	}
	t[k][f] += n
}

// String is a stable rendering, for comparison and failure messages.
func (t Tally) String() string {
	var parts []string
	for _, k := range []dissect.Counting{dissect.CountFunction, dissect.CountCommand, dissect.CountUnconfirmed} {
		m := t[k]
		fs := make([]int, 0, len(m))
		for f := range m {
			fs = append(fs, int(f))
		}
		sort.Ints(fs)
		var s []string
		for _, f := range fs {
			s = append(s, strconv.Itoa(f)+":"+strconv.Itoa(m[uint32(f)]))
		}
		if len(s) > 0 {
			parts = append(parts, "["+strconv.Itoa(int(k))+"] "+strings.Join(s, " "))
		}
	}
	return strings.Join(parts, " ")
}

// Equal reports whether t and o hold the same counts.
func (t Tally) Equal(o Tally) bool { return t.String() == o.String() }

// Ours replays path through d and tallies its PDUs as the summary does;
// malformed is the number of PDUs marked Malformed.
func Ours(t testing.TB, path string, d dissect.Dissector) (tally Tally, malformed int) {
	t.Helper()
	tally = Tally{}
	Replay(t, path, d, func(p *dissect.PDU) {
		if p.Malformed != "" {
			malformed++
		}
		if p.Counting != dissect.CountNone {
			tally.Add(p.Counting, p.Function, 1)
		}
	})
	return tally, malformed
}

// CountPDUs replays path through d and counts the Function of the PDUs
// counted in map c.
func CountPDUs(t testing.TB, path string, d dissect.Dissector, c dissect.Counting) Counts {
	t.Helper()
	m := Counts{}
	Replay(t, path, d, func(p *dissect.PDU) {
		if p.Counting == c {
			m[p.Function]++
		}
	})
	return m
}

// TsharkTally runs tshark on path and counts every occurrence of each field
// in the packets that match the display filter (all when ""); fields[i] is
// counted in map k[i]. tshark must be installed (see NeedTshark).
func TsharkTally(t testing.TB, path, filter string, fields []string, k []dissect.Counting) Tally {
	t.Helper()
	return tsharkTally(t, path, filter, fields, k, nil)
}

func tsharkTally(t testing.TB, path, filter string, fields []string, k []dissect.Counting, opts []string) Tally {
	t.Helper()
	args := append([]string{"-n", "-r", path}, opts...)
	args = append(args, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t")
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	c := Tally{}
	for _, line := range strings.Split(string(out), "\n") {
		for i, col := range strings.Split(line, "\t") {
			if i >= len(k) || col == "" {
				continue
			}
			for _, v := range strings.Split(col, ",") {
				v = strings.TrimSpace(v)
				if v == "" {
					continue
				}
				n, err := strconv.ParseUint(v, 0, 32)
				if err != nil {
					t.Fatalf("tshark %s: field %s value %q: %v", path, fields[i], v, err)
				}
				c.Add(k[i], uint32(n), 1)
			}
		}
	}
	return c
}

// Tshark runs tshark on path and counts every occurrence of field; opts are
// extra tshark options, for example "-d", "tcp.port==4841,opcua" to decode
// a non-standard port.
func Tshark(t testing.TB, path, field string, opts ...string) Counts {
	t.Helper()
	c := tsharkTally(t, path, "", []string{field}, []dissect.Counting{dissect.CountFunction}, opts)[dissect.CountFunction]
	if c == nil {
		c = Counts{}
	}
	return c
}

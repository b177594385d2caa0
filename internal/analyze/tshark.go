package analyze

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/errcode"
)

// TsharkField is the tshark field whose values a protocol's summary map
// must match.
type TsharkField struct {
	Proto    string
	Counting dissect.Counting
	Field    string
}

// TsharkFields lists, per protocol and map, the field tshark shows.
var TsharkFields = []TsharkField{
	{"modbus", dissect.CountFunction, "modbus.func_code"},
	{"s7comm", dissect.CountFunction, "s7comm.param.func"},
	{"enip", dissect.CountFunction, "cip.sc"},
	{"enip", dissect.CountCommand, "enip.command"},
	{"dnp3", dissect.CountFunction, "dnp3.al.func"},
	{"opcua", dissect.CountFunction, "opcua.servicenodeid.numeric"},
	{"bacnet", dissect.CountFunction, "bacapp.confirmed_service"},
	{"bacnet", dissect.CountUnconfirmed, "bacapp.unconfirmed_service"},
	{"iec104", dissect.CountFunction, "iec60870_asdu.typeid"},
	{"mqtt", dissect.CountFunction, "mqtt.msgtype"},
}

// Tshark runs `tshark -r path -T fields -E occurrence=a -e FIELD...` and
// counts every occurrence of each field's value, in the shape of the
// summary (Total is the sum of Functions and Unconfirmed). extra are
// further tshark arguments (e.g. "-d", "tcp.port==5020,mbtcp").
func Tshark(ctx context.Context, path string, extra ...string) (map[string]*ProtoCounts, error) {
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"}
	args = append(args, extra...)
	for _, f := range TsharkFields {
		args = append(args, "-e", f.Field)
	}
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, errcode.Wrap(errcode.CaptureTshark, err, "run tshark on %s", path)
	}
	if err := cmd.Start(); err != nil {
		return nil, errcode.Wrap(errcode.CaptureTshark, err, "run tshark on %s", path)
	}
	counts, perr := parseTshark(out)
	if err := cmd.Wait(); err != nil {
		return nil, errcode.Wrap(errcode.CaptureTshark, err, "tshark on %s: %s", path, strings.TrimSpace(lastLine(stderr.String())))
	}
	if perr != nil {
		return nil, errcode.Wrap(errcode.CaptureTshark, perr, "read tshark output for %s", path)
	}
	return counts, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func parseTshark(r io.Reader) (map[string]*ProtoCounts, error) {
	counts := map[string]*ProtoCounts{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		for i, col := range cols {
			if i >= len(TsharkFields) || col == "" {
				continue
			}
			tf := TsharkFields[i]
			for _, v := range strings.Split(col, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32)
				if err != nil {
					return nil, fmt.Errorf("field %s: value %q is not a number", tf.Field, v)
				}
				c := counts[tf.Proto]
				if c == nil {
					c = newCounts()
					counts[tf.Proto] = c
				}
				c.Add(tf.Counting, uint32(n))
			}
		}
	}
	return counts, sc.Err()
}

// Row is one line of an agreement table: the count of one code of one
// protocol map, ours and tshark's.
type Row struct {
	Proto        string
	Map          string // functions, commands, unconfirmed
	Code         uint32
	Ours, Tshark uint64
}

// Compare lists every code either side counted, for the protocols in
// protos (all of TsharkFields when nil), sorted.
func Compare(ours, theirs map[string]*ProtoCounts, protos []string) []Row {
	want := map[string]bool{}
	for _, p := range protos {
		want[p] = true
	}
	var rows []Row
	seen := map[string]bool{}
	for _, tf := range TsharkFields {
		if (protos != nil && !want[tf.Proto]) || seen[tf.Proto+mapName(tf.Counting)] {
			continue
		}
		seen[tf.Proto+mapName(tf.Counting)] = true
		o, t := pick(ours[tf.Proto], tf.Counting), pick(theirs[tf.Proto], tf.Counting)
		codes := map[uint32]bool{}
		for c := range o {
			codes[c] = true
		}
		for c := range t {
			codes[c] = true
		}
		for c := range codes {
			rows = append(rows, Row{Proto: tf.Proto, Map: mapName(tf.Counting), Code: c, Ours: o[c], Tshark: t[c]})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Map != b.Map {
			return a.Map < b.Map
		}
		return a.Code < b.Code
	})
	return rows
}

func pick(c *ProtoCounts, k dissect.Counting) map[uint32]uint64 {
	if c == nil {
		return nil
	}
	switch k {
	case dissect.CountCommand:
		return c.Commands
	case dissect.CountUnconfirmed:
		return c.Unconfirmed
	}
	return c.Functions
}

func mapName(k dissect.Counting) string {
	switch k {
	case dissect.CountCommand:
		return "commands"
	case dissect.CountUnconfirmed:
		return "unconfirmed"
	}
	return "functions"
}

// Agreement is the share of counts both sides agree on for one protocol:
// the sum over codes of min(ours, tshark) divided by the larger of the
// two totals; 1 when both counted nothing.
func Agreement(rows []Row, proto string) (pct float64, ours, tshark uint64) {
	var both uint64
	for _, r := range rows {
		if r.Proto != proto {
			continue
		}
		ours += r.Ours
		tshark += r.Tshark
		both += min(r.Ours, r.Tshark)
	}
	if m := max(ours, tshark); m > 0 {
		return float64(both) / float64(m), ours, tshark
	}
	return 1, 0, 0
}

// WriteRows prints rows that differ (or all rows with all=true).
func WriteRows(w io.Writer, rows []Row, all bool) {
	for _, r := range rows {
		if all || r.Ours != r.Tshark {
			fmt.Fprintf(w, "  %-7s %-11s %6d  ours %6d  tshark %6d\n", r.Proto, r.Map, r.Code, r.Ours, r.Tshark)
		}
	}
}

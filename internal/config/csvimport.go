package config

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// ImportOptions says where imported tags go. Empty fields get the
// placeholder in brackets, for the user to edit.
type ImportOptions struct {
	Name       string // file name used in problems
	Enterprise string // [enterprise]
	Site       string // [site]
	Area       string // [area]
	Line       string // [line]
	Machine    string // [machine]
	Device     string // [plc1]
	Driver     string // [modbus]
	Endpoint   string // [tcp://127.0.0.1:502]
}

func (o *ImportOptions) fill() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Enterprise, "enterprise")
	def(&o.Site, "site")
	def(&o.Area, "area")
	def(&o.Line, "line")
	def(&o.Machine, "machine")
	def(&o.Device, "plc1")
	def(&o.Driver, "modbus")
	def(&o.Endpoint, "tcp://127.0.0.1:502")
}

// maxCSVRows bounds an import; Kepware projects rarely exceed 50k tags.
const maxCSVRows = 1_000_000

// csvFormat is a recognised header.
type csvFormat struct {
	name     string
	required []string // lower-case column names
	col      map[string]int
}

// ImportCSV turns a tag list exported from another gateway into a config
// with one site, area, line, machine and device (named by opts). It reads
// Kepware's CSV tag export and the generic header
// name,address,type,scan_ms,description[,unit], recognised by the header.
// Rows it cannot import are reported as problems (row's file line, field
// column, OTL-105x code) and left out; the other rows are imported. The
// error is for input that cannot be read at all: no recognised header, or
// broken CSV quoting.
//
// Writes are safety-relevant: read/write tags are imported read-only, with
// a notice, because a writable tag needs limits a CSV export does not have.
func ImportCSV(r io.Reader, opts ImportOptions) (*Config, Errors, error) {
	opts.fill()
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.ConfigRead, err, "read %s", opts.Name)
	}
	if len(data) > maxFileSize {
		return nil, nil, errcode.New(errcode.ConfigRead, "read %s: more than %d bytes", opts.Name, maxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel and Kepware write a BOM
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true // exports put quotes inside descriptions
	header, err := cr.Read()
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.ConfigCSVHeader, err, "read header of %s", opts.Name)
	}
	f, err := detect(header)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.ConfigCSVHeader, err, "%s", opts.Name)
	}
	im := &importer{opts: opts, f: f, names: map[string]int{}, scans: map[int]bool{}}
	for row := 2; row < maxCSVRows; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			// A broken row (e.g. a quote in a field) is reported; the
			// reader resumes at the next record.
			pl, pc := line, 1
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				pl, pc = pe.Line, pe.Column
			}
			im.problem(errcode.ConfigCSVRow, pl, pc, row, "cannot read row: %v", err)
			continue
		}
		im.row(row, line, rec, cr)
	}
	return im.config(), im.probs, nil
}

func detect(header []string) (*csvFormat, error) {
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	formats := []csvFormat{
		{name: "kepware", required: []string{"tag name", "address", "data type"}},
		{name: "generic", required: []string{"name", "address", "type"}},
	}
	for _, f := range formats {
		ok := true
		for _, r := range f.required {
			_, has := col[r]
			ok = ok && has
		}
		if ok {
			f.col = col
			return &f, nil
		}
	}
	return nil, fmt.Errorf("unknown CSV header %q: want a Kepware tag export (Tag Name,Address,Data Type,...) or name,address,type,scan_ms,description[,unit]",
		strings.Join(header, ","))
}

type importer struct {
	opts  ImportOptions
	f     *csvFormat
	tags  []Tag
	scan  []int // per tag, scan rate in ms; 0 = none
	names map[string]int
	scans map[int]bool
	probs Errors
}

func (im *importer) problem(code errcode.Code, line, col int, row int, format string, args ...any) {
	im.probs = append(im.probs, &Problem{File: im.opts.Name, Line: line, Col: col, Code: code,
		Msg: fmt.Sprintf("row %d: ", row) + fmt.Sprintf(format, args...)})
}

// kepwareTypes maps Kepware data types to otlink's.
var kepwareTypes = map[string]model.Type{
	"boolean": model.Bool, "short": model.Int16, "word": model.Uint16, "long": model.Int32,
	"dword": model.Uint32, "float": model.Float32, "double": model.Float64, "string": model.String,
	"llong": model.Int64, "qword": model.Uint64, "char": model.Int8, "byte": model.Uint8,
}

func (im *importer) row(row, line int, rec []string, cr *csv.Reader) {
	get := func(name string) (string, int) {
		i, ok := im.f.col[name]
		if !ok || i >= len(rec) {
			return "", 0
		}
		_, c := cr.FieldPos(i)
		return strings.TrimSpace(rec[i]), c
	}
	empty := true
	for _, s := range rec {
		empty = empty && strings.TrimSpace(s) == ""
	}
	if empty {
		return
	}
	kep := im.f.name == "kepware"
	nameCol, addrCol, typeCol, scanCol, descCol, unitCol := "name", "address", "type", "scan_ms", "description", "unit"
	if kep {
		nameCol, typeCol, scanCol, unitCol = "tag name", "data type", "scan rate", "eng units"
	}
	rawName, nc := get(nameCol)
	rawAddr, ac := get(addrCol)
	rawType, tc := get(typeCol)
	if rawName == "" {
		im.problem(errcode.ConfigCSVRow, line, nc, row, "no tag name")
		return
	}
	name := sanitizeName(rawName)
	t := Tag{Name: name}
	if first, dup := im.names[name]; dup {
		im.problem(errcode.ConfigCSVRow, line, nc, row, "tag %q becomes %q, already used by row %d", rawName, name, first)
		return
	}
	typ, ok := importType(rawType)
	if !ok {
		im.problem(errcode.ConfigCSVType, line, tc, row, "tag %q: data type %q cannot be mapped (use Boolean, Short, Word, Long, DWord, Float, Double, String, LLong, QWord, Char or Byte)", rawName, rawType)
		return
	}
	t.Type = typ.String()
	if rawAddr == "" {
		im.problem(errcode.ConfigCSVRow, line, ac, row, "tag %q has no address", rawName)
		return
	}
	addr, length, order, err := convertAddress(rawAddr, typ)
	if err != nil {
		im.problem(errcode.ConfigCSVAddress, line, ac, row, "tag %q: address %q: %v", rawName, rawAddr, err)
		return
	}
	t.Address, t.Length, t.ByteOrder = addr, length, order
	if typ == model.String && t.Length == 0 {
		t.Length = 16
		im.problem(errcode.ConfigCSVNotice, line, ac, row, "string tag %q has no length in its address; imported with length 16", rawName)
	}
	scan := 0
	if s, sc := get(scanCol); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 24*3600*1000 {
			im.problem(errcode.ConfigCSVScan, line, sc, row, "tag %q: scan rate %q is not a positive number of milliseconds", rawName, s)
			return
		}
		scan = n
	}
	t.Description, _ = get(descCol)
	t.Unit, _ = get(unitCol)
	if kep {
		if !im.kepwareExtras(&t, row, line, get) {
			return
		}
	}
	im.names[name] = row
	im.tags = append(im.tags, t)
	im.scan = append(im.scan, scan)
	if scan > 0 {
		im.scans[scan] = true
	}
}

// kepwareExtras maps client access, scaling and negation.
func (im *importer) kepwareExtras(t *Tag, row, line int, get func(string) (string, int)) bool {
	if acc, c := get("client access"); strings.EqualFold(strings.ReplaceAll(acc, " ", ""), "R/W") {
		im.problem(errcode.ConfigCSVNotice, line, c, row, "tag %q is read/write in the source; imported read-only: set writable and limits by hand", t.Name)
	}
	mode, mc := get("scaling")
	switch strings.ToLower(mode) {
	case "", "none":
	case "linear":
		var v [4]float64
		for i, k := range []string{"raw low", "raw high", "scaled low", "scaled high"} {
			s, c := get(k)
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				im.problem(errcode.ConfigCSVRow, line, c, row, "tag %q: linear scaling needs a number in %q, found %q", t.Name, k, s)
				return false
			}
			v[i] = x
		}
		if v[1] == v[0] {
			im.problem(errcode.ConfigCSVRow, line, mc, row, "tag %q: raw low equals raw high", t.Name)
			return false
		}
		gain := (v[3] - v[2]) / (v[1] - v[0])
		t.Scale = &Scale{Gain: gain, Offset: v[2] - v[0]*gain}
		if lo, hi := min(v[2], v[3]), max(v[2], v[3]); lo < hi {
			t.Range = &Range{Min: lo, Max: hi}
		}
	default:
		im.problem(errcode.ConfigCSVNotice, line, mc, row, "tag %q: %s scaling is not supported; imported unscaled", t.Name, mode)
	}
	if neg, _ := get("negate value"); isTrue(neg) {
		if t.Scale == nil {
			t.Scale = &Scale{Gain: 1}
		}
		t.Scale.Gain, t.Scale.Offset = -t.Scale.Gain, -t.Scale.Offset
		if t.Range != nil {
			t.Range.Min, t.Range.Max = -t.Range.Max, -t.Range.Min
		}
	}
	return true
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func importType(s string) (model.Type, bool) {
	l := strings.ToLower(strings.TrimSpace(s))
	if t, ok := model.ParseType(l); ok {
		return t, true
	}
	t, ok := kepwareTypes[l]
	return t, ok
}

// convertAddress turns a Kepware/classic Modbus address into otlink's
// syntax: 400001 and 40001 -> hr:0, 300010 -> ir:9, 000005 -> coil:4,
// 100003 -> di:2, 400010.3 -> hr:9.3, 400100.20H (a 20-character string,
// high byte first) -> hr:99 with length 20, byte order big. An address
// already in otlink's syntax (hr:100) is kept.
func convertAddress(s string, typ model.Type) (addr string, length int, order string, err error) {
	if strings.Contains(s, ":") {
		return s, 0, "", nil
	}
	num, suffix, hasDot := strings.Cut(s, ".")
	for _, c := range num {
		if c < '0' || c > '9' {
			return "", 0, "", errors.New("not a Modbus address (want e.g. 400001, 40001, 300010, 000005, 100003, 400010.3)")
		}
	}
	if len(num) != 5 && len(num) != 6 {
		return "", 0, "", errors.New("a Modbus address has 5 or 6 digits")
	}
	table := map[byte]string{'0': "coil", '1': "di", '3': "ir", '4': "hr"}[num[0]]
	if table == "" {
		return "", 0, "", fmt.Errorf("first digit %c is not 0, 1, 3 or 4", num[0])
	}
	n, _ := strconv.Atoi(num[1:])
	if n < 1 || n > 65536 {
		return "", 0, "", fmt.Errorf("register %d is outside 1..65536", n)
	}
	addr = fmt.Sprintf("%s:%d", table, n-1)
	if !hasDot {
		return addr, 0, "", nil
	}
	if typ == model.String {
		digits := strings.TrimRight(suffix, "HhLl")
		l, err := strconv.Atoi(digits)
		if err != nil || l <= 0 {
			return "", 0, "", fmt.Errorf("string length %q is not a positive number", suffix)
		}
		switch {
		case strings.HasSuffix(strings.ToUpper(suffix), "L"):
			order = "little"
		case strings.HasSuffix(strings.ToUpper(suffix), "H"):
			order = "big"
		}
		return addr, l, order, nil
	}
	b, err := strconv.Atoi(suffix)
	if err != nil || b < 0 || b > 15 {
		return "", 0, "", fmt.Errorf("bit %q is outside 0..15", suffix)
	}
	if table == "coil" || table == "di" {
		return "", 0, "", errors.New("a bit number applies to registers only")
	}
	return fmt.Sprintf("%s.%d", addr, b), 0, "", nil
}

// pollName names a poll class after its interval: p100ms, p2s, p1m.
func pollName(ms int) string {
	switch {
	case ms%60000 == 0:
		return fmt.Sprintf("p%dm", ms/60000)
	case ms%1000 == 0:
		return fmt.Sprintf("p%ds", ms/1000)
	}
	return fmt.Sprintf("p%dms", ms)
}

func (im *importer) config() *Config {
	o := im.opts
	var rates []int
	for r := range im.scans {
		rates = append(rates, r)
	}
	sort.Ints(rates)
	var classes []PollClass
	for _, r := range rates {
		classes = append(classes, PollClass{Name: pollName(r), Interval: Duration(time.Duration(r) * time.Millisecond)})
	}
	withoutScan := false
	for _, s := range im.scan {
		withoutScan = withoutScan || s == 0
	}
	if withoutScan && len(classes) > 0 {
		classes = append([]PollClass{{Name: DefaultPollClass, Interval: DefaultPoll}}, classes...)
	}
	// With one class every tag uses it by default; with more, say which.
	if len(classes) > 1 {
		for i := range im.tags {
			if im.scan[i] > 0 {
				im.tags[i].Poll = pollName(im.scan[i])
			} else {
				im.tags[i].Poll = DefaultPollClass
			}
		}
	}
	m := Machine{Name: sanitizeName(o.Machine), Device: sanitizeName(o.Device), Tags: im.tags}
	return &Config{
		Version: Version,
		Plant: Plant{Enterprise: sanitizeName(o.Enterprise), Sites: []Site{{Name: sanitizeName(o.Site), Areas: []Area{{Name: sanitizeName(o.Area),
			Lines: []Line{{Name: sanitizeName(o.Line), Machines: []Machine{m}}}}}}}},
		Devices: []Device{{Name: sanitizeName(o.Device), Driver: o.Driver, Endpoint: o.Endpoint, Poll: classes}},
	}
}

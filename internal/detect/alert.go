package detect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/dissect"
)

// Severity ranks an alert.
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

func (s Severity) valid() bool { return s == Low || s == Medium || s == High || s == Critical }

// Alert is one detection with its evidence. Repeated occurrences of the
// same detection between the same hosts are aggregated: Count grows, the
// first MaxEvidence PDUs are kept as evidence.
type Alert struct {
	suppressed bool // covered by a suppression: kept for aggregation, never listed

	ID         string     `json:"id"`        // unique within a run: detection and sequence, e.g. "plc_stop-1"
	Detection  string     `json:"detection"` // e.g. "plc_stop", "new_writer", "rule:no-write-press"
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Techniques []string   `json:"techniques"` // MITRE ATT&CK for ICS technique ids
	Proto      string     `json:"proto,omitempty"`
	Time       time.Time  `json:"time"` // first evidence
	Last       time.Time  `json:"last"` // last occurrence
	Count      int        `json:"count"`
	Detail     string     `json:"detail"`
	Assets     []string   `json:"assets"` // addresses involved, the source first
	Frames     []uint64   `json:"frames"` // frame numbers of the evidence (1-based, as Wireshark numbers them)
	Evidence   []Evidence `json:"evidence"`
	File       string     `json:"file,omitempty"` // capture the frames refer to
	Pcap       string     `json:"pcap,omitempty"` // pcap slice of the evidence frames, when written
}

// Evidence is one PDU or packet behind an alert.
type Evidence struct {
	Frame     uint64           `json:"frame"`
	Time      time.Time        `json:"time"`
	Src       string           `json:"src"`
	Dst       string           `json:"dst"`
	Proto     string           `json:"proto,omitempty"`
	Function  uint32           `json:"function"`
	Name      string           `json:"name,omitempty"`
	Action    string           `json:"action,omitempty"`
	Unit      uint32           `json:"unit,omitempty"`
	Exception uint32           `json:"exception,omitempty"`
	Malformed string           `json:"malformed,omitempty"`
	Objects   []dissect.Object `json:"objects,omitempty"`
	Note      string           `json:"note,omitempty"`
}

// MaxEvidence is the number of evidence items kept per alert.
const MaxEvidence = 16

// maxValues bounds the values copied per object into evidence.
const maxValues = 16

// evidenceOf is the evidence of a PDU sent from src to dst ("ip:port").
func evidenceOf(src, dst string, p *dissect.PDU) Evidence {
	e := Evidence{Frame: p.Meta.Frame, Time: time.Unix(0, p.Meta.Time).UTC(), Src: src, Dst: dst, Proto: p.Proto,
		Function: p.Function, Name: p.Name, Action: p.Action.String(), Unit: p.Unit, Exception: p.Exception, Malformed: p.Malformed}
	for i, o := range p.Objects {
		if i == 8 {
			break
		}
		c := dissect.Object{Space: o.Space, Start: o.Start, Count: o.Count}
		if len(o.Values) > 0 {
			c.Values = append([]float64(nil), o.Values[:min(len(o.Values), maxValues)]...)
		}
		e.Objects = append(e.Objects, c)
	}
	return e
}

func (a *Alert) add(e Evidence) {
	a.Count++
	if a.Time.IsZero() || e.Time.Before(a.Time) {
		a.Time = e.Time
	}
	if e.Time.After(a.Last) {
		a.Last = e.Time
	}
	if len(a.Evidence) < MaxEvidence {
		a.Evidence = append(a.Evidence, e)
		if e.Frame != 0 {
			a.Frames = append(a.Frames, e.Frame)
		}
	}
}

// Techniques names the ATT&CK for ICS techniques otlink maps to.
var Techniques = map[string]string{
	"T0800": "Activate Firmware Update Mode",
	"T0801": "Monitor Process State",
	"T0806": "Brute Force I/O",
	"T0813": "Denial of Control",
	"T0814": "Denial of Service",
	"T0816": "Device Restart/Shutdown",
	"T0821": "Modify Controller Tasking",
	"T0831": "Manipulation of Control",
	"T0836": "Modify Parameter",
	"T0840": "Network Connection Enumeration",
	"T0843": "Program Download",
	"T0845": "Program Upload",
	"T0846": "Remote System Discovery",
	"T0848": "Rogue Master",
	"T0855": "Unauthorized Command Message",
	"T0857": "System Firmware",
	"T0858": "Change Operating Mode",
	"T0861": "Point & Tag Identification",
	"T0864": "Transient Cyber Asset",
	"T0866": "Exploitation of Remote Services",
	"T0868": "Detect Operating Mode",
	"T0881": "Service Stop",
	"T0886": "Remote Services",
	"T0888": "Remote System Information Discovery",
	"T0889": "Modify Program",
}

// WriteText prints alerts one per line, for the text output of otlink
// analyze.
func WriteText(w io.Writer, alerts []any) {
	if len(alerts) == 0 {
		return
	}
	fmt.Fprintf(w, "  alerts: %d\n", len(alerts))
	for _, x := range alerts {
		a, ok := x.(*Alert)
		if !ok {
			continue
		}
		fr := ""
		if len(a.Frames) > 0 {
			fr = fmt.Sprintf(" frame %d", a.Frames[0])
		}
		who := strings.Join(a.Assets[:min(len(a.Assets), 2)], " -> ")
		if len(a.Assets) > 2 {
			who += fmt.Sprintf(" (+%d)", len(a.Assets)-2)
		}
		fmt.Fprintf(w, "    %-8s %-40s %-12s x%-4d %s%s: %s\n", a.Severity, a.Title, strings.Join(a.Techniques, ","), a.Count, who, fr, a.Detail)
	}
}

// sortAlerts orders alerts by time, then id.
func sortAlerts(l []*Alert) {
	sort.SliceStable(l, func(i, j int) bool {
		if !l[i].Time.Equal(l[j].Time) {
			return l[i].Time.Before(l[j].Time)
		}
		return l[i].ID < l[j].ID
	})
}

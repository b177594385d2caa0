package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/otlink/otlink/internal/analyze"
	"github.com/otlink/otlink/internal/asset"
	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/dissect"
	_ "github.com/otlink/otlink/internal/dissect/all" // registers every dissector
	"github.com/otlink/otlink/internal/errcode"
)

func analyzeCmd() *cobra.Command {
	var (
		asJSON       bool
		filter       string
		learn        []string
		baselinePath string
		rulesPath    string
		saveBaseline string
		slicesDir    string
		countsOnly   bool
	)
	c := &cobra.Command{
		Use:   "analyze [--json] [--bpf FILTER] [--counts-only | [--rules FILE] [--baseline FILE | --learn FILE... [--save-baseline FILE]] [--slices DIR]] FILE...",
		Short: "dissect industrial protocols in pcap/pcapng files and summarise them",
		Long: `analyze reads capture files (pcap or pcapng), follows every TCP and UDP flow,
dissects the industrial protocols in them and prints, per file and protocol, the
PDUs counted by function code, the asset inventory and the alerts. --json prints
the summary documented in docs/analyze.md. --counts-only counts PDUs without the
inventory and detections, with every core on each file. Files that cannot be
read are reported and the others analysed.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 && len(learn) == 0 {
				return fmt.Errorf("requires at least 1 capture file (or --learn FILE)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if _, err := capture.ParseFilter(filter); err != nil {
				return usageErr(err)
			}
			if countsOnly && (len(learn) > 0 || baselinePath != "" || rulesPath != "" || saveBaseline != "" || slicesDir != "") {
				return usageErr(fmt.Errorf("--counts-only runs no detections: it takes none of --learn, --baseline, --rules, --save-baseline, --slices"))
			}
			opts := analyze.Options{Filter: filter}
			f, tty := c.ErrOrStderr().(*os.File)
			tty = tty && term.IsTerminal(int(f.Fd()))
			if tty {
				opts.Progress = progressBar(f)
			}
			// Learning runs the files one after the other: one learner
			// sees them all.
			dcfg, err := detectConfig(c, opts, learn, baselinePath, rulesPath, saveBaseline)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return nil
			}
			if tty {
				opts.Progress = progressBar(f)
			}
			// Each file has its own inventory and detections (the baseline
			// and rules are only read), so files are analysed on all cores.
			opts.Workers = runtime.GOMAXPROCS(0)
			if countsOnly {
				// The cores not busy with a file of their own split one.
				opts.Shards = max(1, opts.Workers/len(args))
			} else {
				// With cores to spare, each file's observers get their own.
				opts.Pipeline = opts.Workers > len(args)
				opts.Observers = func(file string) []analyze.Observer {
					inv := asset.New()
					cfg := dcfg
					cfg.Roles, cfg.File = inv, file
					return []analyze.Observer{inv, detect.New(cfg)}
				}
			}
			sum, err := analyze.Files(c.Context(), args, opts)
			if slicesDir != "" {
				for i := range sum.Files {
					if serr := detect.WriteSlices(c.Context(), sum.Files[i].File, alertsOf(&sum.Files[i]), slicesDir); serr != nil {
						err = errors.Join(err, serr)
					}
				}
			}
			out := c.OutOrStdout()
			if asJSON {
				b, jerr := json.MarshalIndent(sum, "", "  ")
				if jerr != nil {
					return jerr
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				for i := range sum.Files {
					writeFileSummary(out, &sum.Files[i])
					detect.WriteText(out, sum.Files[i].Alerts)
					if n := sum.Files[i].Suppressed; n > 0 {
						fmt.Fprintf(out, "  %d alerts suppressed by the rules file's suppress list\n", n)
					}
				}
			}
			if err == nil {
				return nil
			}
			// A capture cut short still gave its summary: warn, exit 0.
			failed := false
			for _, e := range unjoin(err) {
				if errcode.Of(e) == errcode.CaptureTruncated {
					fmt.Fprintln(c.ErrOrStderr(), "otlink: warning:", e)
					continue
				}
				failed = true
				fmt.Fprintln(c.ErrOrStderr(), "otlink:", e)
			}
			if failed {
				return &exitError{status: 1, err: errcode.New(errcode.CaptureRead, "%d of %d files could not be read completely", countFailed(err), len(args))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the machine-readable summary (docs/analyze.md)")
	c.Flags().StringArrayVar(&learn, "learn", nil, "learn a baseline from this capture (repeat for several files; docs/detections.md)")
	c.Flags().StringVar(&baselinePath, "baseline", "", "detect departures from this baseline file")
	c.Flags().StringVar(&rulesPath, "rules", "", "YAML file of custom detection rules (docs/detections.md)")
	c.Flags().StringVar(&saveBaseline, "save-baseline", "", "write the baseline learned with --learn to this file")
	c.Flags().BoolVar(&countsOnly, "counts-only", false, "count PDUs only, without the asset inventory and detections: faster, one file on every core")
	c.Flags().StringVar(&slicesDir, "slices", "", "write a pcapng of each alert's evidence frames into this folder")
	c.Flags().StringVar(&filter, "bpf", "", `capture filter, a tcpdump subset: "tcp port 502 and host 10.0.0.5" (docs/analyze.md)`)
	return c
}

// detectConfig loads rules and the baseline, or learns the baseline from
// the --learn files and saves it.
func detectConfig(c *cobra.Command, opts analyze.Options, learn []string, baselinePath, rulesPath, saveBaseline string) (detect.Config, error) {
	var cfg detect.Config
	if rulesPath != "" {
		r, err := detect.LoadRules(rulesPath)
		if err != nil {
			return cfg, usageErr(err)
		}
		cfg.Rules = r
	}
	if baselinePath != "" && len(learn) > 0 {
		return cfg, usageErr(fmt.Errorf("give --baseline or --learn, not both"))
	}
	if saveBaseline != "" && len(learn) == 0 {
		return cfg, usageErr(fmt.Errorf("--save-baseline needs --learn FILE"))
	}
	if baselinePath != "" {
		b, err := detect.LoadBaseline(baselinePath)
		if err != nil {
			return cfg, err
		}
		cfg.Baseline = b
	}
	if len(learn) > 0 {
		l := detect.NewLearner()
		lopts := opts
		lopts.Observers = l.ForFile
		if _, err := analyze.Files(c.Context(), learn, lopts); err != nil {
			for _, e := range unjoin(err) {
				if errcode.Of(e) != errcode.CaptureTruncated {
					return cfg, err
				}
			}
		}
		cfg.Baseline = l.Baseline()
		if saveBaseline != "" {
			if err := cfg.Baseline.Save(saveBaseline); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, nil
}

// alertsOf returns the detection alerts of a file summary.
func alertsOf(fs *analyze.FileSummary) []*detect.Alert {
	var out []*detect.Alert
	for _, a := range fs.Alerts {
		if d, ok := a.(*detect.Alert); ok {
			out = append(out, d)
		}
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func countFailed(err error) int {
	n := 0
	for _, e := range unjoin(err) {
		if errcode.Of(e) != errcode.CaptureTruncated {
			n++
		}
	}
	return n
}

// progressBar redraws one line on the terminal, at most every 100 ms:
// the share of the files read (files analysed at once each count for
// their part), the files done and the packets of all of them. It may be
// called from several goroutines.
func progressBar(w io.Writer) func(analyze.Progress) {
	var (
		mu      sync.Mutex
		last    time.Time
		start   = time.Now()
		frac    = map[int]float64{}
		packets = map[int]uint64{}
		done    int
	)
	return func(p analyze.Progress) {
		mu.Lock()
		defer mu.Unlock()
		frac[p.Index], packets[p.Index] = p.Fraction, p.Packets
		if p.Done {
			done++
		}
		now := time.Now()
		if done < p.Files && now.Sub(last) < 100*time.Millisecond {
			return
		}
		last = now
		var share float64
		var total uint64
		for i, f := range frac {
			share += f
			total += packets[i]
		}
		share /= float64(max(p.Files, 1))
		const width = 30
		n := min(max(int(share*width+0.5), 0), width)
		rate := float64(total) / max(now.Sub(start).Seconds(), 1e-9)
		fmt.Fprintf(w, "\r[%s%s] %3.0f%% files done %d/%d, %d packets %.0f/s\x1b[K", strings.Repeat("#", n), strings.Repeat(".", width-n),
			100*share, done, p.Files, total, rate)
		if done == p.Files {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
}

func writeFileSummary(w io.Writer, fs *analyze.FileSummary) {
	st := fs.Stats
	fmt.Fprintf(w, "%s: %d packets, %d flows (%d dissected)\n", fs.File, fs.Packets, fs.Flows, st.Dissected)
	// Fragments are reassembled; only those that never made a datagram
	// are lost to dissection.
	lostFrags := st.FragBad + st.FragTimeouts + st.FragDropped
	if skipped := st.NotIP + st.OtherL4 + lostFrags + st.Truncated + st.UnknownLink; skipped > 0 {
		fmt.Fprintf(w, "  not TCP/UDP: %d (non-IP %d, other IP %d, unusable fragments %d, truncated %d, unknown link %d)\n",
			skipped, st.NotIP, st.OtherL4, lostFrags, st.Truncated, st.UnknownLink)
	}
	if st.Fragments > 0 {
		fmt.Fprintf(w, "  ip fragments: %d frames, %d datagrams reassembled, %d overlapping (evasion?), %d duplicates\n",
			st.Fragments, st.Reassembled, st.FragOverlaps, st.FragDuplicates)
	}
	if st.Gaps > 0 || st.Overflows > 0 {
		fmt.Fprintf(w, "  tcp: %d gaps (%d bytes lost), %d buffer overflows, %d retransmissions\n", st.Gaps, st.GapBytes, st.Overflows, st.Retransmits)
	}
	protos := make([]string, 0, len(fs.PDUs))
	for p := range fs.PDUs {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	if len(protos) == 0 {
		fmt.Fprintln(w, "  no industrial protocol PDUs")
	}
	for _, p := range protos {
		c := fs.PDUs[p]
		mal := ""
		if n := fs.Malformed[p]; n > 0 {
			mal = fmt.Sprintf(", %d malformed", n)
		}
		fmt.Fprintf(w, "  %-8s %8d PDUs in %d flows%s\n", p, c.Total, fs.ByFlow[p], mal)
		writeTop(w, fs, p, "function", dissect.CountFunction, c.Functions)
		writeTop(w, fs, p, "command", dissect.CountCommand, c.Commands)
		writeTop(w, fs, p, "unconfirmed", dissect.CountUnconfirmed, c.Unconfirmed)
	}
}

// writeTop prints the 8 most frequent codes of one map.
func writeTop(w io.Writer, fs *analyze.FileSummary, proto, label string, k dissect.Counting, m map[uint32]uint64) {
	type kv struct {
		code uint32
		n    uint64
	}
	var l []kv
	for c, n := range m {
		l = append(l, kv{c, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].code < l[j].code })
	for i, e := range l {
		if i == 8 {
			fmt.Fprintf(w, "    ... %d more %s codes\n", len(l)-8, label)
			break
		}
		name := fs.Names[proto][analyze.NameKey{Counting: k, Code: e.code}]
		fmt.Fprintf(w, "    %-11s %6d  %-40s %8d\n", label, e.code, name, e.n)
	}
}

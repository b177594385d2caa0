package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/export"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/tlsca"
)

// historyTarget is where history commands read: a stopped data folder
// (--data) or a running otlink's REST API (--url).
type historyTarget struct {
	data, url     string
	token, cacert string
}

func (t *historyTarget) flags(c *cobra.Command) {
	c.PersistentFlags().StringVar(&t.data, "data", "", "data folder of a stopped otlink (default: the run folder under the user's state directory)")
	c.PersistentFlags().StringVar(&t.url, "url", "", "ask a running otlink instead, e.g. https://127.0.0.1:8443")
	c.PersistentFlags().StringVar(&t.token, "token", "", "API token for --url (default $OTLINK_TOKEN); create one with otlink token create")
	c.PersistentFlags().StringVar(&t.cacert, "cacert", "", "CA certificate to trust for --url (default $OTLINK_CACERT, else DATA/tls/ca.pem when it exists, besides the system's)")
}

// do sends a request to --url with the bearer token, trusting the
// system's CAs and otlink's local CA.
func (t *historyTarget) do(hr *http.Request) (*http.Response, error) {
	tok := t.token
	if tok == "" {
		tok = os.Getenv("OTLINK_TOKEN")
	}
	if tok != "" {
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	ca := t.cacert
	if ca == "" {
		ca = os.Getenv("OTLINK_CACERT")
	}
	if ca == "" {
		if p := filepath.Join(t.dataDir(), app.TLSDir, tlsca.CAFile); fileExists(p) {
			ca = p
		}
	}
	client := httpClient
	if ca != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		b, err := os.ReadFile(ca)
		if err != nil || !pool.AppendCertsFromPEM(b) {
			return nil, usageErr(errcode.New(errcode.TLSCert, "--cacert %s holds no readable PEM certificate", ca))
		}
		client = &http.Client{Timeout: httpClient.Timeout, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	return client.Do(hr)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (t *historyTarget) dataDir() string {
	if t.data == "" {
		return defaultDataDir("run")
	}
	return t.data
}

// open opens the store of the data folder, without its integrity log.
func (t *historyTarget) open(ctx context.Context) (*app.History, error) {
	dir := t.dataDir()
	if !app.HasHistory(dir) {
		return nil, usageErr(errcode.New(errcode.CLINoHistory, "no history in data folder %s", dir))
	}
	cfg := config.Historian{Backend: config.HistorianEmbedded}
	return app.OpenHistory(ctx, dir, cfg, app.HistoryOptions{Log: app.LogNone})
}

// historyErr gives request errors (5200–5207, 5221) exit status 2.
func historyErr(err error) error {
	c := errcode.Of(err)
	if c >= errcode.QueryTime && c <= errcode.QueryArg || c == errcode.ExportFormat {
		return usageErr(err)
	}
	return err
}

// call runs one query, locally or over REST, and returns its JSON.
func (t *historyTarget) call(ctx context.Context, route string, req any) ([]byte, error) {
	if t.url != "" {
		return t.postJSON(ctx, strings.TrimRight(t.url, "/")+"/api/v1/history/"+route, req)
	}
	h, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var resp any
	switch r := req.(type) {
	case query.RawRequest:
		resp, err = h.Query.Raw(ctx, r)
	case query.AtRequest:
		resp, err = h.Query.At(ctx, r)
	case query.AggRequest:
		resp, err = h.Query.Aggregate(ctx, r)
	case query.PlotRequest:
		resp, err = h.Query.Plot(ctx, r)
	case query.LatestRequest:
		resp, err = h.Query.Latest(ctx, r)
	default:
		return nil, errcode.New(errcode.Internal, "unknown request %T", req)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// httpClient bounds every REST call of the CLI.
var httpClient = &http.Client{Timeout: 5 * time.Minute}

// postJSON posts req (nil: GET) and returns the body of a 200 answer;
// an error answer {"code","message"} becomes an error with that code.
func (t *historyTarget) postJSON(ctx context.Context, u string, req any) ([]byte, error) {
	method, body := http.MethodGet, io.Reader(nil)
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, usageErr(errcode.Wrap(errcode.CLIUsage, err, "--url"))
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := t.do(hr)
	if err != nil {
		if errcode.Of(err) != 0 {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.CLIRemote, err, "ask %s", u)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<31))
	if err != nil {
		return nil, errcode.Wrap(errcode.CLIRemote, err, "read answer of %s", u)
	}
	if resp.StatusCode == http.StatusOK {
		return out, nil
	}
	var e struct{ Code, Message string }
	if json.Unmarshal(out, &e) == nil && e.Code != "" {
		if c, ok := errcode.Parse(e.Code); ok {
			// The message already starts with its code.
			return nil, &errcode.Error{Code: c, Msg: strings.TrimPrefix(strings.TrimPrefix(e.Message, e.Code), " ")}
		}
	}
	return nil, errcode.New(errcode.CLIRemote, "%s answered %s", u, resp.Status)
}

// Responses as printed: values stay JSON so that both sources print alike.
type (
	hPoint struct {
		Tag  string          `json:"tag"`
		T    time.Time       `json:"t"`
		V    json.RawMessage `json:"v"`
		Q    string          `json:"q"`
		Code uint16          `json:"code"`
		Mode string          `json:"mode"`
	}
	hSeries struct {
		Tag         string          `json:"tag"`
		Points      []hPoint        `json:"points"`
		Compression json.RawMessage `json:"compression"`
		Buckets     []struct {
			Start  time.Time `json:"start"`
			Q      string    `json:"q"`
			Values []hPoint  `json:"values"`
		} `json:"buckets"`
	}
	hResp struct {
		Series     []hSeries `json:"series"`
		Values     []hPoint  `json:"values"`
		Aggregates []string  `json:"aggregates"`
		NextCursor string    `json:"next_cursor"`
	}
)

func valueText(v json.RawMessage) string {
	s := string(v)
	if s == "" || s == "null" {
		return "-"
	}
	return strings.Trim(s, `"`)
}

func compressionLine(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range []string{"exc_dev", "exc_min", "exc_max", "comp_dev", "comp_min", "comp_max"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", strings.ReplaceAll(k, "_", ""), v))
		}
	}
	return "compression: " + strings.Join(parts, " ")
}

// printTable prints a response as a table: time, tag, value, quality; for
// aggregates one column per aggregate.
func printTable(w io.Writer, body []byte) error {
	var r hResp
	if err := json.Unmarshal(body, &r); err != nil {
		return errcode.Wrap(errcode.CLIRemote, err, "read answer")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	switch {
	case len(r.Aggregates) > 0:
		fmt.Fprintf(tw, "start\ttag\t%s\tquality\n", strings.Join(r.Aggregates, "\t"))
		for _, s := range r.Series {
			for _, b := range s.Buckets {
				vals := make([]string, len(b.Values))
				for i, v := range b.Values {
					vals[i] = valueText(v.V)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ts(b.Start), s.Tag, strings.Join(vals, "\t"), b.Q)
			}
			if l := compressionLine(s.Compression); l != "" {
				fmt.Fprintln(tw, l)
			}
		}
	case r.Series != nil:
		fmt.Fprintln(tw, "time\ttag\tvalue\tquality")
		for _, s := range r.Series {
			for _, p := range s.Points {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ts(p.T), s.Tag, valueText(p.V), p.Q)
			}
			if l := compressionLine(s.Compression); l != "" {
				fmt.Fprintln(tw, l)
			}
		}
	default:
		fmt.Fprintln(tw, "time\ttag\tvalue\tquality")
		for _, p := range r.Values {
			t := "-"
			if !p.T.IsZero() {
				t = ts(p.T)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t, p.Tag, valueText(p.V), p.Q)
		}
	}
	return tw.Flush()
}

func historyCmd() *cobra.Command {
	var tgt historyTarget
	c := &cobra.Command{
		Use:   "history",
		Short: "query stored history: raw, at, agg, plot, latest, export (docs/history.md)",
		Long: `Query the historian of a stopped otlink's data folder (--data), or of a
running otlink through its REST API (--url https://127.0.0.1:8443 with --token): the store
admits one process at a time, so a folder in use is refused (OTL-9020).`,
	}
	tgt.flags(c)
	var asJSON bool
	run := func(c *cobra.Command, route string, req any) error {
		body, err := tgt.call(c.Context(), route, req)
		if err != nil {
			return historyErr(err)
		}
		if asJSON {
			_, err = fmt.Fprintf(c.OutOrStdout(), "%s\n", bytes.TrimSpace(body))
			return err
		}
		return printTable(c.OutOrStdout(), body)
	}
	jsonFlag := func(c *cobra.Command) { c.Flags().BoolVar(&asJSON, "json", false, "print the JSON response") }

	var raw query.RawRequest
	var allPages bool
	rawC := &cobra.Command{
		Use: "raw TAGS...", Short: "stored samples in [from, to)", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			raw.Tags = splitTags(args)
			if !allPages {
				return run(c, "raw", raw)
			}
			// Follow the cursors; JSON prints one response per page.
			for page := 0; page < 1<<20; page++ {
				body, err := tgt.call(c.Context(), "raw", raw)
				if err != nil {
					return historyErr(err)
				}
				if asJSON {
					fmt.Fprintf(c.OutOrStdout(), "%s\n", bytes.TrimSpace(body))
				} else if err := printTable(c.OutOrStdout(), body); err != nil {
					return err
				}
				var r hResp
				if err := json.Unmarshal(body, &r); err != nil || r.NextCursor == "" {
					return err
				}
				raw.Cursor = r.NextCursor
			}
			return nil
		}}
	rawC.Flags().StringVar(&raw.From, "from", "", "start (default now-1h)")
	rawC.Flags().StringVar(&raw.To, "to", "", "end, exclusive (default now)")
	rawC.Flags().IntVar(&raw.Limit, "limit", 0, "samples per page (default 10000)")
	rawC.Flags().StringVar(&raw.Quality, "quality", "", "all (default), good or exclude-bad")
	rawC.Flags().BoolVar(&allPages, "all-pages", false, "follow the cursors to the end")
	jsonFlag(rawC)

	var at query.AtRequest
	atC := &cobra.Command{
		Use: "at TAGS...", Short: "the value of tags at a time", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { at.Tags = splitTags(args); return run(c, "at", at) }}
	atC.Flags().StringVar(&at.Time, "time", "", "the time (default now)")
	atC.Flags().StringVar(&at.Mode, "mode", "", "auto (default), stepped or linear")
	jsonFlag(atC)

	var agg query.AggRequest
	var aggs string
	aggC := &cobra.Command{
		Use: "agg TAGS... --agg min,max,twa", Short: "OPC UA Part 13 aggregates over intervals", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			agg.Tags = splitTags(args)
			agg.Aggregates = splitTags([]string{aggs})
			return run(c, "aggregate", agg)
		}}
	aggC.Flags().StringVar(&aggs, "agg", "", "aggregates, comma separated (count, min, max, avg, twa, ...)")
	aggC.Flags().StringVar(&agg.From, "from", "", "start (default now-1h)")
	aggC.Flags().StringVar(&agg.To, "to", "", "end, exclusive (default now)")
	aggC.Flags().StringVar(&agg.Interval, "interval", "", "interval length: 1m, 15m, 1h, 1d")
	aggC.Flags().IntVar(&agg.Buckets, "buckets", 0, "number of intervals (instead of --interval)")
	aggC.Flags().BoolVar(&agg.TreatUncertainAsBad, "treat-uncertain-as-bad", false, "uncertain samples count as bad")
	aggC.Flags().Float64Var(&agg.PercentGood, "percent-good", 0, "share of good time for a Good interval (default 100)")
	aggC.Flags().Float64Var(&agg.PercentBad, "percent-bad", 0, "share of bad time for a Bad interval (default 100)")
	aggC.Flags().BoolVar(&agg.Stepped, "stepped", false, "step floats too instead of interpolating")
	jsonFlag(aggC)

	var plot query.PlotRequest
	plotC := &cobra.Command{
		Use: "plot TAGS...", Short: "points to draw a chart", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { plot.Tags = splitTags(args); return run(c, "plot", plot) }}
	plotC.Flags().StringVar(&plot.From, "from", "", "start (default now-1h)")
	plotC.Flags().StringVar(&plot.To, "to", "", "end, exclusive (default now)")
	plotC.Flags().IntVar(&plot.Width, "width", 0, "pixels (default 1000)")
	plotC.Flags().StringVar(&plot.Method, "method", "", "minmax (default) or lttb")
	jsonFlag(plotC)

	latestC := &cobra.Command{
		Use: "latest TAGS...", Short: "the newest stored sample of tags", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return run(c, "latest", query.LatestRequest{Tags: splitTags(args)})
		}}
	jsonFlag(latestC)

	c.AddCommand(rawC, atC, aggC, plotC, latestC, exportCmd(&tgt), historySizeCmd())
	return c
}

// splitTags accepts tags as arguments, comma separated or both.
func splitTags(args []string) []string {
	var out []string
	for _, a := range args {
		for _, t := range strings.Split(a, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func exportCmd(tgt *historyTarget) *cobra.Command {
	var (
		from, to, format, layout, out string
		fill, noProgress              bool
	)
	c := &cobra.Command{
		Use:   "export TAGS... --from T",
		Short: "export a time range of tags as CSV or Parquet",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if tgt.url != "" {
				return usageErr(errcode.New(errcode.CLIUsage, "export reads the data folder (--data) of a stopped otlink; --url is not supported for export yet"))
			}
			if from == "" {
				return usageErr(errcode.New(errcode.CLIUsage, "export needs --from"))
			}
			now := time.Now()
			f, err := query.ParseTime(from, now)
			if err != nil {
				return usageErr(err)
			}
			t := now
			if to != "" {
				if t, err = query.ParseTime(to, now); err != nil {
					return usageErr(err)
				}
			}
			if format != "csv" && format != "parquet" {
				return usageErr(errcode.New(errcode.ExportFormat, "export format %q: use csv or parquet", format))
			}
			ctx := c.Context()
			h, err := tgt.open(ctx)
			if err != nil {
				return err
			}
			defer h.Close()
			tags, err := h.Query.Tags(ctx, splitTags(args))
			if err != nil {
				return historyErr(err)
			}
			var w io.Writer = c.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				if file, err = os.Create(out); err != nil {
					return errcode.Wrap(errcode.ExportWrite, err, "create %s", out)
				}
				defer file.Close()
				w = file
			}
			o := export.Options{Layout: layout, Fill: fill}
			if !noProgress {
				o.Progress = export.NewBar(c.ErrOrStderr(), export.IsTerminal(os.Stderr)).Update
			}
			if format == "parquet" {
				err = export.Parquet(ctx, w, h.Store, tags, f, t, o)
			} else {
				err = export.CSV(ctx, w, h.Store, tags, f, t, o)
			}
			if err != nil {
				return historyErr(err)
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return errcode.Wrap(errcode.ExportWrite, err, "close %s", out)
				}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&from, "from", "", "start (required)")
	fl.StringVar(&to, "to", "", "end, exclusive (default now)")
	fl.StringVar(&format, "format", "csv", "csv or parquet")
	fl.StringVar(&layout, "layout", "", "CSV layout: long (default) or wide")
	fl.BoolVar(&fill, "fill", false, "wide layout: repeat a tag's last value in later rows")
	fl.StringVarP(&out, "output", "o", "", "file to write (default stdout)")
	fl.BoolVar(&noProgress, "no-progress", false, "no progress bar or summary line on stderr")
	return c
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian/query"
	"github.com/otlink/otlink/internal/integrity"
)

// verifySel is the range and tags selected for a verification or bundle.
type verifySel struct {
	from, to, tags string
}

func (s *verifySel) flags(c *cobra.Command) {
	c.Flags().StringVar(&s.from, "from", "", "first time to report (RFC 3339, Unix, now-1h, ...)")
	c.Flags().StringVar(&s.to, "to", "", "last time to report")
	c.Flags().StringVar(&s.tags, "tags", "", `tags to report: a path.Match glob per segment ("acme/*/*/*/*/temp")`)
}

func (s *verifySel) resolve() (from, to time.Time, err error) {
	now := time.Now()
	if s.from != "" {
		if from, err = query.ParseTime(s.from, now); err != nil {
			return from, to, usageErr(err)
		}
	}
	if s.to != "" {
		if to, err = query.ParseTime(s.to, now); err != nil {
			return from, to, usageErr(err)
		}
	}
	return from, to, nil
}

func (s *verifySel) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"from": s.from, "to": s.to, "tags": s.tags} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// reportExit prints a report and turns a failed one into exit status 1.
func reportExit(w io.Writer, rep *integrity.Report, raw []byte, asJSON bool) error {
	if asJSON {
		if raw == nil {
			var err error
			if raw, err = json.MarshalIndent(rep, "", "  "); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "%s\n", bytes.TrimSpace(raw))
	} else if rep != nil {
		if err := rep.WriteText(w); err != nil {
			return err
		}
	}
	if rep != nil && rep.OK {
		return nil
	}
	return &exitError{status: 1, err: errcode.New(errcode.CLIVerifyFailed, "integrity verification failed")}
}

func verifyCmd() *cobra.Command {
	var (
		tgt         historyTarget
		sel         verifySel
		checkpoints []string
		keys        []string
		bundle      string
		asJSON      bool
	)
	c := &cobra.Command{
		Use:   "verify [--data DIR | --url URL] [--from T --to T] [--tags GLOB] [--checkpoint FILE ...] [--key KEY] [--json]",
		Short: "verify the historian's integrity log and data, or an evidence bundle (docs/integrity.md)",
		Long: `Recompute every leaf of the integrity log, check the tree, the signed
checkpoints (stored and given) and re-read each selected chunk. Exit status:
0 all verified, 1 something failed verification, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			out := c.OutOrStdout()
			ctx := c.Context()
			if bundle != "" {
				f, err := os.Open(bundle)
				if err != nil {
					return usageErr(errcode.Wrap(errcode.CLIFileNotFound, err, "bundle"))
				}
				defer f.Close()
				rep, err := integrity.VerifyBundle(f, keys...)
				if err != nil {
					// An unreadable or altered bundle is a failed verification.
					return &exitError{status: 1, err: err}
				}
				return reportExit(out, rep, nil, asJSON)
			}
			from, to, err := sel.resolve()
			if err != nil {
				return err
			}
			if tgt.url != "" {
				q := sel.query()
				for _, k := range keys {
					q.Add("key", k)
				}
				if len(checkpoints) > 0 {
					return usageErr(errcode.New(errcode.CLIUsage, "--checkpoint works on a data folder, not with --url"))
				}
				body, err := tgt.postJSON(ctx, strings.TrimRight(tgt.url, "/")+"/api/v1/integrity?"+q.Encode(), nil)
				if err != nil {
					return historyErr(err)
				}
				var rep struct {
					OK bool `json:"ok"`
				}
				if err := json.Unmarshal(body, &rep); err != nil {
					return errcode.Wrap(errcode.CLIRemote, err, "read report")
				}
				if !asJSON {
					fmt.Fprintln(out, "report of", tgt.url, "(use --json for every field)")
				}
				fmt.Fprintf(out, "%s\n", bytes.TrimSpace(body))
				if !rep.OK {
					return &exitError{status: 1, err: errcode.New(errcode.CLIVerifyFailed, "integrity verification failed")}
				}
				return nil
			}
			opts := integrity.VerifyOptions{From: from, To: to, TagGlob: sel.tags, Verifiers: keys}
			for _, p := range checkpoints {
				b, err := os.ReadFile(p)
				if err != nil {
					return usageErr(errcode.Wrap(errcode.CLIFileNotFound, err, "checkpoint"))
				}
				opts.Checkpoints = append(opts.Checkpoints, integrity.CheckpointSource{Name: filepath.Base(p), Note: b})
			}
			rep, err := verifyDir(ctx, tgt.dataDir(), opts)
			if err != nil {
				return err
			}
			return reportExit(out, rep, nil, asJSON)
		},
	}
	tgt.flags(c)
	sel.flags(c)
	c.Flags().StringArrayVar(&checkpoints, "checkpoint", nil, "a checkpoint exported earlier (repeatable)")
	c.Flags().StringArrayVar(&keys, "key", nil, "trusted public key (checkpoint.pub), repeatable; default: the key found next to the data")
	c.Flags().StringVar(&bundle, "bundle", "", "verify this evidence bundle offline")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.AddCommand(exportCheckpointCmd(&tgt), bundleCmd(&tgt), witnessCmd(&tgt))
	return c
}

// verifyDir verifies the data folder of a stopped otlink: the integrity log
// is opened read-only (damage is reported, not repaired) and each chunk is
// re-read from the store.
func verifyDir(ctx context.Context, dir string, opts integrity.VerifyOptions) (*integrity.Report, error) {
	if _, err := os.Stat(filepath.Join(dir, app.IntegrityDir)); err != nil {
		return nil, usageErr(errcode.New(errcode.CLINoHistory, "no integrity log in data folder %s", dir))
	}
	if app.HasHistory(dir) {
		h, err := app.OpenHistory(ctx, dir, config.Historian{Backend: config.HistorianEmbedded}, app.HistoryOptions{Log: app.LogNone})
		if err != nil {
			return nil, err
		}
		defer h.Close()
		opts.Recompute = h.Recompute
	}
	return integrity.VerifyDir(ctx, filepath.Join(dir, app.IntegrityDir), opts)
}

// openWritable opens the data folder with its integrity log writable, to
// sign a checkpoint.
func openWritable(ctx context.Context, dir string) (*app.History, error) {
	if !app.HasHistory(dir) {
		return nil, usageErr(errcode.New(errcode.CLINoHistory, "no history in data folder %s", dir))
	}
	return app.OpenHistory(ctx, dir, config.Historian{Backend: config.HistorianEmbedded}, app.HistoryOptions{Log: app.LogWrite})
}

func outputTo(c *cobra.Command, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return c.OutOrStdout(), func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.CLIDataDir, err, "create %s", path)
	}
	return f, f.Close, nil
}

func exportCheckpointCmd(tgt *historyTarget) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export-checkpoint [--data DIR | --url URL] [-o FILE]",
		Short: "sign and print the latest checkpoint, to keep off the machine",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			w, done, err := outputTo(c, out)
			if err != nil {
				return err
			}
			if tgt.url != "" {
				body, err := tgt.postJSON(c.Context(), strings.TrimRight(tgt.url, "/")+"/api/v1/integrity/checkpoint", nil)
				if err != nil {
					return err
				}
				if _, err := w.Write(body); err != nil {
					return err
				}
				return done()
			}
			h, err := openWritable(c.Context(), tgt.dataDir())
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.ExportCheckpoint(c.Context(), w); err != nil {
				return err
			}
			return done()
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "file to write (default stdout)")
	return c
}

func bundleCmd(tgt *historyTarget) *cobra.Command {
	var (
		sel verifySel
		out string
	)
	c := &cobra.Command{
		Use:   "bundle [--data DIR | --url URL] [--from T] [--to T] [--tags GLOB] -o FILE",
		Short: "write an evidence bundle that otlink verify --bundle (or a third party) checks offline",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			from, to, err := sel.resolve()
			if err != nil {
				return err
			}
			w, done, err := outputTo(c, out)
			if err != nil {
				return err
			}
			if tgt.url != "" {
				body, err := tgt.postJSON(c.Context(), strings.TrimRight(tgt.url, "/")+"/api/v1/integrity/bundle?"+sel.query().Encode(), nil)
				if err != nil {
					return historyErr(err)
				}
				if _, err := w.Write(body); err != nil {
					return err
				}
				return done()
			}
			h, err := openWritable(c.Context(), tgt.dataDir())
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.WriteBundle(c.Context(), w, integrity.Selection{From: from, To: to, TagGlob: sel.tags}); err != nil {
				return err
			}
			return done()
		},
	}
	sel.flags(c)
	c.Flags().StringVarP(&out, "output", "o", "", "file to write (default stdout)")
	return c
}

func witnessCmd(tgt *historyTarget) *cobra.Command {
	var keys []string
	c := &cobra.Command{
		Use:   "witness --key KEY [--data DIR | --url URL] CHECKPOINT_FILE",
		Short: "anchor another node's signed checkpoint in this node's integrity log",
		Long: `Checks the signature of a checkpoint exported by another otlink node
(otlink verify export-checkpoint there) with that node's verifier key (its
DATA/integrity/checkpoint.pub) and records it as a witness entry here. Nodes
that witness each other make a rewrite of one node's history detectable
from the others.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(keys) == 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--key: give the verifier key of the node that signed the checkpoint"))
			}
			note, err := os.ReadFile(args[0])
			if err != nil {
				return usageErr(errcode.Wrap(errcode.CLIFileNotFound, err, "checkpoint %s", args[0]))
			}
			if tgt.url != "" {
				q := url.Values{"key": keys}
				u := strings.TrimRight(tgt.url, "/") + "/api/v1/integrity/witness?" + q.Encode()
				hr, err := http.NewRequestWithContext(c.Context(), http.MethodPost, u, strings.NewReader(string(note)))
				if err != nil {
					return usageErr(errcode.Wrap(errcode.CLIUsage, err, "--url"))
				}
				resp, err := tgt.do(hr)
				if err != nil {
					return errcode.Wrap(errcode.CLIRemote, err, "ask %s", u)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				if resp.StatusCode != http.StatusOK {
					return errcode.New(errcode.CLIRemote, "%s: %s", resp.Status, strings.TrimSpace(string(body)))
				}
				_, err = c.OutOrStdout().Write(body)
				return err
			}
			h, err := openWritable(c.Context(), tgt.dataDir())
			if err != nil {
				return err
			}
			defer h.Close()
			cp, err := h.Witness(c.Context(), note, keys...)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "witnessed %s at %d leaves, root %x\n", cp.Origin, cp.Size, cp.Root[:])
			return nil
		},
	}
	c.Flags().StringSliceVar(&keys, "key", nil, "verifier key of the signing node (repeatable)")
	return c
}

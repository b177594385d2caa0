package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/errcode"
)

func configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "check and convert configuration files"}
	c.AddCommand(configValidateCmd(), configImportCmd())
	return c
}

func configValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "report every problem of a config file, each with file:line:column, a code and a hint; exit 2 on any",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0])
			if err != nil {
				return err
			}
			n := countTags(cfg)
			fmt.Fprintf(c.OutOrStdout(), "%s: ok (%d devices, %d tags)\n", args[0], len(cfg.Devices), n)
			return nil
		},
	}
}

// loadConfig loads and validates a config; problems are printed one per
// line and give exit status 2.
func loadConfig(path string) (*config.Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usageErr(errcode.Wrap(errcode.CLIFileNotFound, err, "config %s", path))
	}
	cfg, err := config.Load(path)
	if err != nil {
		var probs config.Errors
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(os.Stderr, p.Error())
			}
			return nil, usageErr(fmt.Errorf("%s: %d problem(s)", path, len(probs)))
		}
		return nil, usageErr(err)
	}
	return cfg, nil
}

func countTags(cfg *config.Config) int {
	n := 0
	for _, s := range cfg.Plant.Sites {
		for _, a := range s.Areas {
			for _, l := range a.Lines {
				for _, m := range l.Machines {
					n += len(m.Tags)
				}
				for _, c := range l.Cells {
					for _, m := range c.Machines {
						n += len(m.Tags)
					}
				}
			}
		}
	}
	return n
}

func configImportCmd() *cobra.Command {
	var o config.ImportOptions
	c := &cobra.Command{
		Use:   "import-csv FILE",
		Short: "turn a tag list exported from another gateway (Kepware-style or name,address,type,scan_ms,description) into config YAML",
		Long: `Reads a CSV tag list and writes an otlink config to standard output. Bad rows
are reported on standard error with their line and a code; the good rows are
still imported. Tags that were read/write in the source come in read-only,
because a CSV export carries no write limits.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usageErr(errcode.Wrap(errcode.CLIFileNotFound, err, "csv %s", args[0]))
			}
			defer f.Close()
			o.Name = args[0]
			cfg, probs, err := config.ImportCSV(f, o)
			for _, p := range probs {
				fmt.Fprintln(c.ErrOrStderr(), p.Error())
			}
			if err != nil {
				return err
			}
			return config.WriteYAML(c.OutOrStdout(), cfg)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Enterprise, "enterprise", "", "enterprise name")
	fl.StringVar(&o.Site, "site", "", "site name")
	fl.StringVar(&o.Area, "area", "", "area name")
	fl.StringVar(&o.Line, "line", "", "line name")
	fl.StringVar(&o.Machine, "machine", "", "machine the tags belong to")
	fl.StringVar(&o.Device, "device", "", "device name")
	fl.StringVar(&o.Driver, "driver", "", "driver (default modbus)")
	fl.StringVar(&o.Endpoint, "endpoint", "", "device endpoint, e.g. tcp://10.0.0.5:502")
	return c
}

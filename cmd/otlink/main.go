// Command otlink connects factory equipment and protects it. This package
// holds only the subcommands; the work is done in internal/.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	_ "github.com/otlink/otlink/internal/driver/modbus"    // registers the "modbus" driver
	_ "github.com/otlink/otlink/internal/driver/mqtt"      // registers the "mqtt" driver
	_ "github.com/otlink/otlink/internal/driver/mtconnect" // registers the "mtconnect" driver
	_ "github.com/otlink/otlink/internal/driver/opcua"     // registers the "opcua" driver
	"github.com/otlink/otlink/internal/errcode"
)

// exitError carries a process exit status out of a command.
type exitError struct {
	status int
	err    error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage error: exit status 2.
func usageErr(err error) error { return &exitError{status: 2, err: err} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "otlink",
		Short:         "otlink connects factory equipment and protects it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var memLimit string
	root.PersistentFlags().StringVar(&memLimit, "memory-limit", "", "soft memory limit of the Go runtime, e.g. 150MiB (as GOMEMLIMIT): the garbage collector works harder to stay below it")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if memLimit == "" {
			return nil
		}
		n, err := parseSize(memLimit)
		if err != nil {
			return usageErr(errcode.Wrap(errcode.CLIUsage, err, "--memory-limit %q", memLimit))
		}
		debug.SetMemoryLimit(n)
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr(errcode.Wrap(errcode.CLIUsage, err, "%s", c.CommandPath()))
	})
	root.AddCommand(versionCmd(), errorsCmd(), configCmd(), simCmd(), demoCmd(), runCmd(), benchCmd(), analyzeCmd(), historyCmd(), verifyCmd(), userCmd(), tokenCmd())
	for _, mk := range moreCommands {
		root.AddCommand(mk())
	}
	return root
}

// moreCommands and moreBench are filled by init functions of the files
// that add a command (certs.go, opcua.go, bench_http.go, ...), so that a
// new command does not edit this file.
var moreCommands, moreBench []func() *cobra.Command

func main() {
	root := newRoot()
	err := root.Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "otlink:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.status)
	}
	if errcode.Of(err) == 0 && isCobraUsage(err) {
		os.Exit(2)
	}
	os.Exit(1)
}

// parseSize reads a byte size: 150MiB, 2GiB, 500MB, 1048576.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: give a number with KiB, MiB, GiB, KB, MB or GB")
	}
	return n * mult, nil
}

// isCobraUsage recognises cobra's own argument errors, which carry no type.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if len(s) >= len(p) && contains(s, p) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/errcode"
)

func errorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "errors [CODE]",
		Short: "explain an error code (OTL-nnnn), or list them all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			if len(args) == 0 {
				for _, e := range errcode.All() {
					fmt.Fprintf(out, "%s  %-32s %s\n", e.Code, e.Name, e.Title)
				}
				return nil
			}
			code, ok := errcode.Parse(args[0])
			if !ok {
				return usageErr(errcode.New(errcode.CLIUsage, "%q is not an error code: give OTL-nnnn or nnnn", args[0]))
			}
			e, ok := errcode.Lookup(code)
			if !ok {
				return &exitError{status: 1, err: errcode.New(errcode.CLIUnknownCode, "%s is not a known code; `otlink errors` lists them", code)}
			}
			fmt.Fprint(out, errcode.Format(e))
			return nil
		},
	}
}

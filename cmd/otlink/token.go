package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/errcode"
)

func tokenCmd() *cobra.Command {
	var af authFlags
	c := &cobra.Command{Use: "token", Short: "manage API tokens of a data folder: create, list, revoke"}
	af.add(c)

	var user, name, expires string
	var perms, scopes []string
	create := &cobra.Command{
		Use:   "create --user NAME --name N --perm P... [--scope S]... [--expires 90d]",
		Short: "create an API token (sent as Authorization: Bearer); the secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if user == "" || name == "" || len(perms) == 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--user, --name and --perm are required"))
			}
			d, err := parseLife(expires)
			if err != nil {
				return usageErr(errcode.Wrap(errcode.CLIUsage, err, "--expires %q", expires))
			}
			svc, ctx, err := af.open(c.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			secret, t, err := svc.CreateToken(ctx, user, name, perms, scopes, d)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), secret)
			fmt.Fprintf(c.ErrOrStderr(), "token %d for %s (%s): perms %s, scopes %s, expires %s; the secret above is shown only now\n",
				t.ID, t.User, t.Name, strings.Join(t.Perms, ","), strings.Join(t.Scopes, ","), t.Expires.Format(time.DateOnly))
			return nil
		},
	}
	create.Flags().StringVar(&user, "user", "", "owner of the token; it never has more than its owner")
	create.Flags().StringVar(&name, "name", "", "what the token is for, e.g. grafana")
	create.Flags().StringSliceVar(&perms, "perm", nil, "permission (repeatable or comma separated), e.g. tags.read,history.read")
	create.Flags().StringArrayVar(&scopes, "scope", nil, "part of the plant (repeatable); default the owner's")
	create.Flags().StringVar(&expires, "expires", "90d", "lifetime: 90d, 12h, at most 2 years")

	var of string
	list := &cobra.Command{
		Use: "list [--user NAME]", Short: "list tokens (never their secrets)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			svc, ctx, err := af.open(c.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			ts, err := svc.ListTokens(ctx, of)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPREFIX\tUSER\tNAME\tPERMS\tSCOPES\tEXPIRES\tSTATE")
			for _, t := range ts {
				state := "active"
				if t.Revoked {
					state = "revoked"
				} else if time.Now().After(t.Expires) {
					state = "expired"
				}
				fmt.Fprintf(tw, "%d\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Prefix, t.User, t.Name, strings.Join(t.Perms, ","), strings.Join(t.Scopes, ","), t.Expires.Format(time.DateOnly), state)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&of, "user", "", "only this user's tokens")
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "revoke a token at once", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr(errcode.Wrap(errcode.CLIUsage, err, "token id %q", args[0]))
			}
			svc, ctx, err := af.open(c.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			if err := svc.RevokeToken(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "token %d revoked\n", id)
			return nil
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

// parseLife reads a duration that may be given in days: 90d, or any
// time.ParseDuration form.
func parseLife(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("not a number of days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

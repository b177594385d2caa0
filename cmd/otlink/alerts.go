package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/errcode"
	netview "github.com/otlink/otlink/internal/monitor/view"
)

func init() { moreCommands = append(moreCommands, alertsCmd) }

// alertsCmd handles the network monitor's alerts of a running otlink over
// its REST API, as the war room does: the monitor keeps the alert states,
// so there is no offline mode (editing DATA/monitor/alerts.json behind a
// running monitor would be lost, and would not be audited).
func alertsCmd() *cobra.Command {
	var tgt historyTarget
	c := &cobra.Command{
		Use:   "alerts",
		Short: "the network monitor's alerts of a running otlink: list, ack, resolve, reopen, note",
		Long: `alerts lists and handles the alerts of a running otlink's network monitor through
its REST API (--url, with a token holding security.read and, to change states,
alerts.ack). States go new → acknowledged → resolved and back to new (reopen);
every change may carry a note, and every change is audited under the token's owner,
as from the war room (docs/monitor.md).`,
	}
	tgt.flags(c)
	c.AddCommand(alertsListCmd(&tgt),
		alertsStateCmd(&tgt, "ack", netview.StateAcknowledged, "acknowledge an alert: someone is on it"),
		alertsStateCmd(&tgt, "resolve", netview.StateResolved, "resolve an alert: handled, or a false positive (say which in --note)"),
		alertsStateCmd(&tgt, "reopen", netview.StateNew, "set a resolved or acknowledged alert back to new"),
		alertsStateCmd(&tgt, "note", "", "add a note to an alert without changing its state"))
	return c
}

// needURL refuses to run without --url.
func (t *historyTarget) needURL() error {
	if t.url == "" {
		return usageErr(errcode.New(errcode.CLIUsage, "alerts are kept by the running otlink: give --url https://HOST:PORT and a token (--token or $OTLINK_TOKEN)"))
	}
	return nil
}

func alertsListCmd(tgt *historyTarget) *cobra.Command {
	var state string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--state new|acknowledged|resolved] [--json]",
		Short: "list alerts, newest first (at most 200)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := tgt.needURL(); err != nil {
				return err
			}
			switch state {
			case "", netview.StateNew, netview.StateAcknowledged, netview.StateResolved:
			default:
				return usageErr(errcode.New(errcode.CLIUsage, "--state %q: want new, acknowledged or resolved", state))
			}
			u := strings.TrimRight(tgt.url, "/") + "/api/v1/security/alerts"
			if state != "" {
				u += "?state=" + url.QueryEscape(state)
			}
			ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
			defer cancel()
			b, err := tgt.postJSON(ctx, u, nil)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				_, err := out.Write(append(b, '\n'))
				return err
			}
			var r struct {
				Alerts []netview.Alert `json:"alerts"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return errcode.Wrap(errcode.CLIRemote, err, "alerts from %s", tgt.url)
			}
			if len(r.Alerts) == 0 {
				fmt.Fprintln(out, "no alerts")
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tSTATE\tLAST\tCOUNT\tTECHNIQUES\tTITLE\tASSETS")
			for _, a := range r.Alerts {
				tech := make([]string, len(a.Techniques))
				for i, t := range a.Techniques {
					tech[i] = t.ID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.ID, a.Severity, a.State, a.Last.UTC().Format(time.RFC3339),
					a.Count, strings.Join(tech, ","), a.Title, strings.Join(a.Assets, " "))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&state, "state", "", "only alerts in this state")
	c.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return c
}

func alertsStateCmd(tgt *historyTarget, verb, state, short string) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   verb + " ID [--note TEXT]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := tgt.needURL(); err != nil {
				return err
			}
			note = strings.TrimSpace(note)
			if state == "" && note == "" {
				return usageErr(errcode.New(errcode.CLIUsage, "alerts note: write the note with --note TEXT"))
			}
			u := strings.TrimRight(tgt.url, "/") + "/api/v1/security/alerts/" + url.PathEscape(args[0]) + "/state"
			ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
			defer cancel()
			b, err := tgt.postJSON(ctx, u, map[string]string{"state": state, "note": note})
			if err != nil {
				return err
			}
			var a netview.Alert
			if err := json.Unmarshal(b, &a); err != nil {
				return errcode.Wrap(errcode.CLIRemote, err, "answer of %s", u)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: %s (%d notes)\n", a.ID, a.State, len(a.Notes))
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "what was done or found; kept with the alert and in the audit trail")
	return c
}

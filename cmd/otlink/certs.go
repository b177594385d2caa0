package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otlink/otlink/internal/uatrust"
)

func init() { moreCommands = append(moreCommands, certsCmd) }

// certsCmd manages the OPC UA trust list of a data folder (DATA/pki).
func certsCmd() *cobra.Command {
	var data, cfgPath string
	open := func() (*uatrust.Store, error) {
		dir := data
		if dir == "" && cfgPath != "" {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return nil, err
			}
			dir = cfg.Data
		}
		if dir == "" {
			dir = defaultDataDir("run")
		}
		return uatrust.Open(dir)
	}
	c := &cobra.Command{
		Use:   "certs",
		Short: "OPC UA certificates: list, trust or reject peers (DATA/pki)",
		Long: `otlink refuses OPC UA peers (servers it connects to, clients of its server)
whose certificate it does not trust, and keeps their certificate under
DATA/pki/rejected. Compare the thumbprint with the one the peer shows, then
trust it; the next connection attempt succeeds.`,
	}
	c.PersistentFlags().StringVar(&data, "data", "", "data folder (default: the config's data, else otlink run's default)")
	c.PersistentFlags().StringVar(&cfgPath, "config", "", "take the data folder from this config")

	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "list trusted, rejected and issuer certificates and otlink's own", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			own, err := st.Own()
			if err != nil {
				return err
			}
			l, err := st.List()
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			if asJSON {
				e := json.NewEncoder(w)
				e.SetIndent("", "  ")
				return e.Encode(struct {
					Own   uatrust.Entry   `json:"own"`
					Certs []uatrust.Entry `json:"certificates"`
				}{uatrust.Entry{Thumbprint: uatrust.Thumbprint(own.DER), State: "own", Subject: own.Cert.Subject.String(), URI: own.ApplicationURI,
					NotBefore: own.Cert.NotBefore, NotAfter: own.Cert.NotAfter, File: own.CertFile}, nonNil(l)})
			}
			fmt.Fprintf(w, "own: %s %s (%s)\n\n", uatrust.Thumbprint(own.DER), own.ApplicationURI, own.CertFile)
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tTHUMBPRINT\tSUBJECT\tAPPLICATION URI\tVALID UNTIL")
			for _, e := range l {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.State, e.Thumbprint, e.Subject, e.URI, e.NotAfter.UTC().Format(time.DateOnly))
			}
			tw.Flush()
			if len(l) == 0 {
				fmt.Fprintln(w, "(no peer certificates yet)")
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	trust := &cobra.Command{
		Use: "trust THUMBPRINT|FILE", Short: "trust a rejected certificate by thumbprint (8+ hex digits), or a certificate file (DER or PEM)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			var e uatrust.Entry
			if b, rerr := os.ReadFile(args[0]); rerr == nil && !isHex(args[0]) {
				e, err = st.Add(b, uatrust.DirTrusted)
			} else {
				e, err = st.Trust(args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "trusted %s %s %s\n", e.Thumbprint, e.Subject, e.URI)
			return nil
		},
	}
	reject := &cobra.Command{
		Use: "reject THUMBPRINT", Short: "stop trusting a certificate: peers presenting it are refused", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			e, err := st.Reject(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "rejected %s %s %s\n", e.Thumbprint, e.Subject, e.URI)
			return nil
		},
	}
	c.AddCommand(list, trust, reject)
	return c
}

func nonNil(l []uatrust.Entry) []uatrust.Entry {
	if l == nil {
		return []uatrust.Entry{}
	}
	return l
}

func isHex(s string) bool {
	s = strings.ReplaceAll(s, ":", "")
	return len(s) >= 8 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

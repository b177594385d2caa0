package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// authFlags open DATA/auth.db for the user and token commands. A running
// otlink may hold it too: SQLite's WAL admits a second process, and events
// audited here (actor "cli") reach the integrity log through the running
// server, or the next one.
type authFlags struct{ data string }

func (f *authFlags) add(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.data, "data", "", "data folder (default: the run folder under the user's state directory)")
}

func (f *authFlags) open(ctx context.Context) (*auth.Service, context.Context, error) {
	dir := f.data
	if dir == "" {
		dir = defaultDataDir("run")
	}
	svc, err := auth.Open(ctx, filepath.Join(dir, app.AuthDB), auth.Options{})
	if err != nil {
		return nil, nil, err
	}
	return svc, auth.WithActor(auth.WithClientIP(ctx, "local"), "cli"), nil
}

// with opens the data folder's accounts for fn and closes them after.
func (f *authFlags) with(c *cobra.Command, fn func(svc *auth.Service, ctx context.Context) error) error {
	svc, ctx, err := f.open(c.Context())
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc, ctx)
}

func userCmd() *cobra.Command {
	var af authFlags
	c := &cobra.Command{Use: "user", Short: "manage accounts of a data folder: add, list, disable, reset-mfa, passwd"}
	af.add(c)

	var roles, scopes []string
	var pwFile string
	var temporary bool
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--scope PATH]... [--password-file FILE]",
		Short: "create an account; the password is read from --password-file, asked on a terminal, or read from stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(roles) == 0 {
				return usageErr(errcode.New(errcode.CLIUsage, "--role is required (%s)", strings.Join(builtinRoles(), ", ")))
			}
			pw, err := readPassword(c.InOrStdin(), c.ErrOrStderr(), pwFile)
			if err != nil {
				return err
			}
			svc, ctx, err := af.open(c.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			create := svc.CreateUser
			if temporary {
				create = svc.CreateUserTemporary
			}
			u, err := create(ctx, args[0], pw, roles, scopes)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "user %s created: roles %s, scopes %s", u.Name, strings.Join(u.Roles, ","), strings.Join(u.Scopes, ","))
			if u.MFARequired {
				fmt.Fprint(c.OutOrStdout(), "; a second factor is enrolled at first login")
			}
			if u.TemporaryPassword {
				fmt.Fprint(c.OutOrStdout(), "; the user chooses a new password at first login")
			}
			fmt.Fprintln(c.OutOrStdout())
			return nil
		},
	}
	add.Flags().StringSliceVar(&roles, "role", nil, "role (repeatable): viewer, operator, engineer, security_analyst, admin or a custom role")
	add.Flags().StringArrayVar(&scopes, "scope", nil, "part of the plant (repeatable), e.g. acme/taichung/machining/line1; default the whole plant")
	add.Flags().StringVar(&pwFile, "password-file", "", "file whose first line is the password")
	add.Flags().BoolVar(&temporary, "temporary", false, "the password is a one-time password: the user replaces it at first login")

	var resetFile string
	passwd := &cobra.Command{
		Use:   "passwd NAME [--password-file FILE]",
		Short: "give an account a one-time password (read like add's): its sessions end and the user chooses a new password at next login",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := readPassword(c.InOrStdin(), c.ErrOrStderr(), resetFile)
			if err != nil {
				return err
			}
			return af.with(c, func(svc *auth.Service, ctx context.Context) error {
				if err := svc.ResetPassword(ctx, args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "password of %s reset; the user chooses a new one at next login\n", args[0])
				return nil
			})
		},
	}
	passwd.Flags().StringVar(&resetFile, "password-file", "", "file whose first line is the one-time password")

	list := &cobra.Command{
		Use: "list", Short: "list accounts", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			svc, ctx, err := af.open(c.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			us, err := svc.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tSCOPES\tMFA\tSTATE")
			for _, u := range us {
				mfa := "none"
				switch {
				case u.TOTP && u.WebAuthn > 0:
					mfa = fmt.Sprintf("totp+%d keys", u.WebAuthn)
				case u.TOTP:
					mfa = "totp"
				case u.WebAuthn > 0:
					mfa = fmt.Sprintf("%d keys", u.WebAuthn)
				case u.MFARequired:
					mfa = "required, not enrolled"
				}
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				} else if !u.Locked.IsZero() {
					state = "locked until " + u.Locked.Format("15:04:05")
				}
				if u.TemporaryPassword {
					state += ", one-time password"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, strings.Join(u.Roles, ","), strings.Join(u.Scopes, ","), mfa, state)
			}
			return tw.Flush()
		},
	}
	disable := &cobra.Command{
		Use: "disable NAME", Short: "disable an account: its sessions end and its tokens stop working", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return af.with(c, func(svc *auth.Service, ctx context.Context) error {
				if err := svc.SetDisabled(ctx, args[0], true); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "user %s disabled\n", args[0])
				return nil
			})
		},
	}
	reset := &cobra.Command{
		Use: "reset-mfa NAME", Short: "remove an account's second factors: it enrols again at next login", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return af.with(c, func(svc *auth.Service, ctx context.Context) error {
				if err := svc.ResetMFA(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "second factors of %s removed; enrolment is asked at next login\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(add, list, disable, reset, passwd)
	return c
}

func builtinRoles() []string {
	return []string{auth.RoleViewer, auth.RoleOperator, auth.RoleEngineer, auth.RoleSecurityAnalyst, auth.RoleAdmin}
}

// readPassword reads the new password: the first line of file, or asked
// twice on a terminal, or the first line of stdin.
func readPassword(in io.Reader, prompt io.Writer, file string) (string, error) {
	firstLine := func(r io.Reader, from string) (string, error) {
		line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("empty")
			}
			return "", errcode.Wrap(errcode.CLIPassword, err, "read password from %s", from)
		}
		return line, nil
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", errcode.Wrap(errcode.CLIPassword, err, "read password file")
		}
		defer f.Close()
		return firstLine(f, file)
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprint(prompt, "\nagain: ")
		b, err2 := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil || err2 != nil {
			return "", errcode.Wrap(errcode.CLIPassword, fmt.Errorf("%v %v", err, err2), "read password from the terminal")
		}
		if string(a) != string(b) {
			return "", errcode.New(errcode.CLIPassword, "the two passwords differ")
		}
		return string(a), nil
	}
	return firstLine(in, "stdin")
}

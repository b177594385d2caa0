package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
)

// TestUserCommands: accounts from the command line, with a password
// chosen by their user or a one-time one (add --temporary, passwd), which
// the next login must replace; refusals are coded.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pw, pw2, weak := filepath.Join(dir, "pw"), filepath.Join(dir, "pw2"), filepath.Join(dir, "weak")
	os.WriteFile(pw, []byte("a long enough passphrase 42\n"), 0o600)
	os.WriteFile(pw2, []byte("another one-time passphrase 43\n"), 0o600)
	os.WriteFile(weak, []byte("short\n"), 0o600)
	for _, args := range [][]string{
		{"user", "add", "root", "--role", "admin", "--password-file", pw},
		{"user", "add", "nia", "--role", "viewer", "--temporary", "--password-file", pw},
		{"user", "passwd", "root", "--password-file", pw2},
	} {
		out, errOut, st := otlink(t, append(args, "--data", data)...)
		if st != 0 {
			t.Fatalf("%v: %d %s %s", args, st, out, errOut)
		}
		if args[1] != "add" || args[2] == "nia" {
			if !strings.Contains(out, "new password at") && !strings.Contains(out, "new one at next login") {
				t.Errorf("%v: %q does not say the password is to be replaced", args, out)
			}
		}
	}
	out, _, st := otlink(t, "user", "list", "--data", data)
	if st != 0 || strings.Count(out, "one-time password") != 2 {
		t.Errorf("list: %d\n%s", st, out)
	}
	for _, c := range []struct {
		args []string
		st   int
		code string
	}{
		{[]string{"user", "passwd", "nobody", "--password-file", pw}, 1, "OTL-6107"},
		{[]string{"user", "passwd", "nia", "--password-file", weak}, 1, "OTL-6105"},
		{[]string{"user", "passwd", "nia", "--password-file", filepath.Join(dir, "missing")}, 1, "OTL-"},
		{[]string{"user", "passwd"}, 2, ""},
	} {
		_, errOut, st := otlink(t, append(c.args, "--data", data)...)
		if st != c.st || !strings.Contains(errOut, c.code) {
			t.Errorf("%v: status %d %q, want %d with %s", c.args, st, errOut, c.st, c.code)
		}
	}

	// The one-time passwords lead to the password step, not in (the
	// administrator enrols a second factor first).
	svc, err := auth.Open(context.Background(), filepath.Join(data, app.AuthDB), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := auth.WithClientIP(context.Background(), "127.0.0.1")
	for _, c := range []struct {
		name, pw string
		want     auth.Stage
	}{{"nia", "a long enough passphrase 42", auth.StagePassword}, {"root", "another one-time passphrase 43", auth.StageEnrol}} {
		r, err := svc.Login(ctx, "", c.name, c.pw)
		if err != nil || r.Session.Stage != c.want {
			t.Errorf("%s: %v, want stage %s", c.name, err, c.want)
		} else if u, _ := svc.User(ctx, c.name); !u.TemporaryPassword {
			t.Errorf("%s: password not temporary", c.name)
		}
	}
}

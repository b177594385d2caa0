package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver/opcua" // also registers the "opcua" driver in the binary
	"github.com/otlink/otlink/internal/errcode"
)

func init() { moreCommands = append(moreCommands, opcuaCmd) }

func opcuaCmd() *cobra.Command {
	c := &cobra.Command{Use: "opcua", Short: "OPC UA tools: browse a server into a config"}
	c.AddCommand(opcuaBrowseCmd())
	return c
}

type browseFlags struct {
	endpoint, out, device, machine, data, root  string
	policy, mode, auth, user, passEnv, passFile string
	depth, max                                  int
	timeout                                     time.Duration
}

func opcuaBrowseCmd() *cobra.Command {
	var f browseFlags
	c := &cobra.Command{
		Use:   "browse --endpoint URL [--out FILE]",
		Short: "browse a server's Objects folder and write a config with its variables as tags",
		Long: `Connects like a device would (same security options and trust list: an
unknown server certificate is refused until otlink certs trust), walks the
hierarchical references below the Objects folder (or --root) to --depth
levels and at most --max variables, and writes a config with one opcua
device and one machine whose tags are the variables, typed from their
DataType. Variables without a tag type (arrays, structures) are listed as
comments. Paste the device and machine into your config, or run it as is.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.endpoint == "" {
				return usageErr(errcode.New(errcode.CLIUsage, "--endpoint URL is required"))
			}
			out, n, err := browseConfig(c, f)
			if err != nil {
				return err
			}
			if f.out == "" {
				_, err = c.OutOrStdout().Write(out)
				return err
			}
			if err := os.WriteFile(f.out, out, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote %d tags to %s\n", n, f.out)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "server endpoint, opc.tcp://host:port/path")
	fl.StringVar(&f.out, "out", "", "config file to write (default: standard output)")
	fl.StringVar(&f.device, "device", "opcua1", "device name in the config")
	fl.StringVar(&f.machine, "machine", "machine1", "machine name in the config")
	fl.StringVar(&f.data, "data", "", "data folder whose pki/ holds the trust list (default: otlink run's)")
	fl.StringVar(&f.root, "root", "", "node id to start from (default: the Objects folder)")
	fl.StringVar(&f.policy, "security-policy", "Basic256Sha256", "None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss")
	fl.StringVar(&f.mode, "security-mode", "", "None, Sign or SignAndEncrypt (default: SignAndEncrypt, None with policy None)")
	fl.StringVar(&f.auth, "auth", "anonymous", "anonymous, username or certificate")
	fl.StringVar(&f.user, "username", "", "user name for --auth username")
	fl.StringVar(&f.passEnv, "password-env", "", "environment variable holding the password")
	fl.StringVar(&f.passFile, "password-file", "", "file holding the password")
	fl.IntVar(&f.depth, "depth", 6, "levels to browse below the root")
	fl.IntVar(&f.max, "max", 5000, "variables to collect at most")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "time allowed for the whole browse")
	return c
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// tagName turns a browse path into a tag name: lower case, "_" between
// words, unique within the machine.
func tagName(path []string, used map[string]bool) string {
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(strings.Join(path, "_")), "_"), "_")
	if base == "" {
		base = "tag"
	}
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	used[name] = true
	return name
}

func browseConfig(c *cobra.Command, f browseFlags) ([]byte, int, error) {
	opts := map[string]string{"security_policy": f.policy}
	set := func(k, v string) {
		if v != "" {
			opts[k] = v
		}
	}
	set("security_mode", f.mode)
	set("auth", f.auth)
	set("username", f.user)
	set("password_env", f.passEnv)
	set("password_file", f.passFile)
	data := f.data
	if data == "" {
		data = defaultDataDir("run")
	}
	opts["data_dir"] = data
	parent := c.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, f.timeout)
	defer cancel()
	vars, err := opcua.Browse(ctx, f.endpoint, opts, opcua.BrowseOptions{Root: f.root, MaxDepth: f.depth, MaxNodes: f.max})
	if err != nil {
		return nil, 0, err
	}
	m := config.Machine{Name: f.machine, Device: f.device, Description: "browsed from " + f.endpoint}
	used := map[string]bool{}
	var skipped []string
	for _, v := range vars {
		if !v.TypeOK {
			skipped = append(skipped, fmt.Sprintf("%s (%s, %s)", v.NodeID, strings.Join(v.Path, "/"), v.DataType))
			continue
		}
		t := config.Tag{Name: tagName(v.Path, used), Address: v.NodeID, Type: v.Type.String(), Description: strings.Join(v.Path, "/")}
		if v.Writable {
			t.Description += " (writable on the server: set writable and limits to allow writes)"
		}
		m.Tags = append(m.Tags, t)
	}
	// The device options written are the ones used, less the data folder,
	// which otlink run sets itself.
	delete(opts, "data_dir")
	// Only the parts browse knows: bus, http and data keep their defaults.
	cfg := struct {
		Version int             `yaml:"version"`
		Plant   config.Plant    `yaml:"plant"`
		Devices []config.Device `yaml:"devices"`
	}{
		Version: 1,
		Plant: config.Plant{Enterprise: "enterprise", Sites: []config.Site{{Name: "site", Areas: []config.Area{{Name: "area",
			Lines: []config.Line{{Name: "line", Machines: []config.Machine{m}}}}}}}},
		Devices: []config.Device{{Name: f.device, Driver: "opcua", Endpoint: f.endpoint, Options: opts,
			Poll: []config.PollClass{{Name: "default", Interval: config.Duration(time.Second)}}}},
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# written by otlink opcua browse --endpoint %s on %s\n", f.endpoint, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# %d variables, %d as tags; the plant names are placeholders.\n", len(vars), len(m.Tags))
	for _, s := range skipped {
		fmt.Fprintf(&b, "# not a tag type: %s\n", s)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, 0, err
	}
	enc.Close()
	return b.Bytes(), len(m.Tags), nil
}

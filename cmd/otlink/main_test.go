package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/sim"
)

// bin is the otlink binary built once for the tests that need a real
// process (exit codes, signals).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otlink-cmd-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "otlink")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build otlink: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func otlink(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("otlink %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

func TestVersion(t *testing.T) {
	out, _, st := otlink(t, "version")
	if st != 0 || !strings.HasPrefix(out, "otlink ") || !strings.Contains(out, "go1.") {
		t.Fatalf("status %d, output %q", st, out)
	}
}

func TestErrorsCommand(t *testing.T) {
	out, _, st := otlink(t, "errors", "OTL-9003")
	if st != 0 || !strings.Contains(out, "cli.file_not_found") || !strings.Contains(out, "Fix:") {
		t.Fatalf("status %d, output %q", st, out)
	}
	out, _, st = otlink(t, "errors")
	if st != 0 || strings.Count(out, "\n") < 50 {
		t.Fatalf("list: status %d, %d lines", st, strings.Count(out, "\n"))
	}
	_, errOut, st := otlink(t, "errors", "OTL-0999")
	if st != 2 || !strings.Contains(errOut, "OTL-9001") {
		t.Fatalf("bad code: status %d, %q", st, errOut)
	}
	_, errOut, st = otlink(t, "errors", "OTL-9998")
	if st != 1 || !strings.Contains(errOut, "OTL-9002") {
		t.Fatalf("unknown code: status %d, %q", st, errOut)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"no-such-command"}, {"demo", "--no-such-flag"}, {"run"}, {"demo", "--plain-http", "--listen", "0.0.0.0:8080"}, {"config", "validate", "/no/such/file.yaml"}, {"--memory-limit", "12x", "version"}} {
		_, errOut, st := otlink(t, args...)
		if st != 2 {
			t.Errorf("otlink %v: status %d, want 2 (%s)", args, st, errOut)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	out, errOut, st := otlink(t, "config", "validate", "../../examples/plant.yaml")
	if st != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("examples/plant.yaml: status %d: %s %s", st, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nplant:\n  enterprise: acme\n  sitez: []\ndevices:\n  - name: plc1\n    driver: nosuch\n    endpoint: tcp://127.0.0.1:502\n"), 0o644)
	_, errOut, st = otlink(t, "config", "validate", bad)
	if st != 2 {
		t.Fatalf("status %d, want 2", st)
	}
	// Every problem at once, each with file:line:col and a code.
	for _, want := range []string{"bad.yaml:4:3: OTL-", "bad.yaml:7:13: OTL-"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
}

func TestConfigImportCSV(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "tags.csv")
	os.WriteFile(csv, []byte("name,address,type,scan_ms,description\nspeed,40001,float32,500,spindle speed\nbroken,49x,float32,500,bad address\ncount,40010,uint32,1000,parts\n"), 0o644)
	out, errOut, st := otlink(t, "config", "import-csv", csv, "--device", "plc1", "--endpoint", "tcp://127.0.0.1:5020", "--machine", "cnc01")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	if !strings.Contains(errOut, "tags.csv:3") || !strings.Contains(errOut, "OTL-10") {
		t.Errorf("the broken row is not reported with its line and code: %q", errOut)
	}
	cfgFile := filepath.Join(t.TempDir(), "imported.yaml")
	os.WriteFile(cfgFile, []byte(out), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatalf("imported config does not load: %v\n%s", err, out)
	}
	if n := countTags(cfg); n != 2 {
		t.Fatalf("imported %d tags, want 2:\n%s", n, out)
	}
}

// TestDemo is the acceptance of the demo: live values of at least 8
// machines within 30 s over HTTP, and a plain MQTT client subscribed to
// the embedded listener receives them.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--for", "60s")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	start := time.Now()
	httpAddr, mqttAddr := readDemoBanner(t, stdout)
	go io.Copy(io.Discard, stdout)
	// HTTPS from the local CA, and a token made by the CLI on the data
	// folder the demo holds.
	data := cmd.Args[3]
	useAPI(t, data, "tags.read,security.read")
	if resp, err := apiClient.Get("https://" + httpAddr + "/api/v1/tags"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("tags without a token: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	// MQTT: subscribe to the unified namespace.
	var mu sync.Mutex
	topics := map[string]bool{}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("otlink-demo-test").SetConnectTimeout(5 * time.Second)
	cl := mqtt.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	cl.Subscribe("acme/#", 0, func(_ mqtt.Client, m mqtt.Message) {
		var p struct {
			V any    `json:"v"`
			Q string `json:"q"`
		}
		if json.Unmarshal(m.Payload(), &p) == nil && p.Q != "" {
			mu.Lock()
			topics[m.Topic()] = true
			mu.Unlock()
		}
	}).WaitTimeout(5 * time.Second)

	machines := map[string]bool{}
	for time.Since(start) < 30*time.Second && len(machines) < 8 {
		time.Sleep(500 * time.Millisecond)
		var body struct {
			Tags []struct {
				Path    string `json:"path"`
				Quality string `json:"quality"`
				Value   any    `json:"value"`
			} `json:"tags"`
		}
		if err := getJSON("https://"+httpAddr+"/api/v1/tags", &body); err != nil {
			continue
		}
		for _, tg := range body.Tags {
			if tg.Quality == "Good" && tg.Value != nil {
				parts := strings.Split(tg.Path, "/")
				machines[strings.Join(parts[:len(parts)-1], "/")] = true
			}
		}
	}
	if len(machines) < 8 {
		t.Fatalf("live values of %d machines after 30 s, want >= 8: %v\n%s", len(machines), machines, stderr.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(topics)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(topics) < 20 {
		t.Fatalf("MQTT client received %d topics, want >= 20", len(topics))
	}
	var devices struct {
		Devices []struct {
			Name      string `json:"name"`
			Connected bool   `json:"connected"`
		} `json:"devices"`
	}
	if err := getJSON("https://"+httpAddr+"/api/v1/devices", &devices); err != nil || len(devices.Devices) != 8 {
		t.Fatalf("devices: %v %+v", err, devices)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := apiGet("https://" + httpAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	resp, err := apiGet("https://" + httpAddr + "/api/v1/nosuch")
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 404 || e.Code != "OTL-6001" {
		t.Fatalf("unknown route: %d %q", resp.StatusCode, e.Code)
	}
}

var (
	reHTTP = regexp.MustCompile(`live values\s+https://(\S+)/api/v1/tags`)
	reMQTT = regexp.MustCompile(`mqtt://(\S+)`)
)

func readDemoBanner(t *testing.T, r io.Reader) (httpAddr, mqttAddr string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := reHTTP.FindStringSubmatch(line); m != nil {
			httpAddr = m[1]
		}
		if m := reMQTT.FindStringSubmatch(line); m != nil {
			mqttAddr = m[1]
		}
		if httpAddr != "" && mqttAddr != "" {
			return
		}
	}
	t.Fatalf("demo printed no addresses (http %q, mqtt %q)", httpAddr, mqttAddr)
	return
}

// apiClient trusts the demo's CA; apiToken authenticates; useAPI sets both.
var (
	apiClient *http.Client
	apiToken  string
)

// useAPI trusts DATA/tls/ca.pem and creates a token of the demo's admin
// with the CLI while the demo runs (the admin needs no second factor for
// this: tokens are made on the data folder by whoever may write it).
func useAPI(t *testing.T, data, perms string) {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(data, "tls", "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no CA in the data folder: %v", err)
	}
	apiClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	out, errOut, st := otlink(t, "token", "create", "--data", data, "--user", "admin", "--name", "e2e", "--perm", perms, "--expires", "1d")
	if st != 0 || !strings.HasPrefix(out, "otl_") {
		t.Fatalf("token create: %d %s %s", st, out, errOut)
	}
	apiToken = strings.TrimSpace(out)
}

func apiGet(url string) (*http.Response, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	return apiClient.Do(req)
}

func getJSON(url string, v any) error {
	resp, err := apiGet(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestRunReloadAndStop drives the production entry point with signals: a
// bad config on SIGHUP is refused and the running one kept; a good one is
// applied; SIGTERM stops gracefully with status 0.
func TestRunReloadAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plant, err := sim.Start(ctx, sim.PlantConfig{Lines: 1, Machines: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer plant.Close()
	devs := plant.Devices()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "plant.yaml")
	write := func(extra string) {
		y := fmt.Sprintf(`version: 1
data: %s
bus: {listen: "127.0.0.1:0", mqtt: "off"}
http: {listen: "127.0.0.1:0"}
plant:
  enterprise: acme
  sites:
    - name: s1
      areas:
        - name: a1
          lines:
            - name: l1
              machines:
                - name: m1
                  device: d1
                  tags:
                    - {name: speed, address: "hr:100", type: float32}
%s
devices:
  - name: d1
    driver: modbus
    endpoint: tcp://%s
    poll: [{name: fast, interval: 200ms}]
  - name: d2
    driver: modbus
    endpoint: tcp://%s
    poll: [{name: fast, interval: 200ms}]
`, filepath.Join(dir, "data"), extra, devs[0].Addr(), devs[1].Addr())
		if err := os.WriteFile(cfgPath, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfgPath)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, logs, "otlink running", 20*time.Second)
	// No administrator yet: a one-time setup link over HTTPS.
	waitFor(t, logs, "https://127.0.0.1:", 5*time.Second)
	waitFor(t, logs, "/setup?token=otlsetup_", 5*time.Second)

	os.WriteFile(cfgPath, []byte("version: 1\nplant: {enterprise: acme}\ndevices: [{name: d1, driver: nosuch}]\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "reload refused", 10*time.Second)

	write(`                - name: m2
                  device: d2
                  tags:
                    - {name: speed, address: "hr:100", type: float32}`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "config reloaded", 10*time.Second)

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not stop on SIGTERM:\n%s", logs.String())
	}
	if d2 := plant.Device(devs[1].Name()).Stats(); d2.Requests == 0 {
		t.Errorf("the device added by reload was never polled")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, b *syncBuffer, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(b.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q within %s in:\n%s", want, d, b.String())
}

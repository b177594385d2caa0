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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/app"
	"github.com/otlink/otlink/internal/auth"
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
	for _, args := range [][]string{{"no-such-command"}, {"demo", "--no-such-flag"}, {"run"}, {"demo", "--plain-http", "--listen", "0.0.0.0:8080"}, {"config", "validate", "/no/such/file.yaml"}, {"--memory-limit", "12x", "version"},
		{"bench", "dpi", "--keep", "/no/such/folder"}, {"bench", "dpi", "--packets", "10"}} {
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
	cmd := exec.CommandContext(ctx, bin, "demo", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
		"--opcua", "127.0.0.1:0", "--mtconnect", "127.0.0.1:0", "--for", "85s", "--learn", "5s")
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
	banner := readBanner(t, stdout)
	httpAddr, mqttAddr := banner["http"], banner["mqtt"]
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
	// 8 Modbus machines, an MTConnect CNC per line (when the mtconnect
	// driver streams into the engine), an OPC UA press.
	wantDevices := 9
	if mtconnectPushes() {
		wantDevices = 11
	}
	if err := getJSON("https://"+httpAddr+"/api/v1/devices", &devices); err != nil || len(devices.Devices) != wantDevices {
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
	demoProtocols(t, banner)
	demoSecurity(t, httpAddr, banner)
}

// demoSecurity checks the war room of the demo: with capture allowed
// (root or CAP_NET_RAW), every PLC is an asset of its own, otlink their
// client, and the simulated intruder after the 5 s of learning raises the
// identity scan, the restart request and the baseline alerts.
func demoSecurity(t *testing.T, httpAddr string, banner map[string]string) {
	t.Helper()
	if !strings.Contains(banner["security"], "watches") {
		t.Logf("no war room in this demo: %s", banner["security"])
		return
	}
	want := []string{"identity_scan", "device_restart", "new_asset", "new_writer"}
	var got map[string][]string
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		var body struct {
			Alerts []struct {
				Detection string
				Assets    []string
			}
		}
		if err := getJSON("https://"+httpAddr+"/api/v1/security/alerts", &body); err != nil {
			t.Fatal(err)
		}
		got = map[string][]string{}
		for _, a := range body.Alerts {
			got[a.Detection] = append(got[a.Detection], a.Assets...)
			if a.Detection == "identity_scan" && a.Assets[0] == "127.0.0.1" {
				t.Fatalf("otlink's own identity reads raised an identity scan: the demo's suppression failed")
			}
		}
		done := true
		for _, d := range want {
			done = done && slices.Contains(got[d], "127.0.66.6")
		}
		if done {
			break
		}
	}
	for _, d := range want {
		if !slices.Contains(got[d], "127.0.66.6") {
			t.Errorf("no %s alert naming the intruder 127.0.66.6: %v", d, got)
		}
	}
	// otlink's own identity reads were suppressed, and counted.
	resp, err := apiGet("https://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := regexp.MustCompile(`(?m)^otlink_monitor_detect_suppressed_total ([0-9.e+]+)$`).FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
		t.Errorf("suppressed alerts in /metrics: %q", m)
	}
	var assets struct {
		Assets []struct{ IP, Role, Zone string }
	}
	if err := getJSON("https://"+httpAddr+"/api/v1/security/assets", &assets); err != nil {
		t.Fatal(err)
	}
	plcs := 0
	for _, a := range assets.Assets {
		if strings.HasPrefix(a.IP, "127.0.10.") && a.Role == "controller" && a.Zone == "plant floor" {
			plcs++
		}
	}
	if plcs != 8 {
		t.Errorf("%d PLCs in the plant floor zone, want 8: %+v", plcs, assets.Assets)
	}
}

// demoProtocols checks the demo's OPC UA and MTConnect parts: values of
// the simulated OPC UA press (Basic256Sha256 SignAndEncrypt, certificates
// trusted both ways by the demo) and of the simulated MTConnect CNCs
// reach the engine and change; otlink's MTConnect agent serves the Modbus
// machines' data items; otlink's OPC UA server offers secure endpoints.
func demoProtocols(t *testing.T, banner map[string]string) {
	t.Helper()
	keys := []string{"opcua", "mtconnect", "press-ua01"}
	if mtconnectPushes() {
		keys = append(keys, "mtc01")
	}
	for _, k := range keys {
		if banner[k] == "" {
			t.Fatalf("the banner names no %s endpoint: %v", k, banner)
		}
	}
	want := []string{"/line1/press-ua01/"}
	if mtconnectPushes() {
		want = append(want, "/line1/mtc01/", "/line2/mtc02/")
	} else {
		// The engine polls a driver that is not a driver.Pusher, and the
		// mtconnect driver refuses reads, so the demo leaves its CNCs out
		// until internal/driver/mtconnect implements Pushes.
		t.Log("skipping the MTConnect CNCs: the mtconnect driver does not implement driver.Pusher")
	}
	values := map[string]map[string]bool{} // path -> distinct Good values
	live := func(machine string) bool {
		for p, vs := range values {
			if strings.Contains(p, machine) && len(vs) >= 2 {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Tags []struct {
				Path    string `json:"path"`
				Quality string `json:"quality"`
				Value   any    `json:"value"`
			} `json:"tags"`
		}
		if err := getJSON("https://"+banner["http"]+"/api/v1/tags", &body); err == nil {
			for _, tg := range body.Tags {
				if tg.Quality != "Good" || tg.Value == nil {
					continue
				}
				if values[tg.Path] == nil {
					values[tg.Path] = map[string]bool{}
				}
				values[tg.Path][fmt.Sprint(tg.Value)] = true
			}
		}
		done := true
		for _, m := range want {
			done = done && live(m)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for _, m := range want {
				if !live(m) {
					t.Errorf("no changing Good value of %s after 30 s", m)
				}
			}
			t.FailNow()
		}
		time.Sleep(500 * time.Millisecond)
	}

	// otlink's MTConnect agent: the Modbus machine cnc01 with a numeric
	// spindle speed, and the other machines as devices too.
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + banner["mtconnect"] + "/current")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc := string(b)
	m := regexp.MustCompile(`dataItemId="cnc01\.spindle_speed"[^>]*>([^<]+)<`).FindStringSubmatch(doc)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("mtconnect /current: %s, no cnc01.spindle_speed in %.500s", resp.Status, doc)
	}
	if _, err := strconv.ParseFloat(m[1], 64); err != nil {
		t.Errorf("cnc01 spindle speed %q is not a number", m[1])
	}
	for _, dev := range []string{"cnc01", "press02", "press-ua01"} {
		if !strings.Contains(doc, `<DeviceStream name="`+dev+`"`) {
			t.Errorf("mtconnect /current has no device %s", dev)
		}
	}

	// otlink's OPC UA server: secure endpoints only.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps, err := opcua.GetEndpoints(ctx, "opc.tcp://"+banner["opcua"])
	if err != nil {
		t.Fatalf("opcua server: %v", err)
	}
	secure := 0
	for _, ep := range eps {
		if ep.SecurityPolicyURI == ua.SecurityPolicyURINone {
			t.Errorf("the demo's OPC UA server offers policy None")
		}
		if ep.SecurityPolicyURI == ua.SecurityPolicyURIBasic256Sha256 && ep.SecurityMode == ua.MessageSecurityModeSignAndEncrypt {
			secure++
		}
	}
	if secure == 0 {
		t.Errorf("the demo's OPC UA server offers no Basic256Sha256 SignAndEncrypt endpoint: %d endpoints", len(eps))
	}
}

var (
	reHTTP = regexp.MustCompile(`live values\s+https://(\S+)/api/v1/tags`)
	reMQTT = regexp.MustCompile(`mqtt://(\S+)`)
)

var reBanner = map[string]*regexp.Regexp{
	"http":       reHTTP,
	"mqtt":       reMQTT,
	"opcua":      regexp.MustCompile(`^OPC UA server\s+opc\.tcp://(\S+)`),
	"mtconnect":  regexp.MustCompile(`^MTConnect\s+http://(\S+)/current`),
	"press-ua01": regexp.MustCompile(`press-ua01\s+opcua\s+(opc\.tcp://\S+)`),
	"mtc01":      regexp.MustCompile(`mtc01\s+mtconnect\s+(http://\S+)`),
	"security":   regexp.MustCompile(`^security\s+\S+\s+(.*)`),
}

// readBanner reads the demo's banner to its last line and returns the
// addresses it names, by the keys of reBanner.
func readBanner(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	got := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		for k, re := range reBanner {
			if m := re.FindStringSubmatch(line); m != nil && got[k] == "" {
				got[k] = m[1]
			}
		}
		if strings.HasPrefix(line, "stopping by itself") || strings.HasPrefix(line, "Ctrl-C") {
			break
		}
	}
	if got["http"] == "" || got["mqtt"] == "" {
		t.Fatalf("demo printed no addresses: %v", got)
	}
	return got
}

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
	// Both reloads, the refused and the applied one, are in the audit
	// trail with the file's hash.
	svc, err := auth.Open(ctx, filepath.Join(dir, "data", app.AuthDB), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	evs, _, err := svc.SearchAudit(ctx, auth.AuditFilter{Action: "config.reload"}, auth.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Outcome != auth.OutcomeOK || evs[1].Outcome != auth.OutcomeFailed ||
		!strings.Contains(evs[0].Detail, "sha256=") || !strings.Contains(evs[1].Detail, "OTL-") {
		t.Errorf("config.reload audit events: %+v", evs)
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

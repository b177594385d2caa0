package uaserver_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/modbus"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/uaserver"
	"github.com/otlink/otlink/internal/uatrust"
)

// The interoperability test runs node-opcua's client (an independent
// implementation) against the server, which serves a real engine polling
// the Modbus simulator. node-opcua is installed with npm into the user's
// cache folder, outside the repository, when missing.

const machine = "acme/taichung/machining/line1/cnc01"

type nopSink struct{}

func (nopSink) PublishBatch(context.Context, *model.Batch) error { return nil }

type users struct{}

func (users) Login(_ context.Context, name, pw, _ string) (*uaserver.User, error) {
	if name != "op" || pw != "s3cret-Passw0rd" {
		return nil, os.ErrPermission
	}
	all := func(string) bool { return true }
	return &uaserver.User{Name: "op", Read: all, Write: all, History: all}, nil
}

type hist struct{}

func (hist) ReadRaw(_ context.Context, tag string, from, to time.Time, limit int, cursor string) ([]uaserver.HistoryPoint, string, error) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var out []uaserver.HistoryPoint
	for i := range 5 {
		t := base.Add(time.Duration(i) * time.Second)
		if !t.Before(from) && t.Before(to) && len(out) < limit {
			out = append(out, uaserver.HistoryPoint{Time: t, Value: model.UintValue(model.Uint16, uint64(100+i)), Quality: model.Good})
		}
	}
	return out, "", nil
}

type pki struct{ s *uatrust.Store }

func (p pki) Own() ([]byte, *rsaKey, error) {
	o, err := p.s.Own()
	if err != nil {
		return nil, nil, err
	}
	return o.DER, o.Key, nil
}

func (p pki) Check(c *x509Cert) error { return p.s.Check(c) }

type audits struct {
	mu sync.Mutex
	ev []uaserver.AuditEvent
}

func (a *audits) add(_ context.Context, e uaserver.AuditEvent) {
	a.mu.Lock()
	a.ev = append(a.ev, e)
	a.mu.Unlock()
}

func (a *audits) find(action, outcome string) *uaserver.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.ev {
		if a.ev[i].Action == action && a.ev[i].Outcome == outcome {
			e := a.ev[i]
			return &e
		}
	}
	return nil
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func plant(dev string) *config.Config {
	tags := []config.Tag{
		{Name: "heartbeat", Address: "hr:7", Type: "uint16", Unit: "s", Description: "simulated seconds"},
		{Name: "feed_override", Address: "hr:6", Type: "uint16", Unit: "%", Range: &config.Range{Min: 0, Max: 200}, Writable: true,
			Limits: &config.Limits{Min: 0, Max: 200}},
		{Name: "state", Address: "hr:0", Type: "uint16"},
	}
	c := &config.Config{Version: 1, Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "taichung", Areas: []config.Area{{Name: "machining",
		Lines: []config.Line{{Name: "line1", Machines: []config.Machine{{Name: "cnc01", Device: "cnc01", Tags: tags}}}}}}}}},
		Devices: []config.Device{{Name: "cnc01", Driver: "modbus", Endpoint: "tcp://" + dev, Unit: 1, Timeout: config.Duration(time.Second),
			Budget: config.Budget{MaxInFlight: 1}, Poll: []config.PollClass{{Name: "fast", Interval: config.Duration(100 * time.Millisecond)}}}}}
	config.Defaults(c)
	return c
}

type rig struct {
	srv   *uaserver.Server
	eng   *acquire.Engine
	dev   *sim.Device
	trust *uatrust.Store
	aud   *audits
	url   string
}

func startRig(t *testing.T, oc config.OPCUAServer, more ...func(*uaserver.Options)) *rig {
	t.Helper()
	d := sim.NewDevice(sim.DeviceConfig{Name: "cnc01"})
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := plant(d.Addr())
	eng, err := acquire.New(cfg, acquire.Options{Sink: nopSink{}, BackoffBase: 10 * time.Millisecond, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	store, err := uatrust.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oc.Enabled = true
	oc.Listen = freePort(t)
	aud := &audits{}
	opts := uaserver.Options{Config: oc, Plant: cfg.Plant, Source: eng, Writer: eng, History: hist{}, Users: users{},
		PKI: pki{store}, Audit: aud.add}
	for _, f := range more {
		f(&opts)
	}
	srv, err := uaserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		d.Close()
	})
	return &rig{srv: srv, eng: eng, dev: d, trust: store, aud: aud, url: srv.EndpointURL()}
}

// nodeClient returns a function that runs one job with node-opcua.
func nodeClient(t *testing.T) func(jobs []map[string]any) []map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the node-opcua interoperability test")
	}
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "node-opcua-client")
	cache := os.Getenv("OTLINK_NODE_CACHE")
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			t.Skip("no cache folder for node-opcua")
		}
		cache = filepath.Join(uc, "otlink", "node-opcua-client")
	}
	if _, err := os.Stat(filepath.Join(cache, "node_modules", "node-opcua-client")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm is not installed: skipping the node-opcua interoperability test")
		}
		os.MkdirAll(cache, 0o755)
		pj, _ := os.ReadFile(filepath.Join(scripts, "package.json"))
		os.WriteFile(filepath.Join(cache, "package.json"), pj, 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", cache).CombinedOutput()
		if err != nil {
			t.Skipf("npm install node-opcua-client failed (registry unreachable?): %v\n%s", err, out)
		}
	}
	pkiDir := t.TempDir()
	return func(jobs []map[string]any) []map[string]any {
		t.Helper()
		for _, job := range jobs {
			job["pki"] = pkiDir
		}
		b, _ := json.Marshal(jobs)
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, filepath.Join(scripts, "client.js"), string(b))
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(cache, "node_modules"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		t.Logf("node-opcua run took %s", time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("node-opcua client: %v\n%s", err, stderr.String())
		}
		var res []map[string]any
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("node-opcua client output %q: %v\n%s", out, err, stderr.String())
		}
		return res
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func value(e *acquire.Engine, path string) (acquire.TagValue, bool) {
	for _, tv := range e.Snapshot() {
		if tv.Path == path {
			return tv, true
		}
	}
	return acquire.TagValue{}, false
}

func nodeID(path string) string { return "ns=1;s=" + path }

// clientCert writes a client application instance certificate and key
// as PEM files and returns their paths, the DER and the certificate's URI.
func clientCert(t *testing.T, dir, name string) (certFile, keyFile string, der []byte, uri string) {
	t.Helper()
	der, key, err := uaserver.SelfSigned(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return certFile, keyFile, der, c.URIs[0].String()
}

func TestNodeOPCUAInterop(t *testing.T) {
	run := nodeClient(t)
	r := startRig(t, config.OPCUAServer{SecurityPolicies: []string{"None", "Basic256Sha256"}, SecurityModes: []string{"SignAndEncrypt"}})
	dir := t.TempDir()
	goodCert, goodKey, goodDER, uri := clientCert(t, dir, "trusted")
	badCert, badKey, badDER, _ := clientCert(t, dir, "untrusted")
	if _, err := r.trust.Add(goodDER, uatrust.DirTrusted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first poll", func() bool { tv, ok := value(r.eng, machine+"/feed_override"); return ok && tv.Quality == model.Good })
	before, _ := value(r.eng, machine+"/feed_override")

	none := func(extra map[string]any) map[string]any {
		j := map[string]any{"endpoint": r.url, "policy": "None", "mode": "None", "cert": goodCert, "key": goodKey, "uri": uri}
		for k, v := range extra {
			j[k] = v
		}
		return j
	}
	secure := func(extra map[string]any) map[string]any {
		j := map[string]any{"endpoint": r.url, "policy": "Basic256Sha256", "mode": "SignAndEncrypt", "cert": goodCert, "key": goodKey, "uri": uri,
			"user": "op", "password": "s3cret-Passw0rd"}
		for k, v := range extra {
			j[k] = v
		}
		return j
	}
	res := run([]map[string]any{
		// 0: anonymous is off by default.
		none(nil),
		// 1: None with a user (the password travels encrypted with the server's key).
		none(map[string]any{"user": "op", "password": "s3cret-Passw0rd", "read": []string{nodeID(machine + "/state")}}),
		// 2: a wrong password.
		none(map[string]any{"user": "op", "password": "wrong"}),
		// 3: an untrusted client certificate.
		secure(map[string]any{"cert": badCert, "key": badKey}),
		// 4: everything, Basic256Sha256 SignAndEncrypt.
		secure(map[string]any{
			"browse":    "ns=0;i=85",
			"read":      []string{nodeID(machine + "/feed_override"), nodeID(machine + "/feed_override#EURange")},
			"subscribe": nodeID(machine + "/heartbeat"),
			"writes": []map[string]any{
				{"node": nodeID(machine + "/feed_override"), "type": "UInt16", "value": 150},
				{"node": nodeID(machine + "/heartbeat"), "type": "UInt16", "value": 1},
				{"node": nodeID(machine + "/feed_override"), "type": "UInt16", "value": 500},
				{"node": nodeID(machine), "type": "UInt16", "value": 1},
			},
			"history": map[string]any{"node": nodeID(machine + "/feed_override"), "start": "2026-01-02T03:04:05Z", "end": "2026-01-02T03:04:08Z"},
			"filters": []map[string]any{
				{"node": nodeID(machine + "/heartbeat"), "deadband": "Absolute", "value": 2},
				{"node": nodeID(machine + "/feed_override"), "deadband": "Percent", "value": 5},
				{"node": nodeID(machine + "/state"), "deadband": "Percent", "value": 5}, // no EURange
			},
			"translate": "/1:acme/1:taichung/1:machining/1:line1/1:cnc01/1:feed_override",
		}),
	})
	if len(res) != 5 {
		t.Fatalf("node-opcua results: %v", res)
	}
	if res[0]["session"] == true {
		t.Errorf("anonymous session accepted: %v", res[0])
	}
	if res[1]["ok"] != true {
		t.Errorf("None session with a user: %v", res[1])
	}
	if res[2]["session"] == true {
		t.Errorf("wrong password accepted: %v", res[2])
	}
	if res[3]["session"] == true {
		t.Errorf("untrusted client certificate accepted: %v", res[3])
	}
	if _, err := os.Stat(filepath.Join(r.trust.Dir(), uatrust.DirRejected, uatrust.Thumbprint(badDER)+".der")); err != nil {
		t.Errorf("untrusted client certificate not kept in rejected/: %v", err)
	}
	if r.aud.find("opcua.session", "denied") == nil {
		t.Errorf("certificate refusal not audited")
	}
	if r.aud.find("opcua.session", "ok") == nil {
		t.Errorf("session not audited")
	}
	full := res[4]
	if full["ok"] != true {
		t.Fatalf("Basic256Sha256 SignAndEncrypt session: %v", full)
	}
	objs, _ := full["objects"].([]any)
	found := false
	for _, o := range objs {
		found = found || o == nodeID(machine)
	}
	if !found {
		t.Errorf("browse from Objects did not reach the machine %s: %v", machine, objs)
	}
	reads, _ := full["reads"].([]any)
	if len(reads) != 2 {
		t.Fatalf("reads: %v", full["reads"])
	}
	rd := reads[0].(map[string]any)
	if rd["status"] != "Good" || rd["value"] != float64(before.Value.Uint()) {
		t.Errorf("read feed_override = %v (%v), engine has %v", rd["value"], rd["status"], before.Value)
	}
	if rd["dataType"] != "ns=0;i=5" || rd["access"] != float64(7) {
		t.Errorf("feed_override data type %v access %v, want UInt16 (i=5) and read|write|history (7)", rd["dataType"], rd["access"])
	}
	rng := reads[1].(map[string]any)
	if v, _ := rng["value"].(map[string]any); v == nil || v["high"] != float64(200) {
		t.Errorf("EURange = %v", rng["value"])
	}
	if ch, _ := full["changes"].([]any); len(ch) < 2 {
		t.Errorf("subscription saw %v, want at least two heartbeat values (%v)", full["changes"], full["subscribeError"])
	}
	writes, _ := full["writes"].([]any)
	want := []string{"Good", "BadNotWritable", "BadOutOfRange", "BadNotWritable"}
	for i, w := range writes {
		if st := w.(map[string]any)["status"]; i < len(want) && st != want[i] {
			t.Errorf("write %d: %v, want %s", i, st, want[i])
		}
	}
	if len(writes) != len(want) {
		t.Errorf("writes: %v", writes)
	}
	waitFor(t, "feed_override 150 in the engine", func() bool {
		tv, _ := value(r.eng, machine+"/feed_override")
		return tv.Value.Uint() == 150
	})
	if r.dev.Values().FeedOverride != 150 {
		t.Errorf("device feed override %d, want 150", r.dev.Values().FeedOverride)
	}
	if e := r.aud.find("tag.write", "ok"); e == nil || e.Actor != "op" || e.Object != machine+"/feed_override" {
		t.Errorf("write not audited with the OPC UA user: %+v", e)
	}
	if e := r.aud.find("tag.write", "denied"); e == nil {
		t.Errorf("refused write not audited")
	}
	if f, _ := full["filters"].([]any); len(f) != 3 || f[0] != "Good" || f[1] != "Good" || f[2] != "BadMonitoredItemFilterUnsupported" {
		t.Errorf("deadband filters: %v, want [Good Good BadMonitoredItemFilterUnsupported]", full["filters"])
	}
	if tr, _ := full["translate"].(map[string]any); tr == nil || tr["status"] != "Good" || len(tr["targets"].([]any)) != 1 || tr["targets"].([]any)[0] != nodeID(machine+"/feed_override") {
		t.Errorf("translate browse path: %v", full["translate"])
	}
	h, _ := full["history"].(map[string]any)
	if vals, _ := h["values"].([]any); len(vals) != 4 || vals[0] != float64(100) {
		t.Errorf("history read = %v, want 100..103 (end inclusive)", h)
	}
}

type (
	rsaKey   = rsa.PrivateKey
	x509Cert = x509.Certificate
)

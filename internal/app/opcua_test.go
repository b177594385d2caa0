package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/config"
	_ "github.com/otlink/otlink/internal/driver/modbus"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
	"github.com/otlink/otlink/internal/uaserver"
	"github.com/otlink/otlink/internal/uatrust"
)

const uaMachine = "acme/taichung/machining/line1/cnc01"

// TestOPCUAService starts the whole app (bus, engine polling the Modbus
// simulator, embedded historian, auth) with the OPC UA server on, and
// drives it with gopcua's client over Basic256Sha256 SignAndEncrypt as an
// otlink user: a read matches the engine, HistoryRead raw returns what the
// historian stored, and every write leaves exactly one tag.write event
// with the OPC UA user (and the engine's one device.write record).
func TestOPCUAService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dev := sim.NewDevice(sim.DeviceConfig{Name: "cnc01"})
	if err := dev.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uaAddr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	y := fmt.Sprintf(`version: 1
data: %s
bus: {listen: "127.0.0.1:0", mqtt: "off"}
http: {listen: "127.0.0.1:0"}
opcua:
  enabled: true
  listen: %s
  security_policies: [Basic256Sha256]
  security_modes: [SignAndEncrypt]
plant:
  enterprise: acme
  sites:
    - name: taichung
      areas:
        - name: machining
          lines:
            - name: line1
              machines:
                - name: cnc01
                  device: cnc01
                  tags:
                    - {name: heartbeat, address: "hr:7", type: uint16, unit: s}
                    - {name: feed_override, address: "hr:6", type: uint16, unit: "%%", writable: true, limits: {min: 0, max: 200}, range: {min: 0, max: 200}}
devices:
  - name: cnc01
    driver: modbus
    endpoint: tcp://%s
    poll: [{name: fast, interval: 100ms}]
`, filepath.Join(dir, "data"), uaAddr, dev.Addr())
	cfg, err := config.Parse("opcua.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := Start(ctx, cfg, Options{Logger: quiet, Argon2: auth.Argon2Params{Memory: 256, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	var clients []*opcua.Client
	defer func() { // before the app stops, or each waits for its CloseSession
		for _, c := range clients {
			c.Close(context.Background())
		}
	}()
	const pw = "uA-Passw0rd-long9"
	if _, err := a.Auth().CreateUser(ctx, "op", pw, []string{auth.RoleOperator}, []string{auth.ScopeAll}); err != nil {
		t.Fatal(err)
	}
	// The client's application instance certificate, trusted as
	// `otlink certs trust` would.
	der, key, err := uaserver.SelfSigned(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	store, err := uatrust.Open(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Add(der, uatrust.DirTrusted); err != nil {
		t.Fatal(err)
	}

	url := "opc.tcp://" + uaAddr
	eps, err := opcua.GetEndpoints(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var ep *ua.EndpointDescription
	for _, e := range eps {
		if e.SecurityPolicyURI == ua.SecurityPolicyURIBasic256Sha256 && e.SecurityMode == ua.MessageSecurityModeSignAndEncrypt {
			ep = e
		}
		if e.SecurityPolicyURI == ua.SecurityPolicyURINone {
			t.Errorf("endpoint with policy None offered: %v", e.EndpointURL)
		}
	}
	if ep == nil {
		t.Fatalf("no Basic256Sha256 SignAndEncrypt endpoint among %d", len(eps))
	}
	ep.EndpointURL = url
	connect := func(user, password string) *opcua.Client {
		t.Helper()
		c, err := opcua.NewClient(url, opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeUserName), opcua.Certificate(der), opcua.PrivateKey(key),
			opcua.ApplicationURI(cert.URIs[0].String()), opcua.AuthUsername(user, password), opcua.RequestTimeout(10*time.Second), opcua.AutoReconnect(false))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		clients = append(clients, c)
		return c
	}
	// An operator's account needs a second factor, which OPC UA cannot
	// carry: with the password alone the session reads, but cannot write.
	c := connect("op", pw)

	feed, beat := uaMachine+"/feed_override", uaMachine+"/heartbeat"
	engineValue := func(path string) (model.Value, bool) {
		for _, tv := range a.Engine().Snapshot() {
			if tv.Path == path && tv.Quality == model.Good {
				return tv.Value, true
			}
		}
		return model.Value{}, false
	}
	poll(t, "first poll of feed_override", func() bool { _, ok := engineValue(feed); return ok })
	// The server samples the engine every 100 ms: wait for a Good value.
	var got *ua.DataValue
	poll(t, "a Good read of feed_override", func() bool {
		resp, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, feed), AttributeID: ua.AttributeIDValue}}})
		if err != nil || len(resp.Results) != 1 {
			t.Fatalf("read: %v", err)
		}
		got = resp.Results[0]
		return got.Status == ua.StatusOK
	})
	want, _ := engineValue(feed)
	if v, ok := got.Value.Value().(uint16); !ok || uint64(v) != want.Uint() {
		t.Errorf("read feed_override = %v (%T), engine has %v", got.Value.Value(), got.Value.Value(), want)
	}

	// History: what the historian stored, through its query engine, is what
	// HistoryRead returns.
	hq := queryHistory{a.hist.Query}
	from := time.Now().Add(-time.Minute)
	var stored []uaserver.HistoryPoint
	poll(t, "three heartbeat samples in the historian", func() bool {
		stored, _, err = hq.ReadRaw(ctx, beat, from, time.Now().Add(time.Minute), 1000, "")
		return err == nil && len(stored) >= 3
	})
	end := stored[len(stored)-1].Time
	stored, _, _ = hq.ReadRaw(ctx, beat, from, end.Add(time.Nanosecond), 1000, "")
	// gopcua encodes a nil DataEncoding as nothing at all, which no
	// server can decode: give an empty one.
	hr, err := c.HistoryReadRawModified(ctx, []*ua.HistoryReadValueID{{NodeID: ua.NewStringNodeID(1, beat), DataEncoding: &ua.QualifiedName{}}},
		&ua.ReadRawModifiedDetails{StartTime: from, EndTime: end, NumValuesPerNode: 1000})
	if err != nil || len(hr.Results) != 1 {
		t.Fatalf("history read: %v", err)
	}
	var hd *ua.HistoryData
	if hr.Results[0].HistoryData != nil {
		hd, _ = hr.Results[0].HistoryData.Value.(*ua.HistoryData)
	}
	if hr.Results[0].StatusCode != ua.StatusOK || hd == nil || len(hd.DataValues) != len(stored) {
		t.Fatalf("history read: %v, %+v; the historian has %d values", hr.Results[0].StatusCode, hd, len(stored))
	}
	for i, dv := range hd.DataValues {
		v, _ := dv.Value.Value().(uint16)
		if !dv.SourceTimestamp.Equal(stored[i].Time) || uint64(v) != stored[i].Value.Uint() {
			t.Errorf("history value %d: %v at %v; the historian has %v at %v", i, dv.Value.Value(), dv.SourceTimestamp, stored[i].Value, stored[i].Time)
		}
	}

	// Writes. With the password alone: refused before the engine.
	w := func(v uint16) *ua.WriteValue {
		return &ua.WriteValue{NodeID: ua.NewStringNodeID(1, feed), AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}}
	}
	wr, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{w(120)}})
	if err != nil || len(wr.Results) != 1 || wr.Results[0] != ua.StatusBadUserAccessDenied {
		t.Fatalf("write with a password-only session: %v %v, want BadUserAccessDenied", wr, err)
	}
	// With an API token scoped to the machine: one accepted, one outside
	// the limits (refused by the engine).
	secret, _, err := a.Auth().CreateToken(ctx, "op", "scada", []string{auth.PermTagsRead, auth.PermTagsWrite}, []string{uaMachine}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ct := connect("op", secret)
	// The token reads within its scope, and the folders above it are
	// browsable so that the machine can be found from Objects.
	br, err := ct.Browse(ctx, &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{NodeID: ua.NewNumericNodeID(0, id.ObjectsFolder),
		BrowseDirection: ua.BrowseDirectionForward, IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll)}}})
	if err != nil || len(br.Results) != 1 {
		t.Fatalf("browse Objects with a token: %v", err)
	}
	found := false
	for _, rd := range br.Results[0].References {
		found = found || rd.NodeID.NodeID.String() == "ns=1;s=acme"
	}
	if !found {
		t.Errorf("the enterprise folder is not browsable with a token scoped to %s", uaMachine)
	}
	wr, err = ct.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{w(150), w(500)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(wr.Results) != 2 || wr.Results[0] != ua.StatusOK || wr.Results[1] != ua.StatusBadOutOfRange {
		t.Fatalf("write results %v, want [Good BadOutOfRange]", wr.Results)
	}
	poll(t, "feed override 150 on the device", func() bool { return dev.Values().FeedOverride == 150 })
	events := func(action string) []auth.Event {
		ev, _, err := a.Auth().SearchAudit(ctx, auth.AuditFilter{Action: action}, auth.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	tw := events("tag.write")
	if len(tw) != 3 {
		t.Fatalf("%d tag.write events for three OPC UA writes, want one each: %+v", len(tw), tw)
	}
	outcomes := map[string]int{}
	for _, e := range tw {
		if e.Actor != "op" || e.Object != feed || e.IP != "127.0.0.1" {
			t.Errorf("tag.write event %+v: want actor op, object %s, ip 127.0.0.1", e, feed)
		}
		outcomes[e.Outcome]++
	}
	if outcomes[auth.OutcomeOK] != 1 || outcomes[auth.OutcomeFailed] != 1 || outcomes[auth.OutcomeDenied] != 1 {
		t.Errorf("tag.write outcomes %v, want one ok, one failed, one denied", outcomes)
	}
	// The engine's own record, only for the two writes that reached it.
	if dw := events("device.write"); len(dw) != 2 {
		t.Errorf("%d device.write events from the engine for two writes, want 2: %+v", len(dw), dw)
	}
	if tw2 := events("tags.write"); len(tw2) != 0 {
		t.Errorf("OPC UA writes audited twice (tags.write besides tag.write): %+v", tw2)
	}
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

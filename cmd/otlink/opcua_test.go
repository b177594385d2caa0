package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/driver/opcua/nodepeer"
	"github.com/otlink/otlink/internal/uatrust"
)

func TestCertsListTrustReject(t *testing.T) {
	data := t.TempDir()
	st, err := uatrust.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "plc-7"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	peer, _ := x509.ParseCertificate(der)
	if err := st.Check(peer); err == nil {
		t.Fatal("unknown certificate accepted")
	}
	tp := uatrust.Thumbprint(der)

	out, _, status := otlink(t, "certs", "list", "--data", data, "--json")
	var l struct {
		Own   uatrust.Entry   `json:"own"`
		Certs []uatrust.Entry `json:"certificates"`
	}
	if status != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Certs) != 1 || l.Certs[0].State != "rejected" || !strings.HasPrefix(l.Own.URI, "urn:otlink:") {
		t.Fatalf("list: %d %s", status, out)
	}
	if _, errOut, status := otlink(t, "certs", "trust", "deadbeef00", "--data", data); status == 0 || !strings.Contains(errOut, "OTL-2202") {
		t.Fatalf("trust of an unknown thumbprint: %d %s", status, errOut)
	}
	if out, errOut, status := otlink(t, "certs", "trust", strings.ToUpper(tp[:12]), "--data", data); status != 0 || !strings.Contains(out, tp) {
		t.Fatalf("trust: %d %s %s", status, out, errOut)
	}
	if err := st.Check(peer); err != nil {
		t.Fatalf("after otlink certs trust: %v", err)
	}
	if _, _, status := otlink(t, "certs", "reject", tp, "--data", data); status != 0 {
		t.Fatal("reject failed")
	}
	if err := st.Check(peer); err == nil {
		t.Fatal("rejected certificate accepted")
	}
	out, _, _ = otlink(t, "certs", "list", "--data", data)
	if !strings.Contains(out, "rejected") || !strings.Contains(out, tp) {
		t.Fatalf("list: %s", out)
	}
}

func TestOPCUABrowse(t *testing.T) {
	srv, err := nodepeer.Start(context.Background(), t.TempDir())
	if errors.Is(err, nodepeer.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	data := t.TempDir()
	out := filepath.Join(t.TempDir(), "browsed.yaml")
	_, errOut, status := otlink(t, "opcua", "browse", "--endpoint", srv.Endpoint(), "--data", data, "--out", out)
	if status == 0 || !strings.Contains(errOut, "OTL-2200") || !strings.Contains(errOut, "otlink certs trust") {
		t.Fatalf("browse of an untrusted server: %d %s", status, errOut)
	}
	st, _ := uatrust.Open(data)
	l, _ := st.List()
	if len(l) != 1 {
		t.Fatalf("rejected certificates: %+v", l)
	}
	if _, errOut, status := otlink(t, "certs", "trust", l[0].Thumbprint, "--data", data); status != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, status := otlink(t, "opcua", "browse", "--endpoint", srv.Endpoint(), "--data", data, "--out", out, "--machine", "press1"); status != 0 {
		t.Fatalf("browse: %s", errOut)
	}
	cfg, err := config.Load(out)
	if err != nil {
		t.Fatalf("the browsed config does not load: %v", err)
	}
	m := cfg.Plant.Sites[0].Areas[0].Lines[0].Machines[0]
	types := map[string]string{}
	for _, tg := range m.Tags {
		types[tg.Address] = tg.Type
	}
	want := map[string]string{"ns=1;s=Machine.Speed": "float64", "ns=1;s=Machine.Counter": "int32", "ns=1;s=Machine.Running": "bool",
		"ns=1;s=Machine.Name": "string", "ns=1;s=Machine.Mode": "int16"}
	for a, ty := range want {
		if types[a] != ty {
			t.Errorf("tag %s: type %q, want %q (all: %v)", a, types[a], ty, types)
		}
	}
	if m.Name != "press1" || cfg.Devices[0].Driver != "opcua" || cfg.Devices[0].Endpoint != srv.Endpoint() {
		t.Errorf("machine %s device %+v", m.Name, cfg.Devices[0])
	}
}

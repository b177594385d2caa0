package tlsca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureServeRenew(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, []string{"plant.example"}, now)
	if err != nil || !f.Renewed {
		t.Fatalf("first run: %v %+v", err, f)
	}
	for _, k := range []string{KeyFile, CAKey} {
		if st, err := os.Stat(filepath.Join(dir, k)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", k, err, st)
		}
	}
	// Unchanged on the next start; renewed when close to expiry or a name is new.
	if f2, _ := Ensure(dir, []string{"plant.example"}, now); f2.Renewed {
		t.Error("renewed a fresh certificate")
	}
	if f3, _ := Ensure(dir, []string{"plant.example"}, now.Add(CertLife-RenewLeft+time.Hour)); !f3.Renewed {
		t.Error("not renewed 29 days before expiry")
	}
	if f4, _ := Ensure(dir, []string{"other.example"}, now); !f4.Renewed {
		t.Error("not renewed for a new name")
	}
	cfg, err := ServerConfig(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()
	pool, err := Pool(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"127.0.0.1", "localhost", "other.example"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host}}}
		resp, err := c.Get("https://127.0.0.1:" + port)
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		resp.Body.Close()
		if resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("TLS version %x", resp.TLS.Version)
		}
	}
	// TLS 1.1 is refused.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := c.Get("https://127.0.0.1:" + port); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// An untrusting client fails.
	c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := c.Get("https://127.0.0.1:" + port); err == nil {
		t.Error("certificate accepted without the CA")
	}
}

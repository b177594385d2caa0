package tlsca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for the reloader and the client's verification.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuf is a log destination safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// serve starts an HTTPS server on loopback with r's settings.
func serve(t *testing.T, r *Reloader) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = r.Config()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// serialSeen makes a new connection (a full handshake) and returns the
// serial of the certificate the server presented, verified against pool at
// the clock's time.
func serialSeen(t *testing.T, srv *httptest.Server, pool *x509.CertPool, now func() time.Time) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", Time: now}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.String()
}

func TestRenewWhileRunning(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	life := 3 * time.Hour
	r, f, err := OpenLocal(dir, nil, ReloadOptions{Now: clk.Now, CertLife: life, Logger: slog.New(slog.NewTextHandler(&syncBuf{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := Pool(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, r)
	first := serialSeen(t, srv, pool, clk.Now)
	if first != r.Leaf().SerialNumber.String() {
		t.Fatalf("served %s, leaf %s", first, r.Leaf().SerialNumber)
	}
	// It lives 4 h (an hour back-dated, 3 ahead); an hour on, 2 h are
	// left, more than a third: the same certificate.
	clk.Add(time.Hour)
	if s := serialSeen(t, srv, pool, clk.Now); s != first {
		t.Fatalf("renewed with more than a third of the life left: %s", s)
	}
	// Less than a third left: the next handshake gets a new certificate,
	// valid for the full life from now, also on disk for the next start.
	clk.Add(45 * time.Minute)
	second := serialSeen(t, srv, pool, clk.Now)
	if second == first {
		t.Fatal("not renewed with less than a third of its life left")
	}
	if left := r.Leaf().NotAfter.Sub(clk.Now()); left < life-time.Minute {
		t.Errorf("renewed certificate has %s left, want about %s", left, life)
	}
	onDisk, _, err := loadPair(f.Cert, f.Key)
	if err != nil || onDisk.SerialNumber.String() != second {
		t.Errorf("disk holds %v (%v), served %s", onDisk.SerialNumber, err, second)
	}
	if s := serialSeen(t, srv, pool, clk.Now); s != second {
		t.Errorf("renewed again at once: %s", s)
	}
}

func TestRotatedFiles(t *testing.T) {
	base := t.TempDir()
	clk := &clock{t: time.Now()}
	// Two pairs from one CA: the operator's current and next certificate.
	f, err := Ensure(filepath.Join(base, "ca"), nil, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(base, "server.pem"), filepath.Join(base, "server-key.pem")
	copyFile(t, f.Cert, cert)
	copyFile(t, f.Key, key)
	var logs syncBuf
	r, err := OpenFiles(cert, key, ReloadOptions{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := Pool(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, r)
	first := serialSeen(t, srv, pool, clk.Now)

	// Rotate: a new pair on disk. Not looked at before CheckEvery passed;
	// then the next handshake serves it.
	if _, err := ensure(filepath.Join(base, "ca"), nil, clk.Now(), CertLife, true); err != nil {
		t.Fatal(err)
	}
	copyFile(t, f.Cert, cert)
	copyFile(t, f.Key, key)
	if s := serialSeen(t, srv, pool, clk.Now); s != first {
		t.Fatalf("files read before CheckEvery passed: %s", s)
	}
	clk.Add(CheckEvery)
	second := serialSeen(t, srv, pool, clk.Now)
	if second == first {
		t.Fatal("rotated certificate not picked up")
	}

	// A broken rotation (the key file not PEM) keeps the second
	// certificate in service and logs the code, once.
	if err := os.WriteFile(key, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		clk.Add(CheckEvery)
		if s := serialSeen(t, srv, pool, clk.Now); s != second {
			t.Fatalf("after a broken rotation served %s, want %s", s, second)
		}
	}
	if n := strings.Count(logs.String(), "OTL-6275"); n != 1 {
		t.Errorf("broken rotation logged %d times with OTL-6275, want once:\n%s", n, logs.String())
	}
	// Repaired: picked up.
	if _, err := ensure(filepath.Join(base, "ca"), nil, clk.Now(), CertLife, true); err != nil {
		t.Fatal(err)
	}
	copyFile(t, f.Cert, cert)
	copyFile(t, f.Key, key)
	clk.Add(CheckEvery)
	if s := serialSeen(t, srv, pool, clk.Now); s == second || s == first {
		t.Errorf("repaired files not picked up: %s", s)
	}
}

func TestOpenFilesRefusesBroken(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("x"), 0o644)
	os.WriteFile(key, []byte("y"), 0o600)
	if _, err := OpenFiles(cert, key, ReloadOptions{}); err == nil || !strings.Contains(err.Error(), "OTL-9024") {
		t.Fatalf("broken files at start: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// Through a rename, as an operator should; the mtime changes.
	if err := writeFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

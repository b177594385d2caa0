package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/tlsca"
)

func TestNewTLSConfig(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	cfg, ca, err := newTLSConfig(dir, config.HTTPTLS{Names: []string{"plant.example"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if ca != filepath.Join(dir, TLSDir, tlsca.CAFile) {
		t.Errorf("ca file %q", ca)
	}
	c, err := cfg.GetCertificate(nil)
	if err != nil || c.Leaf.VerifyHostname("plant.example") != nil {
		t.Fatalf("local certificate: %v", err)
	}
	// Configured files: no CA of ours; broken files refuse to start.
	f := filepath.Join(dir, TLSDir)
	cfg, ca, err = newTLSConfig(dir, config.HTTPTLS{Cert: filepath.Join(f, tlsca.CertFile), Key: filepath.Join(f, tlsca.KeyFile)}, log)
	if err != nil || ca != "" || cfg.GetCertificate == nil {
		t.Fatalf("configured files: %v %q", err, ca)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("x"), 0o600)
	if _, _, err := newTLSConfig(dir, config.HTTPTLS{Cert: bad, Key: bad}, log); err == nil {
		t.Error("broken configured files accepted")
	}
}

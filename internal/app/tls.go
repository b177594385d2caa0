package app

import (
	"crypto/tls"
	"log/slog"
	"path/filepath"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/tlsca"
)

// newTLSConfig returns the server's TLS settings. With configured files
// (http.tls.cert and key) they are re-read when an operator rotates them;
// otherwise the certificate comes from the local CA in dataDir/tls and is
// renewed while running, when less than a third of its life is left. A
// renewed or rotated certificate applies to new connections without a
// restart. caFile is the local CA's certificate, "" with configured files.
func newTLSConfig(dataDir string, t config.HTTPTLS, log *slog.Logger) (cfg *tls.Config, caFile string, err error) {
	o := tlsca.ReloadOptions{Logger: log}
	if t.Cert != "" {
		r, err := tlsca.OpenFiles(t.Cert, t.Key, o)
		if err != nil {
			return nil, "", err
		}
		return r.Config(), "", nil
	}
	r, f, err := tlsca.OpenLocal(filepath.Join(dataDir, TLSDir), t.Names, o)
	if err != nil {
		return nil, "", err
	}
	log.Info("server certificate from the local CA", "ca", f.CA, "cert", f.Cert, "not_after", r.Leaf().NotAfter)
	return r.Config(), f.CA, nil
}

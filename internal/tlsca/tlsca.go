package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// File names inside the tls folder.
const (
	CAFile   = "ca.pem"
	CAKey    = "ca-key.pem"
	CertFile = "server.pem"
	KeyFile  = "server-key.pem"
)

// Lifetimes.
const (
	CALife    = 10 * 365 * 24 * time.Hour
	CertLife  = 365 * 24 * time.Hour
	RenewLeft = 30 * 24 * time.Hour
)

// Files are the paths of a generated CA and server certificate.
type Files struct {
	CA, Cert, Key string
	// Renewed is true when Ensure wrote a new server certificate.
	Renewed bool
}

// DefaultNames are always in the server certificate: loopback and the
// machine's host name.
func DefaultNames() []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	return names
}

// Ensure makes sure dir holds a CA and a server certificate for
// DefaultNames plus names that is valid at now for at least RenewLeft,
// creating or renewing what is missing or stale. A CA that is missing or
// expires within RenewLeft is replaced, and then the server certificate too.
func Ensure(dir string, names []string, now time.Time) (Files, error) {
	return ensure(dir, names, now, CertLife, false)
}

// ensure is Ensure with the server certificate's lifetime, and force to
// issue a new server certificate even when the one on disk is still good.
func ensure(dir string, names []string, now time.Time, life time.Duration, force bool) (Files, error) {
	f := Files{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, errcode.Wrap(errcode.TLSCert, err, "create tls folder %s", dir)
	}
	all := DefaultNames()
	for _, n := range names {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	ca, caKey, err := loadPair(f.CA, filepath.Join(dir, CAKey))
	if err != nil || ca.NotAfter.Sub(now) < RenewLeft || !ca.IsCA {
		ca, caKey, err = newCA(dir, now)
		if err != nil {
			return f, err
		}
	}
	if cert, _, err := loadPair(f.Cert, f.Key); !force && err == nil && cert.NotAfter.Sub(now) >= RenewLeft && covers(cert, all) &&
		cert.CheckSignatureFrom(ca) == nil {
		return f, nil
	}
	if err := newServer(f, ca, caKey, all, now, life); err != nil {
		return f, err
	}
	f.Renewed = true
	return f, nil
}

func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, errcode.New(errcode.TLSCert, "%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func newCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.TLSCert, err, "generate ca key")
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "otlink local CA " + host, Organization: []string{"otlink"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALife),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.TLSCert, err, "sign ca certificate")
	}
	if err := writePair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKey), der, key); err != nil {
		return nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, nil
}

func newServer(f Files, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, now time.Time, life time.Duration) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return errcode.Wrap(errcode.TLSCert, err, "generate server key")
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"otlink"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(life),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return errcode.Wrap(errcode.TLSCert, err, "sign server certificate")
	}
	return writePair(f.Cert, f.Key, der, key)
}

// writePair writes a certificate (0644: it is public) and its key (0600),
// each through a temporary file and a rename so a crash leaves the old pair.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return errcode.Wrap(errcode.TLSCert, err, "encode key")
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return errcode.Wrap(errcode.TLSCert, err, "write %s", path)
	}
	os.Chmod(tmp, mode) // WriteFile's mode does not apply to an existing file
	if err := os.Rename(tmp, path); err != nil {
		return errcode.Wrap(errcode.TLSCert, err, "write %s", path)
	}
	return nil
}

// ServerConfig loads a certificate chain and key for serving: TLS 1.2 or
// newer (Go prefers 1.3 and chooses only AEAD suites for 1.2). The
// certificate is fixed; Reloader.Config gives one that follows renewals and
// rotated files.
func ServerConfig(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, errcode.Wrap(errcode.TLSCert, err, "load certificate %s and key %s", certFile, keyFile)
	}
	c := baseConfig()
	c.Certificates = []tls.Certificate{pair}
	return c, nil
}

// baseConfig is the protocol part of the server's TLS settings.
func baseConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // 1.2 only; 1.3 suites are not configurable and all fine
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,
		},
	}
}

// Pool returns a certificate pool holding the CA of file, for clients.
func Pool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, errcode.Wrap(errcode.TLSCert, err, "read ca %s", caFile)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(bytes.TrimSpace(b)) {
		return nil, errcode.New(errcode.TLSCert, "%s holds no PEM certificate", caFile)
	}
	return p, nil
}

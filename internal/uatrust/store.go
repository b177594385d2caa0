package uatrust

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// Folders of the store, under DATA/pki.
const (
	DirOwn      = "own"
	DirTrusted  = "trusted"
	DirRejected = "rejected"
	DirIssuers  = "issuers"
)

// ownValidity is how long the application certificate created on first use
// is valid. OPC UA tools commonly use years; a plant does not want its
// connections to stop on a weekend because a certificate ran out.
const ownValidity = 10 * 365 * 24 * time.Hour

// Store is a PKI folder. It is safe for concurrent use by the client
// driver and the server of one process.
type Store struct {
	dir      string
	hostname string

	mu  sync.Mutex
	own *Own
}

// Own is otlink's application instance certificate and key.
type Own struct {
	Cert           *x509.Certificate
	DER            []byte
	Key            *rsa.PrivateKey
	ApplicationURI string // urn:otlink:<hostname>, also in the certificate's SAN
	CertFile       string // DER
	KeyFile        string // PEM, PKCS#1
}

// Entry is a certificate in the store, for listing.
type Entry struct {
	Thumbprint string    `json:"thumbprint"`
	State      string    `json:"state"` // trusted, rejected or issuers
	Subject    string    `json:"subject"`
	URI        string    `json:"application_uri,omitempty"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	File       string    `json:"file"`
}

// Open opens (creating when missing) the PKI folder DATA/pki of dataDir.
// It creates no certificate: Own does that on first use.
func Open(dataDir string) (*Store, error) {
	dir := filepath.Join(dataDir, "pki")
	for _, d := range []string{DirOwn, DirTrusted, DirRejected, DirIssuers} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, errcode.Wrap(errcode.UAPKI, err, "create certificate folder")
		}
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return &Store{dir: dir, hostname: h}, nil
}

// Dir returns the PKI folder (DATA/pki).
func (s *Store) Dir() string { return s.dir }

// Hostname returns the host name put in the own certificate.
func (s *Store) Hostname() string { return s.hostname }

// ApplicationURI returns the URI otlink uses as OPC UA application URI, the
// one its certificate carries: urn:otlink:<hostname>.
func (s *Store) ApplicationURI() string { return "urn:otlink:" + s.hostname }

// Thumbprint returns the OPC UA thumbprint of a DER certificate: SHA-1 in
// lower-case hex.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return hex.EncodeToString(sum[:])
}

// Own returns otlink's application instance certificate, creating a
// self-signed one (RSA 2048, SHA-256, SAN URI urn:otlink:<hostname>, DNS
// names hostname and localhost) on first use.
func (s *Store) Own() (*Own, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own != nil {
		return s.own, nil
	}
	certFile := filepath.Join(s.dir, DirOwn, "cert.der")
	keyFile := filepath.Join(s.dir, DirOwn, "key.pem")
	o, err := loadOwn(certFile, keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		o, err = s.createOwn(certFile, keyFile)
	}
	if err != nil {
		return nil, err
	}
	s.own = o
	return o, nil
}

func loadOwn(certFile, keyFile string) (*Own, error) {
	der, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	kp, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "parse own certificate %s", certFile)
	}
	blk, _ := pem.Decode(kp)
	if blk == nil {
		return nil, errcode.New(errcode.UAPKI, "own key %s is not PEM", keyFile)
	}
	key, err := parseKey(blk.Bytes)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "parse own key %s", keyFile)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errcode.New(errcode.UAPKI, "own key %s does not belong to certificate %s", keyFile, certFile)
	}
	o := &Own{Cert: cert, DER: der, Key: key, CertFile: certFile, KeyFile: keyFile}
	if len(cert.URIs) > 0 {
		o.ApplicationURI = cert.URIs[0].String()
	}
	return o, nil
}

func parseKey(b []byte) (*rsa.PrivateKey, error) {
	if k, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, OPC UA needs RSA", k)
	}
	return rk, nil
}

func (s *Store) createOwn(certFile, keyFile string) (*Own, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "generate own key")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "generate serial")
	}
	uri, _ := url.Parse(s.ApplicationURI())
	now := time.Now().Add(-time.Hour) // tolerate peers whose clock is a little behind
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "otlink@" + s.hostname,
			Organization: []string{"otlink"},
		},
		NotBefore: now,
		NotAfter:  now.Add(ownValidity),
		// OPC UA Part 6, 6.2.2: an application instance certificate signs,
		// encrypts keys and data; self-signed ones also carry keyCertSign.
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
			x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              dedupe([]string{s.hostname, "localhost"}),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "create own certificate")
	}
	cert, _ := x509.ParseCertificate(der)
	kp := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	// The key first: a certificate without its key would be loaded and fail.
	if err := writeFile(keyFile, kp, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certFile, der, 0o644); err != nil {
		return nil, err
	}
	return &Own{Cert: cert, DER: der, Key: key, ApplicationURI: uri.String(), CertFile: certFile, KeyFile: keyFile}, nil
}

func dedupe(ss []string) []string {
	out := ss[:0]
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// writeFile writes through a temporary file and a rename, so a crash never
// leaves half a certificate.
func writeFile(name string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return errcode.Wrap(errcode.UAPKI, err, "write %s", name)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return errcode.Wrap(errcode.UAPKI, err, "write %s", name)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return errcode.Wrap(errcode.UAPKI, err, "write %s", name)
	}
	if err := tmp.Close(); err != nil {
		return errcode.Wrap(errcode.UAPKI, err, "write %s", name)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return errcode.Wrap(errcode.UAPKI, err, "write %s", name)
	}
	return nil
}

// CheckDER checks a peer certificate as sent on the wire: one DER
// certificate, or a chain of them concatenated (leaf first), as OPC UA
// allows.
func (s *Store) CheckDER(der []byte) error {
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		if err == nil {
			err = errors.New("empty")
		}
		return errcode.Wrap(errcode.UACertInvalid, err, "peer certificate cannot be parsed")
	}
	return s.check(certs[0], certs[1:])
}

// Check decides whether a peer's certificate is trusted. It is when the
// certificate itself is in trusted/, or when it chains (through issuers/
// and the peer's own intermediates) to a CA in trusted/. An expired or not
// yet valid certificate is refused with UACertInvalid. Any other
// certificate is refused with UACertUntrusted, whose message names the
// thumbprint to trust, and is kept in rejected/ so that otlink certs list
// shows it.
func (s *Store) Check(cert *x509.Certificate) error { return s.check(cert, nil) }

func (s *Store) check(cert *x509.Certificate, chain []*x509.Certificate) error {
	tp := Thumbprint(cert.Raw)
	now := time.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return errcode.New(errcode.UACertInvalid, "peer certificate %s (%s) is valid from %s to %s only",
			tp, cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	trusted, err := s.readDir(DirTrusted)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	nroots := 0
	for _, c := range trusted {
		if c.tp == tp {
			return nil
		}
		if c.cert.IsCA {
			roots.AddCert(c.cert)
			nroots++
		}
	}
	if nroots > 0 {
		inter := x509.NewCertPool()
		for _, c := range chain {
			inter.AddCert(c)
		}
		if issuers, err := s.readDir(DirIssuers); err == nil {
			for _, c := range issuers {
				inter.AddCert(c.cert)
			}
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		if _, err := cert.Verify(opts); err == nil {
			return nil
		}
	}
	// Remember it for the person who decides; a failure to store must not
	// hide the refusal.
	name := filepath.Join(s.dir, DirRejected, tp+".der")
	if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
		_ = writeFile(name, cert.Raw, 0o644)
	}
	who := cert.Subject.CommonName
	if len(cert.URIs) > 0 {
		who += " " + cert.URIs[0].String()
	}
	return errcode.New(errcode.UACertUntrusted, "peer certificate %s (%s) is not trusted: if it is the peer's, run otlink certs trust %s", tp, strings.TrimSpace(who), tp)
}

type stored struct {
	tp   string
	file string
	cert *x509.Certificate
}

// readDir reads the certificates of one folder; unreadable files are
// skipped, since one damaged file must not stop every connection.
func (s *Store) readDir(sub string) ([]stored, error) {
	dir := filepath.Join(s.dir, sub)
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, errcode.Wrap(errcode.UAPKI, err, "read certificate folder")
	}
	var out []stored
	for _, de := range des {
		n := de.Name()
		if de.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		cert, err := parseCertFile(b)
		if err != nil {
			continue
		}
		out = append(out, stored{tp: Thumbprint(cert.Raw), file: filepath.Join(dir, n), cert: cert})
	}
	return out, nil
}

// parseCertFile reads a DER or PEM certificate.
func parseCertFile(b []byte) (*x509.Certificate, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

// List returns the certificates of trusted/, rejected/ and issuers/,
// sorted by state then subject.
func (s *Store) List() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, sub := range []string{DirTrusted, DirRejected, DirIssuers} {
		cs, err := s.readDir(sub)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			e := Entry{Thumbprint: c.tp, State: sub, Subject: c.cert.Subject.String(), NotBefore: c.cert.NotBefore, NotAfter: c.cert.NotAfter, File: c.file}
			if len(c.cert.URIs) > 0 {
				e.URI = c.cert.URIs[0].String()
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return out[i].State > out[j].State // trusted, rejected, issuers
		}
		return out[i].Subject < out[j].Subject
	})
	return out, nil
}

// normalize accepts thumbprints as printed by other tools too: upper case,
// with colons or spaces.
func normalize(tp string) string {
	tp = strings.ToLower(tp)
	return strings.Map(func(r rune) rune {
		if r == ':' || r == ' ' || r == '-' {
			return -1
		}
		return r
	}, tp)
}

// find returns the one certificate of sub whose thumbprint starts with tp
// (at least 8 hex digits, so a short prefix cannot pick the wrong one).
func (s *Store) find(sub, tp string) (stored, bool, error) {
	cs, err := s.readDir(sub)
	if err != nil {
		return stored{}, false, err
	}
	var hit []stored
	for _, c := range cs {
		if strings.HasPrefix(c.tp, tp) {
			hit = append(hit, c)
		}
	}
	switch {
	case len(hit) == 1:
		return hit[0], true, nil
	case len(hit) > 1:
		return stored{}, false, errcode.New(errcode.UACertNotFound, "thumbprint %s matches %d certificates in %s: give more digits", tp, len(hit), sub)
	}
	return stored{}, false, nil
}

// Trust moves the certificate with thumbprint (or a unique prefix of at
// least 8 hex digits) from rejected/ or issuers/ to trusted/. Trusting a
// trusted certificate does nothing.
func (s *Store) Trust(thumbprint string) (Entry, error) { return s.move(thumbprint, DirTrusted) }

// Reject moves the certificate from trusted/ or issuers/ to rejected/:
// peers presenting it are refused from their next connection on.
func (s *Store) Reject(thumbprint string) (Entry, error) { return s.move(thumbprint, DirRejected) }

func (s *Store) move(thumbprint, to string) (Entry, error) {
	tp := normalize(thumbprint)
	if len(tp) < 8 || strings.Trim(tp, "0123456789abcdef") != "" {
		return Entry{}, errcode.New(errcode.UACertNotFound, "%q is not a thumbprint: give at least 8 hex digits", thumbprint)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok, err := s.find(to, tp); err != nil || ok {
		return entry(c, to), err
	}
	for _, from := range []string{DirRejected, DirTrusted, DirIssuers} {
		if from == to {
			continue
		}
		c, ok, err := s.find(from, tp)
		if err != nil {
			return Entry{}, err
		}
		if !ok {
			continue
		}
		dst := filepath.Join(s.dir, to, c.tp+".der")
		if err := writeFile(dst, c.cert.Raw, 0o644); err != nil {
			return Entry{}, err
		}
		if err := os.Remove(c.file); err != nil {
			return Entry{}, errcode.Wrap(errcode.UAPKI, err, "remove %s", c.file)
		}
		c.file = dst
		return entry(c, to), nil
	}
	return Entry{}, errcode.New(errcode.UACertNotFound, "no certificate with thumbprint %s in %s", thumbprint, s.dir)
}

func entry(c stored, state string) Entry {
	if c.cert == nil {
		return Entry{}
	}
	e := Entry{Thumbprint: c.tp, State: state, Subject: c.cert.Subject.String(), NotBefore: c.cert.NotBefore, NotAfter: c.cert.NotAfter, File: c.file}
	if len(c.cert.URIs) > 0 {
		e.URI = c.cert.URIs[0].String()
	}
	return e
}

// Add puts a certificate (DER or PEM file contents) into trusted/ or
// issuers/ directly, for peers whose certificate a person received out of
// band (otlink certs trust FILE).
func (s *Store) Add(b []byte, state string) (Entry, error) {
	if state != DirTrusted && state != DirIssuers && state != DirRejected {
		return Entry{}, errcode.New(errcode.UAPKI, "unknown certificate state %q", state)
	}
	cert, err := parseCertFile(b)
	if err != nil {
		return Entry{}, errcode.Wrap(errcode.UACertInvalid, err, "certificate cannot be parsed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := Thumbprint(cert.Raw)
	for _, sub := range []string{DirTrusted, DirRejected, DirIssuers} {
		if sub != state {
			_ = os.Remove(filepath.Join(s.dir, sub, tp+".der"))
		}
	}
	dst := filepath.Join(s.dir, state, tp+".der")
	if err := writeFile(dst, cert.Raw, 0o644); err != nil {
		return Entry{}, err
	}
	return entry(stored{tp: tp, file: dst, cert: cert}, state), nil
}

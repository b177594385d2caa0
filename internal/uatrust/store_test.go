package uatrust

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

func TestOwnCreatedOnceAndReloaded(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Own()
	if err != nil {
		t.Fatal(err)
	}
	if o.ApplicationURI != "urn:otlink:"+s.Hostname() || len(o.Cert.URIs) != 1 || o.Cert.URIs[0].String() != o.ApplicationURI {
		t.Fatalf("application URI %q, SAN %v", o.ApplicationURI, o.Cert.URIs)
	}
	if o.Cert.KeyUsage&x509.KeyUsageDataEncipherment == 0 || o.Cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Errorf("key usage %b lacks what OPC UA needs", o.Cert.KeyUsage)
	}
	st, err := os.Stat(o.KeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v, want mode 0600", st, err)
	}
	s2, _ := Open(dir)
	o2, err := s2.Own()
	if err != nil {
		t.Fatal(err)
	}
	if Thumbprint(o2.DER) != Thumbprint(o.DER) || !o2.Key.Equal(o.Key) {
		t.Fatal("a second Open created a new certificate instead of loading the first")
	}
}

func TestOwnDamagedKeyRefused(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	o, err := s.Own()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.KeyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(dir)
	if _, err := s2.Own(); errcode.Of(err) != errcode.UAPKI {
		t.Fatalf("damaged key: %v, want %s", err, errcode.UAPKI)
	}
}

func selfSigned(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *rsa.PrivateKey, notAfter time.Time) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: isCA,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestCheckTrustReject(t *testing.T) {
	s, _ := Open(t.TempDir())
	peer, _ := selfSigned(t, "peer", false, nil, nil, time.Now().Add(time.Hour))
	tp := Thumbprint(peer.Raw)

	err := s.Check(peer)
	if errcode.Of(err) != errcode.UACertUntrusted || !strings.Contains(err.Error(), "otlink certs trust "+tp) {
		t.Fatalf("unknown certificate: %v, want %s naming the command", err, errcode.UACertUntrusted)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), DirRejected, tp+".der")); err != nil {
		t.Fatalf("refused certificate not kept in rejected/: %v", err)
	}
	l, _ := s.List()
	if len(l) != 1 || l[0].State != DirRejected || l[0].Thumbprint != tp {
		t.Fatalf("List = %+v", l)
	}
	if _, err := s.Trust(strings.ToUpper(tp[:10])); err != nil {
		t.Fatalf("trust by upper-case prefix: %v", err)
	}
	if err := s.CheckDER(peer.Raw); err != nil {
		t.Fatalf("trusted certificate refused: %v", err)
	}
	if _, err := s.Reject(tp); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(peer); errcode.Of(err) != errcode.UACertUntrusted {
		t.Fatalf("rejected certificate: %v", err)
	}
	if _, err := s.Trust("0123456789"); errcode.Of(err) != errcode.UACertNotFound {
		t.Fatalf("unknown thumbprint: %v", err)
	}
	if _, err := s.Trust("abc"); errcode.Of(err) != errcode.UACertNotFound {
		t.Fatalf("short prefix: %v", err)
	}
}

func TestCheckChainAndValidity(t *testing.T) {
	s, _ := Open(t.TempDir())
	ca, caKey := selfSigned(t, "plant ca", true, nil, nil, time.Now().Add(time.Hour))
	leaf, _ := selfSigned(t, "server", false, ca, caKey, time.Now().Add(time.Hour))
	if err := s.Check(leaf); errcode.Of(err) != errcode.UACertUntrusted {
		t.Fatalf("leaf of an unknown CA: %v", err)
	}
	if _, err := s.Add(ca.Raw, DirTrusted); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(leaf); err != nil {
		t.Fatalf("leaf of a trusted CA refused: %v", err)
	}
	old, _ := selfSigned(t, "old", false, nil, nil, time.Now().Add(-time.Minute))
	if _, err := s.Add(old.Raw, DirTrusted); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(old); errcode.Of(err) != errcode.UACertInvalid {
		t.Fatalf("expired trusted certificate: %v, want %s", err, errcode.UACertInvalid)
	}
	if err := s.CheckDER([]byte{0x30, 0x03, 1, 2, 3}); errcode.Of(err) != errcode.UACertInvalid {
		t.Fatalf("garbage: %v", err)
	}
}

func FuzzCheckDER(f *testing.F) {
	s, _ := Open(f.TempDir())
	o, err := s.Own()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(o.DER)
	f.Add(append(append([]byte{}, o.DER...), o.DER...))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := s.CheckDER(b)
		if err != nil && errcode.Of(err) == 0 {
			t.Fatalf("error without code: %v", err)
		}
	})
}

package sim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// UASelfSigned makes an application instance certificate for a simulated
// OPC UA machine: RSA 2048, SHA-256, SAN URI urn:otlink-sim:NAME, DNS
// localhost and IP 127.0.0.1, valid ten years.
func UASelfSigned(name string, now time.Time) ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	uri, err := url.Parse("urn:otlink-sim:" + name)
	if err != nil {
		return nil, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "otlink-sim " + name, Organization: []string{"otlink-sim"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), URIs: []*url.URL{uri},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	return der, key, err
}

// UACert returns the certificate and key of the simulated OPC UA machine
// name kept in dir (opcua-NAME.der and opcua-NAME.key.pem), making them
// on first use. A kept certificate keeps its thumbprint, so that a
// client's trust in it outlasts a restart of the simulator.
func UACert(dir, name string) ([]byte, *rsa.PrivateKey, error) {
	certFile := filepath.Join(dir, "opcua-"+name+".der")
	keyFile := filepath.Join(dir, "opcua-"+name+".key.pem")
	der, errC := os.ReadFile(certFile)
	kb, errK := os.ReadFile(keyFile)
	if errC == nil && errK == nil {
		blk, _ := pem.Decode(kb)
		if blk == nil {
			return nil, nil, errcode.New(errcode.SimUACert, "%s holds no PEM key", keyFile)
		}
		key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, nil, errcode.Wrap(errcode.SimUACert, err, "read %s", keyFile)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, errcode.Wrap(errcode.SimUACert, err, "read %s", certFile)
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			return nil, nil, errcode.New(errcode.SimUACert, "%s and %s do not belong together", certFile, keyFile)
		}
		if time.Now().After(cert.NotAfter) {
			return nil, nil, errcode.New(errcode.SimUACert, "%s expired on %s", certFile, cert.NotAfter.Format(time.DateOnly))
		}
		return der, key, nil
	}
	for _, err := range []error{errC, errK} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errcode.Wrap(errcode.SimUACert, err, "read certificate of opcua machine %s", name)
		}
	}
	der, key, err := UASelfSigned(name, time.Now())
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.SimUACert, err, "make certificate of opcua machine %s", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, errcode.Wrap(errcode.SimUACert, err, "create %s", dir)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return nil, nil, errcode.Wrap(errcode.SimUACert, err, "write %s", keyFile)
	}
	if err := os.WriteFile(certFile, der, 0o644); err != nil {
		return nil, nil, errcode.Wrap(errcode.SimUACert, err, "write %s", certFile)
	}
	return der, key, nil
}

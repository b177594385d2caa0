package uaserver

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// memPKI is the PKI when none is given: a self-signed certificate made in
// memory, and no client certificate trusted (secure policies then refuse
// every client; the app always gives the data folder's store).
type memPKI struct {
	once sync.Once
	der  []byte
	key  *rsa.PrivateKey
	err  error
}

func (m *memPKI) Own() ([]byte, *rsa.PrivateKey, error) {
	m.once.Do(func() { m.der, m.key, m.err = SelfSigned(time.Now()) })
	return m.der, m.key, m.err
}

func (m *memPKI) Check(*x509.Certificate) error {
	return errcode.New(errcode.UAServerAuth, "no trust list: client certificates cannot be checked")
}

// SelfSigned makes an application instance certificate for the server
// (RSA 2048, SAN URI urn:otlink:HOST, DNS HOST and localhost).
func SelfSigned(now time.Time) ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	uri, _ := url.Parse("urn:otlink:" + host)
	sn, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "otlink", Organization: []string{"otlink"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), URIs: []*url.URL{uri},
		DNSNames: []string{host, "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	return der, key, err
}

package tlsca

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otlink/otlink/internal/errcode"
)

// CheckEvery is how often, at most, a Reloader looks at the files' mtimes:
// handshakes in between cost one atomic load and a time comparison.
const CheckEvery = 5 * time.Second

// ReloadOptions tune a Reloader; the zero value is the production setting.
type ReloadOptions struct {
	Logger *slog.Logger
	// Now is the clock (tests move it); nil is time.Now.
	Now func() time.Time
	// CheckEvery overrides the package's CheckEvery (tests: 0 would mean
	// the default, so they give a nanosecond).
	CheckEvery time.Duration
	// CertLife is the lifetime of certificates the local CA issues while
	// running; 0 is CertLife. Tests issue short-lived ones.
	CertLife time.Duration
}

// Reloader hands the TLS stack the current server certificate. It keeps a
// parsed certificate and, at a handshake, at most every CheckEvery:
// re-reads the certificate and key files when their mtime or size changed
// (an operator rotated them), and for a local-CA certificate issues a new
// one when less than a third of its lifetime is left. A file that does not
// load keeps the previous certificate in service and is logged with
// OTL-6275 once per change.
type Reloader struct {
	certFile, keyFile string
	// Local CA mode: dir and names to renew with; "" for configured files,
	// which only an operator renews.
	dir   string
	names []string

	log   *slog.Logger
	now   func() time.Time
	every time.Duration
	life  time.Duration

	cur atomic.Pointer[loaded]
	mu  sync.Mutex // serialises checks and renewals
}

// loaded is one certificate in service and what the files looked like when
// it was read.
type loaded struct {
	cert     *tls.Certificate // Leaf is set
	stamp    stamp            // of the files it came from
	renewAt  time.Time        // zero: never renewed here (configured files)
	nextScan time.Time        // the files are not looked at before this
	bad      stamp            // a changed pair that failed to load, not retried until it changes again
}

// stamp identifies a version of the certificate and key files.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func statPair(certFile, keyFile string) (stamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

func (o ReloadOptions) apply(r *Reloader) {
	r.log, r.now, r.every, r.life = o.Logger, o.Now, o.CheckEvery, o.CertLife
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.every <= 0 {
		r.every = CheckEvery
	}
	if r.life <= 0 {
		r.life = CertLife
	}
}

// OpenFiles loads a configured certificate chain and key and watches them
// for rotation. A pair that does not load now is an error (OTL-9024): the
// server must not start without a certificate.
func OpenFiles(certFile, keyFile string, o ReloadOptions) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	o.apply(r)
	st, _ := statPair(certFile, keyFile)
	l, err := r.load(st, r.now())
	if err != nil {
		return nil, errcode.Wrap(errcode.TLSCert, err, "load certificate %s and key %s", certFile, keyFile)
	}
	r.cur.Store(l)
	return r, nil
}

// OpenLocal makes sure dir holds the local CA and a current server
// certificate for DefaultNames plus names (as Ensure does), loads it and
// keeps renewing it from the CA while the server runs.
func OpenLocal(dir string, names []string, o ReloadOptions) (*Reloader, Files, error) {
	r := &Reloader{dir: dir, names: names}
	o.apply(r)
	f, err := ensure(dir, names, r.now(), r.life, false)
	if err != nil {
		return nil, f, err
	}
	r.certFile, r.keyFile = f.Cert, f.Key
	st, _ := statPair(f.Cert, f.Key)
	l, err := r.load(st, r.now())
	if err != nil {
		return nil, f, errcode.Wrap(errcode.TLSCert, err, "load certificate %s and key %s", f.Cert, f.Key)
	}
	r.cur.Store(l)
	return r, f, nil
}

// load reads and parses the pair; st is the files' stamp before reading,
// so a write during the read is seen at the next scan.
func (r *Reloader) load(st stamp, now time.Time) (*loaded, error) {
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, err
	}
	if pair.Leaf == nil { // set by Go 1.23+; parse for older toolchains' sake
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
	}
	l := &loaded{cert: &pair, stamp: st, nextScan: now.Add(r.every)}
	if r.dir != "" {
		nb, na := pair.Leaf.NotBefore, pair.Leaf.NotAfter
		l.renewAt = nb.Add(na.Sub(nb) * 2 / 3)
	}
	return l, nil
}

// Leaf returns the certificate in service.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().cert.Leaf }

// GetCertificate is tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l := r.cur.Load()
	now := r.now()
	if now.Before(l.nextScan) {
		return l.cert, nil
	}
	return r.check(now).cert, nil
}

// check looks at the files and renews, under the lock; it never fails: a
// problem keeps the certificate in service and is logged.
func (r *Reloader) check(now time.Time) *loaded {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.cur.Load()
	if now.Before(l.nextScan) {
		return l // another handshake did it
	}
	next := *l
	next.nextScan = now.Add(r.every)
	renewed := false
	if !l.renewAt.IsZero() && !now.Before(l.renewAt) {
		if _, err := ensure(r.dir, r.names, now, r.life, true); err != nil {
			// Retried at the next scan; the old certificate still has a
			// third of its life.
			r.log.Error("server certificate not renewed; the current one stays in service", "code", errcode.TLSReload.String(), "err", err)
			r.cur.Store(&next)
			return &next
		}
		renewed = true
	}
	st, err := statPair(r.certFile, r.keyFile)
	if err != nil || !renewed && (st == l.stamp || st == l.bad) {
		if err != nil && l.bad == (stamp{}) {
			r.log.Error("server certificate files unreadable; the current certificate stays in service", "code", errcode.TLSReload.String(), "err", err)
			next.bad = stamp{certSize: -1}
		}
		r.cur.Store(&next)
		return &next
	}
	nl, err := r.load(st, now)
	if err != nil {
		r.log.Error("new server certificate does not load; the current one stays in service", "code", errcode.TLSReload.String(),
			"cert", r.certFile, "key", r.keyFile, "err", err)
		next.bad = st
		r.cur.Store(&next)
		return &next
	}
	r.log.Info("server certificate loaded", "cert", r.certFile, "serial", nl.cert.Leaf.SerialNumber.Text(16), "not_after", nl.cert.Leaf.NotAfter)
	r.cur.Store(nl)
	return nl
}

// Config returns the server's TLS settings with r choosing the certificate
// at each handshake.
func (r *Reloader) Config() *tls.Config {
	c := baseConfig()
	c.GetCertificate = r.GetCertificate
	return c
}

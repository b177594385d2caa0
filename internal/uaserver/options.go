package uaserver

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
)

// Source gives the latest value of every tag (acquire.Engine).
type Source interface {
	SnapshotInto(dst []acquire.TagValue) []acquire.TagValue
}

// Writer performs a governed write (acquire.Engine.Write: writable flag,
// limits, rate, the device's budget).
type Writer interface {
	Write(ctx context.Context, path string, v model.Value) error
}

// User is who a session acts for.
type User struct {
	Name string
	// Read and Write tell whether the user may read or write the tag or
	// folder at a plant path; nil allows nothing.
	Read    func(path string) bool
	Write   func(path string) bool
	History func(path string) bool
}

// Users checks user names and passwords (otlink's accounts). Login must
// audit its own outcome.
type Users interface {
	Login(ctx context.Context, name, password, ip string) (*User, error)
}

// AuditEvent is one security-relevant action of an OPC UA client.
type AuditEvent struct {
	Actor   string // user name, or "anonymous"
	Action  string // opcua.session, tag.write
	Object  string // tag path, user/NAME
	Outcome string // ok, failed, denied
	IP      string
	Detail  string
}

// PKI is the certificate store: the server's own application instance
// certificate and the trust decision on client certificates
// (uatrust.Store fits it through an adapter in the app).
type PKI interface {
	// Own returns the server's certificate (DER) and private key.
	Own() (der []byte, key *rsa.PrivateKey, err error)
	// Check returns nil when cert is trusted; otherwise an error that
	// says how to trust it.
	Check(cert *x509.Certificate) error
}

// HistoryPoint is one stored sample.
type HistoryPoint struct {
	Time    time.Time
	Value   model.Value
	Quality model.Quality
}

// History reads raw stored samples of one tag in [from, to), at most limit
// of them, continuing after cursor when it is not empty. next is empty
// when nothing follows.
type History interface {
	ReadRaw(ctx context.Context, tag string, from, to time.Time, limit int, cursor string) (pts []HistoryPoint, next string, err error)
}

// Options configure a Server. Config and Source are required.
type Options struct {
	Config config.OPCUAServer // defaults are applied by New
	// Plant is the hierarchy served; tags need Path (config.Defaults).
	Plant    config.Plant
	Source   Source
	Writer   Writer  // nil: every tag is read only
	History  History // nil: HistoryRead answers BadHistoryOperationUnsupported
	Users    Users   // nil: only anonymous access, when configured
	PKI      PKI     // nil: a self-signed certificate in memory, no client certificate trusted
	Audit    func(ctx context.Context, e AuditEvent)
	Logger   *slog.Logger
	Version  string        // software version in the BuildInfo
	WriteMax time.Duration // bound of one write; default 10s
	// MaxConnections bounds the open TCP connections; default
	// max_sessions + 10. More are refused with BadTcpNotEnoughResources.
	MaxConnections int
	// HandshakeTimeout bounds the time from accept to the first service
	// request (Hello, OpenSecureChannel); default 10s.
	HandshakeTimeout time.Duration
}

package bus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/otlink/otlink/internal/errcode"
)

// Defaults of Options.
const (
	DefaultListen          = "127.0.0.1:4222"
	DefaultMQTT            = "127.0.0.1:1883"
	DefaultMaxAge          = 72 * time.Hour // a long weekend without a consumer (WAN down to the hub)
	DefaultMaxBytes        = 4 << 30        // fits a small edge box's disk
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxPending      = 1024
	DefaultAckTimeout      = 10 * time.Second
	DefaultAckWait         = 30 * time.Second
	DefaultStartTimeout    = 15 * time.Second
	// MaxPayload is the embedded server's message size limit. 8 MiB holds
	// a batch of ~200k samples; larger batches are refused with a code.
	MaxPayload = 8 << 20
)

// Stream and subject names. "v1" is the subject layout's version; the
// payload carries its own schema version.
const (
	SamplesStream  = "OTL_SAMPLES"
	SamplesPrefix  = "otl.v1.samples."
	SamplesSubject = SamplesPrefix + ">"
	serverName     = "otlink" // MQTT needs a server name; it is also the store's owner
)

// Options configure the bus. A zero field means its default, except
// DataDir (required for the embedded server) and MQTT ("" = no listener).
type Options struct {
	// URL of an external NATS server or cluster; "" starts the embedded one.
	URL string
	// Listen is the embedded server's client address; "" means
	// DefaultListen. Port 0 picks a free port (see ClientURL).
	Listen string
	// MQTT is the embedded MQTT listener's address; "" or "off" disables it
	// (the app passes DefaultMQTT unless the config says "off"). Port 0
	// picks a free port (see MQTTAddr).
	MQTT string
	// AllowRemote lets the embedded server listen on non-loopback
	// addresses. Off by default: the embedded server has no authentication.
	AllowRemote bool
	// DataDir holds the JetStream store of the embedded server. Required
	// when URL is "".
	DataDir string
	// SyncInterval is how often JetStream fsyncs its files; 0 means the
	// server's default (2 minutes). See docs/bus.md for what each gives.
	SyncInterval time.Duration
	// SyncAlways fsyncs every write before it is acknowledged.
	SyncAlways bool

	// Samples stream limits: the oldest batches are dropped past either.
	MaxAge          time.Duration // 0 = DefaultMaxAge
	MaxBytes        int64         // 0 = DefaultMaxBytes
	DuplicateWindow time.Duration // 0 = DefaultDuplicateWindow
	Replicas        int           // external clusters only; 0 = 1

	// MaxPending bounds batches published but not yet acknowledged;
	// PublishBatch blocks when it is reached. 0 = DefaultMaxPending.
	MaxPending int
	// AckTimeout fails a publish whose ack has not come; 0 = DefaultAckTimeout.
	AckTimeout time.Duration
	// AckWait is how long the server waits for a consumer's ack before it
	// redelivers a batch (after a consumer crashed, say); 0 = DefaultAckWait.
	AckWait time.Duration

	Logger *slog.Logger // nil = slog.Default()
}

// Bus is an open bus: a NATS connection, and the embedded server if there
// is one. Its methods are safe for concurrent use.
type Bus struct {
	opts  Options
	log   *slog.Logger
	srv   *server.Server
	sopts *server.Options
	nc    *nats.Conn
	js    jetstream.JetStream

	clientURL  string
	mqttAddr   string
	connClosed chan struct{}

	sem    chan struct{} // one token per unacknowledged batch
	closed atomic.Bool
	once   sync.Once

	stats     counters
	errMu     sync.Mutex
	lastErr   error // the last asynchronous publish failure since Flush
	retryMu   sync.Mutex
	retries   map[*nats.Msg]int // batches being republished, by attempt
	subjects  sync.Map          // tag path → UNS subject ("" when invalid)
	nSubjects atomic.Int64
	logMu     sync.Mutex
	logNext   time.Time // rate limit of failure logs
}

// Open starts the embedded server (or connects to opts.URL), makes sure
// JetStream is there and creates or updates the samples stream.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bus{opts: o, log: o.Logger, connClosed: make(chan struct{}), sem: make(chan struct{}, o.MaxPending), retries: map[*nats.Msg]int{}}
	if o.URL == "" {
		if err := b.startServer(ctx); err != nil {
			return nil, err
		}
	} else {
		b.clientURL = o.URL
	}
	if err := b.connect(); err != nil {
		b.shutdownServer()
		return nil, err
	}
	if err := b.setupStreams(ctx); err != nil {
		b.nc.Close()
		b.shutdownServer()
		return nil, err
	}
	b.log.Info("bus open", "url", redact(b.clientURL), "mqtt", b.mqttAddr, "embedded", b.srv != nil)
	return b, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}

	if o.MaxAge < 0 || o.MaxBytes < 0 || o.DuplicateWindow < 0 || o.SyncInterval < 0 {
		return o, errcode.New(errcode.BusBadOptions, "bus limits and intervals must not be negative")
	}
	if o.URL != "" {
		return o, nil
	}
	if o.DataDir == "" {
		return o, errcode.New(errcode.BusBadOptions, "embedded bus needs a data folder for its jetstream store")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.MQTT == "off" {
		o.MQTT = ""
	}
	for _, a := range []struct{ what, addr string }{{"nats", o.Listen}, {"mqtt", o.MQTT}} {
		if a.addr == "" {
			continue
		}
		host, _, err := splitHostPort(a.addr)
		if err != nil {
			return o, errcode.Wrap(errcode.BusBadOptions, err, "bus %s listen address %q", a.what, a.addr)
		}
		if !o.AllowRemote && !isLoopback(host) {
			return o, errcode.New(errcode.BusRemoteListen, "bus %s listen address %q is not loopback and the embedded server has no authentication", a.what, a.addr)
		}
	}
	return o, nil
}

// splitHostPort returns host and port, with port -1 for "0" (the server's
// way to ask for a free port).
func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, errors.New("port must be a number from 0 to 65535")
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.User == nil {
		return u
	}
	return pu.Redacted()
}

// ClientURL is the NATS URL clients use: the embedded server's actual
// address (after port 0 was resolved) or the external URL.
func (b *Bus) ClientURL() string { return b.clientURL }

// MQTTAddr is the embedded MQTT listener's actual host:port, or "" when
// there is none.
func (b *Bus) MQTTAddr() string { return b.mqttAddr }

// Conn is the bus's NATS connection, shared with other parts. Do not close it.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context of Conn.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded reports whether this Bus runs the NATS server in-process.
func (b *Bus) Embedded() bool { return b.srv != nil }

func (b *Bus) connect() error {
	nopts := []nats.Option{
		nats.Name("otlink"),
		nats.DrainTimeout(10 * time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(b.connClosed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil && !b.closed.Load() {
				b.log.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { b.log.Info("bus reconnected") }),
	}
	if b.srv != nil {
		// In-process connection: no socket, no port to race for.
		nopts = append(nopts, nats.InProcessServer(b.srv))
	} else {
		nopts = append(nopts, nats.MaxReconnects(-1), nats.Timeout(5*time.Second))
	}
	nc, err := nats.Connect(b.clientURL, nopts...)
	if err != nil {
		return errcode.Wrap(errcode.BusConnectFailed, err, "connect to nats at %s", redact(b.clientURL))
	}
	b.nc = nc
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(2*b.opts.MaxPending), // our semaphore limits first, and listens to ctx
		jetstream.WithPublishAsyncTimeout(b.opts.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(b.onAck),
		jetstream.WithPublishAsyncErrHandler(b.onPublishErr),
		jetstream.WithDefaultTimeout(10*time.Second),
	)
	if err != nil {
		nc.Close()
		return errcode.Wrap(errcode.BusJetStreamDown, err, "open jetstream on %s", redact(b.clientURL))
	}
	b.js = js
	return nil
}

func (b *Bus) setupStreams(ctx context.Context) error {
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return errcode.Wrap(errcode.BusJetStreamDown, err, "jetstream on %s", redact(b.clientURL))
	}
	cfg := jetstream.StreamConfig{
		Name:        SamplesStream,
		Description: "otlink sample batches, schema " + SchemaHeader,
		Subjects:    []string{SamplesSubject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.opts.MaxAge,
		MaxBytes:    b.opts.MaxBytes,
		MaxMsgSize:  MaxPayload,
		Duplicates:  b.opts.DuplicateWindow,
		Replicas:    b.opts.Replicas,
	}
	if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return errcode.Wrap(errcode.BusStreamSetup, err, "create or update stream %s", SamplesStream)
	}
	return nil
}

// Close waits (up to 10 s) for outstanding publishes to be acknowledged,
// drains the connection and stops the embedded server. Publishing after
// Close fails with OTL-3007. It returns the flush error, if any.
func (b *Bus) Close() error {
	var err error
	b.once.Do(func() {
		b.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = b.Flush(ctx)
		if derr := b.nc.Drain(); derr == nil {
			select {
			case <-b.connClosed:
			case <-time.After(15 * time.Second):
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
		b.shutdownServer()
		b.log.Info("bus closed")
	})
	return err
}

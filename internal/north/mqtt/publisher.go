package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/bus"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// Options configure a Publisher.
type Options struct {
	Broker             string // tcp://host:1883 or ssl://host:8883
	ClientID           string
	Username, Password string
	CAFile             string // PEM CA for the broker's certificate
	CertFile, KeyFile  string // client certificate and key
	Sparkplug          bool   // false: UNS JSON
	TopicPrefix        string // UNS: prepended to the tag path
	Group, EdgeNode    string // Sparkplug ids
	QueueDir           string
	MaxQueueBytes      int64         // 0: 1 GiB
	Window             int           // batches in flight, 0: 64
	AckTimeout         time.Duration // 0: 10s
	Logger             *slog.Logger
}

// Publisher sends batches to an MQTT broker through a disk queue.
type Publisher struct {
	o      Options
	q      *queue
	node   *sparkplug.Node
	cmds   chan paho.Message
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New validates the options; it does no I/O.
func New(o Options) (*Publisher, error) {
	if o.Broker == "" || o.QueueDir == "" {
		return nil, errcode.New(errcode.NorthBadOptions, "mqtt north needs a broker and a queue folder")
	}
	if o.Sparkplug && (!sparkplug.ValidID(o.Group) || !sparkplug.ValidID(o.EdgeNode)) {
		return nil, errcode.New(errcode.NorthBadOptions, "sparkplug group %q and edge node %q must be non-empty without / + #", o.Group, o.EdgeNode)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errcode.New(errcode.NorthBadOptions, "client certificate and key go together")
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = 1 << 30
	}
	if o.Window <= 0 {
		o.Window = 64
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ClientID == "" {
		o.ClientID = "otlink-" + o.EdgeNode
	}
	return &Publisher{o: o, cmds: make(chan paho.Message, 16)}, nil
}

// TLSConfig builds the TLS config from the CA and client certificate files.
func TLSConfig(o Options) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, errcode.Wrap(errcode.NorthTLS, err, "read ca")
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errcode.New(errcode.NorthTLS, "ca %s holds no PEM certificate", o.CAFile)
		}
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, errcode.Wrap(errcode.NorthTLS, err, "load client certificate")
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Start opens the queue and starts the sender; ctx bounds nothing after
// Start returns (Close stops the sender).
func (p *Publisher) Start(ctx context.Context) error {
	var tc *tls.Config
	if strings.HasPrefix(p.o.Broker, "ssl://") || strings.HasPrefix(p.o.Broker, "tls://") || p.o.CAFile != "" || p.o.CertFile != "" {
		var err error
		if tc, err = TLSConfig(p.o); err != nil {
			return err
		}
	}
	q, err := openQueue(p.o.QueueDir, p.o.MaxQueueBytes)
	if err != nil {
		return err
	}
	q.log = p.o.Logger
	p.q = q
	if p.o.Sparkplug {
		p.node = sparkplug.NewNode(p.o.Group, p.o.EdgeNode, nextBdSeq(p.o.QueueDir))
	}
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(sctx, tc)
	return nil
}

// Publish queues a batch; it never waits for the broker.
func (p *Publisher) Publish(ctx context.Context, b *model.Batch) error {
	if p.q == nil {
		return errcode.New(errcode.NorthClosed, "publisher not started")
	}
	if len(b.Samples) == 0 {
		return nil
	}
	return p.q.append(encodeBatch(b))
}

// Pending reports whether queued batches wait for a PUBACK.
func (p *Publisher) Pending() bool { return p.q != nil && p.q.pending() }

// Close stops the sender; unsent batches stay in the queue for next time.
func (p *Publisher) Close() error {
	var err error
	p.once.Do(func() {
		if p.cancel != nil {
			p.cancel()
			<-p.done
			err = p.q.close()
		}
	})
	return err
}

func nowMs() uint64 { return uint64(time.Now().UnixMilli()) }

type inflight struct {
	at   pos
	toks []paho.Token
}

func (p *Publisher) run(ctx context.Context, tc *tls.Config) {
	defer close(p.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := p.session(ctx, tc)
		p.q.rewind()
		if ctx.Err() != nil {
			return
		}
		p.o.Logger.Warn("mqtt north session ended", "code", errcode.Of(err).String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// session connects once and sends until the connection breaks.
func (p *Publisher) session(ctx context.Context, tc *tls.Config) error {
	lost := make(chan struct{})
	var lostOnce sync.Once
	co := paho.NewClientOptions().AddBroker(p.o.Broker).SetClientID(p.o.ClientID).
		SetUsername(p.o.Username).SetPassword(p.o.Password).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetKeepAlive(10 * time.Second).SetMaxResumePubInFlight(p.o.Window).
		// paho's Publish waits WriteTimeout (0 means 30 s) to hand a message
		// to its writer; when the connection dies mid-batch nobody takes it,
		// and the sender sat silent for 30 s after a broker restart.
		SetWriteTimeout(p.o.AckTimeout).
		SetConnectionLostHandler(func(paho.Client, error) { lostOnce.Do(func() { close(lost) }) })
	if tc != nil {
		co.SetTLSConfig(tc)
	}
	if p.node != nil {
		will := p.node.Connect(nowMs())
		if err := saveBdSeq(p.o.QueueDir, p.node.BdSeq()); err != nil {
			return err
		}
		co.SetBinaryWill(will.Topic, will.Payload, 1, false)
	}
	c := paho.NewClient(co)
	if err := wait(ctx, c.Connect(), p.o.AckTimeout); err != nil {
		return errcode.Wrap(errcode.NorthConnectFailed, err, "connect %s", p.o.Broker)
	}
	defer func() {
		// Sparkplug: an edge node that leaves on purpose publishes its
		// NDEATH itself; the broker sends the will only when the
		// connection breaks.
		if p.node != nil && ctx.Err() != nil && c.IsConnectionOpen() {
			d := p.node.Death(nowMs())
			c.Publish(d.Topic, 1, false, d.Payload).WaitTimeout(time.Second)
		}
		c.Disconnect(250)
	}()
	send := func(ms []sparkplug.Message) []paho.Token {
		toks := make([]paho.Token, len(ms))
		for i, m := range ms {
			toks[i] = c.Publish(m.Topic, 1, false, m.Payload)
		}
		return toks
	}
	waitAll := func(toks []paho.Token) error {
		for _, t := range toks {
			if err := wait(ctx, t, p.o.AckTimeout); err != nil {
				return errcode.Wrap(errcode.NorthPublishFailed, err, "publish to %s", p.o.Broker)
			}
		}
		return nil
	}
	if p.node != nil {
		if err := wait(ctx, c.Subscribe(p.node.CommandTopic(), 1, func(_ paho.Client, m paho.Message) {
			select {
			case p.cmds <- m:
			default: // a flood of commands: one rebirth is enough
			}
		}), p.o.AckTimeout); err != nil {
			return errcode.Wrap(errcode.NorthConnectFailed, err, "subscribe %s", p.node.CommandTopic())
		}
		if err := waitAll(send(p.node.Birth(nowMs()))); err != nil {
			return err
		}
	}
	var win []inflight
	lastAt := p.q.ackPos()
	// flush waits for the PUBACKs of the oldest batches until at most keep
	// are in flight. When the window overflows it drains to half of it, so
	// the ack file is rewritten once per half window rather than once per
	// batch (a write and a rename each: the Sparkplug sender spent most of
	// its time there).
	flush := func(keep int) error {
		if len(win) <= keep {
			return nil
		}
		keep /= 2
		n := len(win) - keep
		for i := 0; i < n; i++ {
			if err := waitAll(win[i].toks); err != nil {
				if i > 0 {
					_ = p.q.acknowledge(win[i-1].at)
				}
				return err
			}
		}
		if err := p.q.acknowledge(win[n-1].at); err != nil {
			return err
		}
		win = win[n:]
		return nil
	}
	for {
		select {
		case m := <-p.cmds:
			if ms := p.command(m); len(ms) > 0 {
				win = append(win, inflight{at: lastAt, toks: send(ms)})
			}
		default:
		}
		rec, at, err := p.q.next()
		if err != nil {
			return err
		}
		lastAt = at
		if rec == nil {
			if err := flush(0); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-lost:
				return errcode.New(errcode.NorthConnectFailed, "connection to %s lost", p.o.Broker)
			case <-p.q.notify:
			case m := <-p.cmds:
				if ms := p.command(m); len(ms) > 0 {
					win = append(win, inflight{at: at, toks: send(ms)})
				}
			case <-time.After(time.Second):
			}
			continue
		}
		b, err := decodeBatch(rec)
		if err != nil {
			p.o.Logger.Warn("queue record skipped", "code", errcode.Of(err).String(), "err", err)
			win = append(win, inflight{at: at})
			continue
		}
		win = append(win, inflight{at: at, toks: send(p.messages(b))})
		if err := flush(p.o.Window); err != nil {
			return err
		}
	}
}

func (p *Publisher) command(m paho.Message) []sparkplug.Message {
	ms, err := p.node.Command(m.Topic(), m.Payload(), nowMs())
	if err != nil {
		p.o.Logger.Warn("sparkplug command ignored", "code", errcode.Of(err).String(), "err", err)
	}
	return ms
}

func (p *Publisher) messages(b *model.Batch) []sparkplug.Message {
	if p.node != nil {
		return p.node.Data(b, nowMs())
	}
	out := make([]sparkplug.Message, 0, len(b.Samples))
	for i := range b.Samples {
		s := &b.Samples[i]
		// The same payload as the embedded MQTT listener's UNS, so that
		// a consumer reads either broker alike.
		pl := bus.AppendUNSPayload(nil, s)
		out = append(out, sparkplug.Message{Topic: p.o.TopicPrefix + s.Tag, Payload: pl})
	}
	return out
}

func wait(ctx context.Context, t paho.Token, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errcode.New(errcode.NorthPublishFailed, "no acknowledgement within %s", d)
	}
}

// bdSeqFile holds the bdSeq of the last session, so that the first session
// after a restart uses the next one: a host must be able to tell the
// NDEATH of the old session from the birth of the new.
const bdSeqFile = "bdseq"

func nextBdSeq(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, bdSeqFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return (n + 1) % 256
}

func saveBdSeq(dir string, n uint64) error {
	tmp := filepath.Join(dir, bdSeqFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(n, 10)+"\n"), 0o640); err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "save bdSeq")
	}
	if err := os.Rename(tmp, filepath.Join(dir, bdSeqFile)); err != nil {
		return errcode.Wrap(errcode.NorthQueueIO, err, "save bdSeq")
	}
	return nil
}

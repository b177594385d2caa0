package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

// Conn is a session with one broker. Connect opens it; Subscribe routes
// its messages to the tags until ctx ends or the session breaks.
type Conn struct {
	dev      driver.DeviceSpec
	endpoint string
	o        options
	log      *slog.Logger

	mu      sync.Mutex
	client  paho.Client
	msgs    chan paho.Message
	lost    chan struct{}
	closed  chan struct{}
	stateMs int64 // sparkplug: timestamp of this session's STATE birth

	received, failed atomic.Uint64
	host             atomic.Pointer[hostStats]
	logNext          atomic.Int64 // rate limit of payload failure logs, Unix ns
}

// Stats are counters of a connection since it was opened.
type Stats struct {
	Received uint64 // messages handled
	Failed   uint64 // messages (or tags of them) that could not be decoded
	// Sparkplug host counters (zero in json mode).
	Malformed, Gaps, Rebirths, UnknownAlias, Deaths uint64
}

func newConn(dev driver.DeviceSpec, endpoint string, o options) *Conn {
	return &Conn{dev: dev, endpoint: endpoint, o: o, log: slog.Default().With("device", dev.Name, "driver", "mqtt")}
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	s := Stats{Received: c.received.Load(), Failed: c.failed.Load()}
	if h := c.host.Load(); h != nil {
		s.Malformed, s.Gaps, s.Rebirths, s.UnknownAlias, s.Deaths = h.Malformed, h.Gaps, h.Rebirths, h.UnknownAlias, h.Deaths
	}
	return s
}

func (c *Conn) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.o.ca != "" {
		pem, err := os.ReadFile(c.o.ca)
		if err != nil {
			return nil, errcode.Wrap(errcode.MQTTBadOptions, err, "read ca")
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errcode.New(errcode.MQTTBadOptions, "ca %s holds no PEM certificate", c.o.ca)
		}
	}
	if c.o.cert != "" {
		cert, err := tls.LoadX509KeyPair(c.o.cert, c.o.key)
		if err != nil {
			return nil, errcode.Wrap(errcode.MQTTBadOptions, err, "load client certificate")
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Connect opens the MQTT session. In sparkplug mode the will is the host's
// STATE death, retained, so that edge nodes learn when otlink goes away.
func (c *Conn) Connect(ctx context.Context) error {
	c.Close()
	pw, err := c.o.password()
	if err != nil {
		return err
	}
	timeout := c.dev.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	msgs, lost, closed := make(chan paho.Message, 256), make(chan struct{}), make(chan struct{})
	var lostOnce sync.Once
	co := paho.NewClientOptions().AddBroker(c.endpoint).SetClientID(c.o.clientID).
		SetUsername(c.o.username).SetPassword(pw).SetCleanSession(c.o.cleanSession).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(timeout).
		SetKeepAlive(c.o.keepAlive).SetWriteTimeout(timeout).
		SetConnectionLostHandler(func(paho.Client, error) { lostOnce.Do(func() { close(lost) }) }).
		// One handler for every subscription: in a persistent session
		// the broker sends queued messages right after CONNACK, before
		// Subscribe runs; they wait in msgs (bounded: paho waits when it
		// is full) instead of being acknowledged and dropped.
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case msgs <- m:
			case <-closed:
			}
		})
	if u := c.endpoint; strings.HasPrefix(u, "ssl://") || strings.HasPrefix(u, "tls://") || strings.HasPrefix(u, "mqtts://") ||
		strings.HasPrefix(u, "wss://") || c.o.ca != "" || c.o.cert != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return err
		}
		co.SetTLSConfig(tc)
	}
	stateMs := time.Now().UnixMilli()
	if c.o.mode == ModeSparkplug {
		co.SetBinaryWill(stateTopic(c.o.hostID), statePayload(false, stateMs), 1, true)
	}
	cl := paho.NewClient(co)
	if err := wait(ctx, cl.Connect(), timeout); err != nil {
		close(closed)
		return errcode.Wrap(errcode.MQTTConnectFailed, err, "connect %s", c.endpoint)
	}
	c.mu.Lock()
	c.client, c.msgs, c.lost, c.closed, c.stateMs = cl, msgs, lost, closed, stateMs
	c.mu.Unlock()
	return nil
}

// Read implements driver.Conn: an MQTT device is never polled.
func (c *Conn) Read(context.Context, uint32, uint32, uint32, []byte) ([]byte, error) {
	return nil, errcode.New(errcode.MQTTNoPolling, "device %s: mqtt values are pushed, not read", c.dev.Name)
}

// Close ends the session; in sparkplug mode it first publishes the host's
// STATE death, as Sparkplug asks of a host that leaves on purpose.
func (c *Conn) Close() error {
	c.mu.Lock()
	cl, closed, stateMs := c.client, c.closed, c.stateMs
	c.client = nil
	c.mu.Unlock()
	if cl == nil {
		return nil
	}
	close(closed)
	if c.o.mode == ModeSparkplug && cl.IsConnectionOpen() {
		cl.Publish(stateTopic(c.o.hostID), 1, true, statePayload(false, stateMs)).WaitTimeout(time.Second)
	}
	cl.Disconnect(250)
	return nil
}

// Subscribe implements driver.Subscriber.
func (c *Conn) Subscribe(ctx context.Context, items []driver.Item, report func(driver.Update)) error {
	c.mu.Lock()
	cl, msgs, lost, stateMs := c.client, c.msgs, c.lost, c.stateMs
	c.mu.Unlock()
	if cl == nil {
		return errcode.New(errcode.MQTTConnectionLost, "device %s: not connected", c.dev.Name)
	}
	timeout := c.dev.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	maxLen := func(int) int { return 0 }
	var handle func(topic string, payload []byte, out []driver.Update) ([]driver.Update, error)
	var filters []string
	var h *host
	if c.o.mode == ModeSparkplug {
		var err error
		if h, err = newHost(c.o.hostID, items, maxLen, c.o.rebirthEvery); err != nil {
			return err
		}
		filters = h.filters()
	} else {
		m, err := newJSONMap(items, maxLen, c.o.timestamp)
		if err != nil {
			return err
		}
		filters = m.order
		handle = m.handle
	}
	if len(filters) > 0 {
		fs := make(map[string]byte, len(filters))
		for _, f := range filters {
			fs[f] = c.o.qos
		}
		tok := cl.SubscribeMultiple(fs, nil)
		if err := wait(ctx, tok, timeout); err != nil {
			return errcode.Wrap(errcode.MQTTConnectFailed, err, "subscribe on %s", c.endpoint)
		}
		for f, code := range tok.(*paho.SubscribeToken).Result() {
			if code == 0x80 {
				return errcode.New(errcode.MQTTConnectFailed, "the broker refused the subscription %q (ACL?)", f)
			}
		}
	}
	if h != nil {
		if err := wait(ctx, cl.Publish(stateTopic(h.id), 1, true, statePayload(true, stateMs)), timeout); err != nil {
			return errcode.Wrap(errcode.MQTTConnectFailed, err, "publish host state")
		}
		// Ask every node for its births now rather than wait for its
		// next data: a report-by-exception node may be silent for hours.
		now := time.Now()
		var r result
		for _, k := range h.order {
			h.askRebirth(&r, k, h.nodes[k], now)
		}
		c.send(cl, r.cmds)
		c.host.Store(&hostStats{})
	}
	var buf []driver.Update
	process := func(m paho.Message) {
		c.received.Add(1)
		var err error
		if h != nil {
			r := h.handle(m.Topic(), m.Payload(), time.Now(), buf[:0])
			buf, err = r.updates, r.err
			c.send(cl, r.cmds)
			st := h.stats
			c.host.Store(&st)
		} else {
			buf, err = handle(m.Topic(), m.Payload(), buf[:0])
		}
		if err != nil {
			c.failed.Add(1)
			c.logFailure(err)
		}
		for _, u := range buf {
			report(u)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			// What arrived before the loss was acknowledged to the
			// broker: hand it on before reporting the loss.
			for n := len(msgs); n > 0; n-- {
				process(<-msgs)
			}
			return errcode.New(errcode.MQTTConnectionLost, "device %s: connection to %s lost", c.dev.Name, c.endpoint)
		case m := <-msgs:
			process(m)
		}
	}
}

// send publishes host commands without waiting: a rebirth request that is
// lost is asked again at the next gap.
func (c *Conn) send(cl paho.Client, ms []sparkplug.Message) {
	for _, m := range ms {
		cl.Publish(m.Topic, 0, false, m.Payload)
	}
}

// logFailure logs a payload failure at most once every 10 s per
// connection: a publisher of bad payloads must not flood the log.
func (c *Conn) logFailure(err error) {
	now := time.Now().UnixNano()
	next := c.logNext.Load()
	if now < next || !c.logNext.CompareAndSwap(next, now+int64(10*time.Second)) {
		return
	}
	c.log.Warn("mqtt payload not usable", "code", errcode.Of(err).String(), "err", err)
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
		return errcode.New(errcode.MQTTConnectFailed, "no answer from the broker within %s", d)
	}
}

var (
	_ driver.Conn       = (*Conn)(nil)
	_ driver.Subscriber = (*Conn)(nil)
)

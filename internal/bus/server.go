package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/otlink/otlink/internal/errcode"
)

func (b *Bus) startServer(ctx context.Context) error {
	o := b.opts
	host, port, _ := splitHostPort(o.Listen) // validated in withDefaults
	sopts := &server.Options{
		ServerName:   serverName,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     o.DataDir,
		SyncInterval: o.SyncInterval,
		SyncAlways:   o.SyncAlways,
		MaxPayload:   MaxPayload,
		NoSigs:       true, // the app owns signals
	}
	// Try the ports first: the server only logs a listen failure, and
	// saying which port is taken is the useful part of the message.
	if err := probe("nats", o.Listen); err != nil {
		return err
	}
	if o.MQTT != "" {
		mh, mp, _ := splitHostPort(o.MQTT)
		sopts.MQTT = server.MQTTOpts{Host: mh, Port: mp}
		if err := probe("mqtt", o.MQTT); err != nil {
			return err
		}
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return errcode.Wrap(errcode.BusStartFailed, err, "configure embedded nats server")
	}
	lg := &srvLogger{log: b.log, fatal: make(chan string, 1)}
	srv.SetLoggerV2(lg, false, false, false)
	b.srv, b.sopts = srv, sopts

	timeout := DefaultStartTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	// Start recovers the JetStream store before it returns; that can take
	// a while with a large store, so it runs aside while we watch ctx.
	started := make(chan struct{})
	go func() { srv.Start(); close(started) }()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case msg := <-lg.fatal:
			b.shutdownServer()
			if strings.Contains(msg, "address already in use") {
				return errcode.New(errcode.BusPortInUse, "start embedded nats server: %s", msg)
			}
			return errcode.New(errcode.BusStartFailed, "start embedded nats server: %s", msg)
		case <-ctx.Done():
			b.shutdownServer()
			return errcode.Wrap(errcode.BusStartFailed, ctx.Err(), "start embedded nats server")
		case <-started:
			started = nil // keep watching for readiness
		case <-time.After(20 * time.Millisecond):
		}
		if started == nil && srv.ReadyForConnections(time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			b.shutdownServer()
			return errcode.New(errcode.BusStartFailed, "embedded nats server not ready after %s", timeout)
		}
	}
	if !srv.JetStreamEnabled() {
		b.shutdownServer()
		return errcode.New(errcode.BusJetStreamDown, "embedded nats server started without jetstream (store %s)", o.DataDir)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		b.shutdownServer()
		return errcode.New(errcode.BusStartFailed, "embedded nats server has no client listener")
	}
	b.clientURL = "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	if o.MQTT != "" {
		// The server writes the port it got back into its options, under
		// the lock ReadyForConnections took after it.
		mh, _, _ := splitHostPort(o.MQTT)
		b.mqttAddr = net.JoinHostPort(mh, strconv.Itoa(sopts.MQTT.Port))
	}
	return nil
}

func probe(what, addr string) error {
	if _, p, _ := splitHostPort(addr); p == server.RANDOM_PORT {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return errcode.Wrap(errcode.BusPortInUse, err, "embedded %s listener: port %s is taken", what, addr)
		}
		return errcode.Wrap(errcode.BusStartFailed, err, "embedded %s listener on %s", what, addr)
	}
	l.Close()
	return nil
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// srvLogger sends the NATS server's log to slog. Its notices are start-up
// chatter, so they go to debug; Fatalf must not exit the process (the
// server's own logger would), it reports to Open instead.
type srvLogger struct {
	log   *slog.Logger
	fatal chan string
}

func (l *srvLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "proto", "nats")
}
func (l *srvLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "proto", "nats")
}
func (l *srvLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "proto", "nats")
}
func (l *srvLogger) Debugf(format string, v ...any) {}
func (l *srvLogger) Tracef(format string, v ...any) {}
func (l *srvLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "proto", "nats")
	select {
	case l.fatal <- msg:
	default:
	}
}

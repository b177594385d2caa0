package monitor

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/detect"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
)

// serve answers every Modbus request with exception 1 until the listener closes.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			h := make([]byte, 7)
			for {
				if _, err := io.ReadFull(c, h); err != nil {
					return
				}
				body := make([]byte, binary.BigEndian.Uint16(h[4:])-1)
				if _, err := io.ReadFull(c, body); err != nil || len(body) == 0 {
					return
				}
				resp := append(append([]byte{}, h[:4]...), 0, 3, h[6], body[0]|0x80, 1)
				c.Write(resp)
			}
		}()
	}
}

// request sends one Modbus/TCP PDU from local to srv and waits for the answer.
func request(t *testing.T, local, srv string, pdu []byte) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := binary.BigEndian.AppendUint16([]byte{0, 1, 0, 0}, uint16(len(pdu)+1))
	f = append(append(f, 1), pdu...)
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(f); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(c, make([]byte, 9))
}

func TestLiveLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root or CAP_NET_RAW")
	}
	// A port free on every address used.
	l0, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l0.Addr().(*net.TCPAddr).Port
	go serve(l0)
	defer l0.Close()
	servers := []string{l0.Addr().String()}
	for _, ip := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, itoa(port)))
		if err != nil {
			t.Skipf("port %d not free on %s: %v", port, ip, err)
		}
		defer l.Close()
		go serve(l)
		servers = append(servers, l.Addr().String())
	}

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	alerts := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(AlertSubject, alerts)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	dir := t.TempDir()
	lg, err := integrity.Open(dir+"/integrity", integrity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	audit := func(ctx context.Context, e integrity.Entry) error { _, err := lg.Append(ctx, e); return err }

	cfg := config.Monitor{Interfaces: []config.MonitorInterface{{Name: "lo", BPF: "tcp port " + itoa(port)}}, Learn: config.Duration(1500 * time.Millisecond)}
	m, err := Start(context.Background(), cfg, Options{Bus: nc, Audit: audit, DataDir: dir})
	if err != nil {
		if errcode.Of(err) == errcode.MonitorStart {
			t.Skipf("no live capture here: %v", err)
		}
		t.Fatal(err)
	}
	defer m.Close()

	// Learning: a reading client.
	request(t, "127.0.0.10", servers[0], []byte{3, 0, 0, 0, 2})
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Learning && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m.Stats().Learning {
		t.Fatal("still learning after 10 s")
	}
	// An identity scan of four hosts, then a write from a new client.
	for _, s := range servers {
		request(t, "127.0.0.20", s, []byte{43, 14, 1, 0})
	}
	request(t, "127.0.0.30", servers[0], []byte{6, 0, 1, 0, 42})
	// The learned reader polls 40 times at once: an unusual rate against
	// its learned peak (1 a minute), and 40 exceptions back: a storm.
	for range 40 {
		request(t, "127.0.0.10", servers[0], []byte{3, 0, 0, 0, 2})
	}

	want := map[string]bool{"identity_scan": false, "new_writer": false, "unusual_rate": false, "exception_storm": false}
	ids := map[string]string{}
	timeout := time.After(15 * time.Second)
	for !want["identity_scan"] || !want["new_writer"] || !want["unusual_rate"] || !want["exception_storm"] {
		select {
		case msg := <-alerts:
			var a detect.Alert
			if err := json.Unmarshal(msg.Data, &a); err != nil {
				t.Fatalf("alert is not JSON: %v", err)
			}
			if _, ok := want[a.Detection]; ok {
				want[a.Detection] = true
				ids[a.Detection] = a.ID
				if a.Detection == "identity_scan" && !strings.Contains(strings.Join(a.Techniques, ","), "T0846") {
					t.Errorf("identity scan techniques %v", a.Techniques)
				}
			}
		case <-timeout:
			t.Fatalf("alerts seen: %v", want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == integrity.KindAudit && e.Actor == Actor && e.Action == "alert" {
			found[e.Object] = true
		}
	}
	for det, id := range ids {
		if !found[id] {
			t.Errorf("no audit entry for %s alert %s", det, id)
		}
	}
	if _, err := os.Stat(dir + "/monitor/baseline.json"); err != nil {
		t.Errorf("learned baseline not saved: %v", err)
	}
	if s := m.Stats(); s.Packets == 0 || s.Protos["modbus"].PDUs == 0 {
		t.Errorf("stats %+v", s)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

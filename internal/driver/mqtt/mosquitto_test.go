package mqtt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/north/mosquitto"
	northmqtt "github.com/otlink/otlink/internal/north/mqtt"
	"github.com/otlink/otlink/internal/north/sparkplug"
)

func broker(t *testing.T) *mosquitto.Broker {
	t.Helper()
	if !mosquitto.Installed() {
		t.Skip("mosquitto not installed (apt-get install mosquitto): skipping the broker interoperability test")
	}
	b, err := mosquitto.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// sink collects what a subscription reports.
type sink struct {
	mu   sync.Mutex
	last map[int]driver.Update
	all  []driver.Update
}

func (s *sink) report(u driver.Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[int]driver.Update{}
	}
	s.last[u.Item] = u
	s.all = append(s.all, u)
}

// waitFor polls cond every 20 ms for up to 10 s.
func (s *sink) waitFor(t *testing.T, what string, cond func(last map[int]driver.Update) bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		s.mu.Lock()
		ok := cond(s.last)
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("%s: not seen within 10s; last updates %+v", what, s.last)
}

// runLikeEngine does what the acquisition engine does with a subscribing
// connection: connect, subscribe, and on failure reconnect with back-off,
// until ctx ends.
func runLikeEngine(ctx context.Context, c driver.Conn, its []driver.Item, report func(driver.Update)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		for ctx.Err() == nil {
			if err := c.Connect(ctx); err == nil {
				if err := c.(driver.Subscriber).Subscribe(ctx, its, report); err == nil {
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return done
}

func open(t *testing.T, b *mosquitto.Broker, opts map[string]string, its []driver.Item) driver.Conn {
	t.Helper()
	dev := driver.DeviceSpec{Name: "press", Endpoint: b.URL(), Timeout: 2 * time.Second, Options: opts}
	for i := range its {
		p, err := Driver{}.Resolve(dev, driver.TagSpec{Name: its[i].Tag, Address: its[i].Address, Type: its[i].Point.Type})
		if err != nil {
			t.Fatal(err)
		}
		its[i].Point = p
	}
	c, err := Driver{}.Open(dev, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMosquittoJSON: mosquitto_pub (an independent client) publishes JSON
// and plain payloads that reach the tags; a malformed one gives a bad
// value with its code; the broker is stopped and started and values flow
// again after the reconnect.
func TestMosquittoJSON(t *testing.T) {
	b := broker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	its := items([]model.Type{model.Float64, model.String}, "plant/press/temp#$.value#$.ts", "plant/press/state")
	c := open(t, b, nil, its)
	var s sink
	done := runLikeEngine(ctx, c, its, s.report)
	// The subscription is in place once a retained message arrives.
	if err := b.Pub(ctx, "plant/press/state", "RUNNING", true); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "retained state", func(l map[int]driver.Update) bool { return l[1].Value.Str() == "RUNNING" })
	if err := b.Pub(ctx, "plant/press/temp", `{"value": 71.25, "ts": "2024-05-01T08:00:00.5Z"}`, false); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "temp", func(l map[int]driver.Update) bool {
		return l[0].Quality == model.Good && l[0].Value.Float() == 71.25 && l[0].Source == time.Date(2024, 5, 1, 8, 0, 0, 5e8, time.UTC).UnixNano()
	})
	if err := b.Pub(ctx, "plant/press/temp", `{"value": 71.`, false); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "malformed", func(l map[int]driver.Update) bool {
		return l[0].Quality == model.BadDecodingError && errcode.Code(l[0].Code) == errcode.MQTTBadJSON
	})
	if st := c.(*Conn).Stats(); st.Failed != 1 || st.Received < 3 {
		t.Fatalf("stats %+v", st)
	}

	b.Stop()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	// Publish until the reconnected subscription delivers (bounded).
	for i := 0; i < 100; i++ {
		if err := b.Pub(ctx, "plant/press/temp", fmt.Sprintf(`{"value": %d}`, 1000+i), false); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		v := s.last[0].Value.Float()
		s.mu.Unlock()
		if v >= 1000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.waitFor(t, "value after broker restart", func(l map[int]driver.Update) bool { return l[0].Value.Float() >= 1000 })
	cancel()
	<-done
}

// TestSparkplugRoundTrip: otlink's own Sparkplug edge node (north) →
// mosquitto → the host driver. The host publishes its STATE, reads the
// births, detects a forced seq gap and asks for a rebirth, which the node
// answers; the node's NDEATH turns the tag bad; the host's STATE goes
// offline when it closes.
func TestSparkplugRoundTrip(t *testing.T) {
	b := broker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// An observer: the host's STATE and the node's NBIRTHs.
	var mu sync.Mutex
	var states []string
	births := 0
	oo := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("observer")
	oo.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(m.Topic(), "STATE") {
			states = append(states, string(m.Payload()))
		} else {
			births++
		}
	})
	obs := paho.NewClient(oo)
	if tok := obs.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("observer", tok.Error())
	}
	defer obs.Disconnect(100)
	if tok := obs.SubscribeMultiple(map[string]byte{"spBv1.0/STATE/#": 1, "spBv1.0/g/NBIRTH/e": 1}, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("observer subscribe", tok.Error())
	}
	observed := func(cond func() bool, what string) {
		t.Helper()
		for i := 0; i < 500; i++ {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s not observed: states %v, births %d", what, states, births)
	}

	its := items([]model.Type{model.Float64}, "g/e/press/line1/temp")
	host := open(t, b, map[string]string{"mode": "sparkplug", "host_id": "scada1", "rebirth_interval": "100ms"}, its)
	var s sink
	done := runLikeEngine(ctx, host, its, s.report)
	observed(func() bool { return len(states) > 0 && strings.Contains(states[len(states)-1], `"online":true`) }, "host STATE online")

	pub, err := northmqtt.New(northmqtt.Options{Broker: b.URL(), ClientID: "edge", Sparkplug: true, Group: "g", EdgeNode: "e",
		QueueDir: filepath.Join(t.TempDir(), "q"), AckTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publish := func(v float64) {
		t.Helper()
		if err := pub.Publish(ctx, batch("press", map[string]float64{"line1/temp": v})); err != nil {
			t.Fatal(err)
		}
	}
	publish(1)
	s.waitFor(t, "value from DBIRTH", func(l map[int]driver.Update) bool { return l[0].Quality == model.Good && l[0].Value.Float() == 1 })
	publish(2)
	s.waitFor(t, "value from DDATA", func(l map[int]driver.Update) bool { return l[0].Value.Float() == 2 })
	observed(func() bool { return births == 1 }, "one NBIRTH")

	// Force a gap: a DDATA with a seq the host does not expect.
	bogus := sparkplug.Payload{Timestamp: 1, HasSeq: true, Seq: 200}
	if tok := obs.Publish("spBv1.0/g/DDATA/e/press", 1, false, bogus.Marshal(nil)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// The host's rebirth request (NCMD) goes at QoS 0, as Sparkplug
	// requires, so a loaded machine may lose it; the host asks again at
	// the next out-of-order message (at most once per rebirth_interval).
	// Keep the edge publishing until the new birth shows.
	for i := 0; i < 50; i++ {
		mu.Lock()
		n := births
		mu.Unlock()
		if n >= 2 {
			break
		}
		publish(2.5)
		time.Sleep(200 * time.Millisecond)
	}
	observed(func() bool { return births >= 2 }, "the NBIRTH the rebirth request asked for")
	if st := host.(*Conn).Stats(); st.Gaps < 1 || st.Rebirths < 1 {
		t.Fatalf("host stats after the gap: %+v", st)
	}
	publish(3)
	s.waitFor(t, "value after rebirth", func(l map[int]driver.Update) bool { return l[0].Quality == model.Good && l[0].Value.Float() == 3 })

	// The node leaves: its NDEATH makes the tag bad.
	pub.Close()
	s.waitFor(t, "NDEATH", func(l map[int]driver.Update) bool {
		return l[0].Quality == model.BadNotConnected && errcode.Code(l[0].Code) == errcode.MQTTNodeDead
	})
	cancel()
	<-done
	observed(func() bool { return strings.Contains(states[len(states)-1], `"online":false`) }, "host STATE offline")
}

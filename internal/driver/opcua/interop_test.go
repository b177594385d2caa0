package opcua

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/driver"
	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/uatrust"
)

type tagDef struct {
	addr string
	typ  model.Type
}

var machineTags = []tagDef{
	{"ns=1;s=Machine.Speed", model.Float64},
	{"ns=1;s=Machine.Counter", model.Int32},
	{"ns=1;s=Machine.Running", model.Bool},
	{"ns=1;s=Machine.Name", model.String},
	{"ns=1;s=Machine.Setpoint", model.Float64},
	{"ns=1;s=Machine.Mode", model.Int16},
}

// open resolves tags on a fresh driver and opens a connection.
func open(t *testing.T, name, endpoint string, opts map[string]string, tags []tagDef) (*Conn, []driver.Point) {
	t.Helper()
	d := New()
	dev := driver.DeviceSpec{Name: name, Endpoint: endpoint, Timeout: 5 * time.Second, Options: opts}
	var pts []driver.Point
	for _, tg := range tags {
		p, err := d.Resolve(dev, driver.TagSpec{Name: tg.addr, Address: tg.addr, Type: tg.typ})
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, p)
	}
	c, err := d.Open(dev, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*Conn), pts
}

func readAll(t *testing.T, c *Conn, pts []driver.Point) []model.Value {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	block, err := c.Read(ctx, space, 0, uint32(len(pts)), nil)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	out := make([]model.Value, len(pts))
	for i, p := range pts {
		v, err := p.Codec.Decode(block, p.Start)
		if err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		out[i] = v
	}
	return out
}

func TestInteropNodeOPCUA(t *testing.T) {
	p := startPeer(t)
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	secure := func(policy, mode string) map[string]string {
		return map[string]string{"security_policy": policy, "security_mode": mode, "data_dir": data, "mode": "poll"}
	}

	// Trust: unknown server certificate refused with the command to run.
	c, _ := open(t, "first", p.endpoint(), secure("Basic256Sha256", "SignAndEncrypt"), machineTags)
	err := c.Connect(ctx)
	if errcode.Of(err) != errcode.UACertUntrusted || !strings.Contains(err.Error(), "otlink certs trust ") {
		t.Fatalf("connect to an unknown server: %v, want %s", err, errcode.UACertUntrusted)
	}
	st, err := uatrust.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := st.List()
	if len(l) != 1 || l[0].State != uatrust.DirRejected {
		t.Fatalf("after refusal the store lists %+v, want one rejected certificate", l)
	}
	if _, err := st.Trust(l[0].Thumbprint); err != nil {
		t.Fatal(err)
	}

	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ policy, mode, auth string }{
		{"None", "None", "anonymous"},
		{"None", "None", "username"},
		{"Basic256Sha256", "Sign", "anonymous"},
		{"Basic256Sha256", "SignAndEncrypt", "anonymous"},
		{"Basic256Sha256", "SignAndEncrypt", "username"},
		{"Aes128_Sha256_RsaOaep", "Sign", "anonymous"},
		{"Aes128_Sha256_RsaOaep", "SignAndEncrypt", "username"},
		{"Aes256_Sha256_RsaPss", "Sign", "anonymous"},
		{"Aes256_Sha256_RsaPss", "SignAndEncrypt", "username"},
	}
	for _, k := range cases {
		t.Run(k.policy+"_"+k.mode+"_"+k.auth, func(t *testing.T) {
			o := secure(k.policy, k.mode)
			if k.auth == "username" {
				o["auth"], o["username"], o["password_file"] = "username", "operator", pass
			}
			c, pts := open(t, "m", p.endpoint(), o, machineTags)
			if err := c.Connect(ctx); err != nil {
				t.Fatalf("connect: %v", err)
			}
			v := readAll(t, c, pts)
			if v[0].Float() < 1000 || v[3].String() != "press-1" || !v[2].Bool() || v[5].T != model.Int16 {
				t.Fatalf("values %v", v)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		t.Setenv("OTLINK_TEST_PASS", "wrong")
		o := secure("Basic256Sha256", "SignAndEncrypt")
		o["auth"], o["username"], o["password_env"] = "username", "operator", "OTLINK_TEST_PASS"
		c, _ := open(t, "m", p.endpoint(), o, machineTags)
		if err := c.Connect(ctx); errcode.Of(err) != errcode.UAAuth {
			t.Fatalf("connect with a wrong password: %v, want %s", err, errcode.UAAuth)
		}
	})

	t.Run("identify and write", func(t *testing.T) {
		c, pts := open(t, "m", p.endpoint(), secure("Aes256_Sha256_RsaPss", "SignAndEncrypt"), machineTags)
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		id, err := c.Identify(ctx)
		if err != nil || id.Vendor != "node-opcua" || id.Product != "otlink-test-peer" {
			t.Fatalf("identify: %+v %v", id, err)
		}
		if err := c.Write(ctx, pts[4], model.FloatValue(model.Float64, 77.25)); err != nil {
			t.Fatal(err)
		}
		// an int64 value into an Int16 node: converted to the node's type
		if err := c.Write(ctx, pts[5], model.IntValue(model.Int16, -3)); err != nil {
			t.Fatal(err)
		}
		v := readAll(t, c, pts)
		if v[4].Float() != 77.25 || v[5].Int() != -3 {
			t.Fatalf("read back %v %v", v[4], v[5])
		}
		if err := c.Write(ctx, pts[5], model.IntValue(model.Int32, 70000)); errcode.Of(err) != errcode.UATypeMismatch {
			t.Fatalf("70000 into an Int16 node: %v, want %s", err, errcode.UATypeMismatch)
		}
		if err := c.Write(ctx, pts[0], model.FloatValue(model.Float64, 1)); errcode.Of(err) != errcode.UANotWritable {
			t.Fatalf("write to a read-only node: %v, want %s", err, errcode.UANotWritable)
		}
	})

	t.Run("unknown node", func(t *testing.T) {
		c, pts := open(t, "m", p.endpoint(), secure("None", "None"), []tagDef{{"ns=1;s=Nope", model.Float64}})
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		block, err := c.Read(ctx, space, 0, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pts[0].Codec.Decode(block, 0); errcode.Of(err) != errcode.UABadStatus || !strings.Contains(strings.ToLower(err.Error()), "badnodeidunknown") {
			t.Fatalf("unknown node: %v", err)
		}
	})

	t.Run("subscribe and restart", func(t *testing.T) {
		o := secure("Basic256Sha256", "SignAndEncrypt")
		delete(o, "mode")
		// A node server restarting on a loaded 2-core machine can take
		// longer than the default 30s; the session must come back by itself.
		o["reconnect_timeout"] = "70s"
		c, pts := open(t, "m", p.endpoint(), o, machineTags[:2])
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		items := []driver.Item{
			{Point: pts[0], Address: machineTags[0].addr, Interval: 100 * time.Millisecond, Deadband: 0.5},
			{Point: pts[1], Address: machineTags[1].addr, Interval: 200 * time.Millisecond},
			{Point: pts[1], Address: "ns=1;s=Missing", Interval: 200 * time.Millisecond},
		}
		var mu sync.Mutex
		var got []driver.Update
		sctx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			errc <- c.Subscribe(sctx, items, func(u driver.Update) {
				mu.Lock()
				got = append(got, u)
				mu.Unlock()
			})
		}()
		// wait until cond holds on the updates seen since from
		wait := func(what string, from int, cond func([]driver.Update) bool) int {
			t.Helper()
			for range 700 {
				mu.Lock()
				n := len(got)
				ok := cond(got[from:])
				mu.Unlock()
				if ok {
					return n
				}
				select {
				case err := <-errc:
					t.Fatalf("subscribe ended: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
			}
			t.Fatalf("timed out waiting for %s", what)
			return 0
		}
		flowing := func(us []driver.Update) bool {
			seen := map[int64]bool{}
			for _, u := range us {
				if u.Item == 1 && u.Quality == model.Good && u.Value.T == model.Int32 {
					seen[u.Value.Int()] = true
				}
			}
			return len(seen) >= 3
		}
		n := wait("counter changes", 0, flowing)
		mu.Lock()
		var missing bool
		for _, u := range got {
			missing = missing || (u.Item == 2 && u.Quality.IsBad() && u.Code == uint16(errcode.UABadStatus))
		}
		mu.Unlock()
		if !missing {
			t.Error("a node the server does not have was not reported bad")
		}

		p.restart()
		n = wait("not connected", n, func(us []driver.Update) bool {
			for _, u := range us {
				if u.Quality == model.BadNotConnected {
					return true
				}
			}
			return false
		})
		wait("values after the server restarted", n, flowing)
		stop()
		if err := <-errc; err != nil {
			t.Fatalf("subscribe returned %v after its context ended", err)
		}
	})
}

package mosquitto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"time"
)

// ErrNotInstalled means no mosquitto binary is on the PATH.
var ErrNotInstalled = errors.New("mosquitto not installed (apt-get install mosquitto)")

// Broker is a running mosquitto.
type Broker struct {
	Dir  string
	Port int
	conf string
	cmd  *exec.Cmd
}

// Installed reports whether mosquitto is on the PATH.
func Installed() bool {
	_, err := exec.LookPath("mosquitto")
	return err == nil
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start writes a config into dir and starts mosquitto on a free loopback
// port, with persistence in dir and no queue limits (Debian's default
// limit drops QoS 1 messages in a burst).
//
// The "user" line matters: mosquitto started as root drops to the
// "mosquitto" user, which cannot write into a 0700 root folder, so it
// silently fails to save its persistence file and every persistent
// session is gone after a restart. Naming the current user keeps root as
// root; for a non-root user mosquitto ignores the line.
func Start(dir string) (*Broker, error) {
	if !Installed() {
		return nil, ErrNotInstalled
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	b := &Broker{Dir: dir, Port: port, conf: filepath.Join(dir, "mosquitto.conf")}
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\n"+
		"persistence true\npersistence_location %s/\npersistence_file m.db\n"+
		"max_queued_messages 0\nmax_inflight_messages 0\n"+
		"log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
		port, u.Username, dir, filepath.Join(dir, "mosquitto.log"))
	if err := os.WriteFile(b.conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	return b, b.Restart()
}

// URL is tcp://127.0.0.1:port.
func (b *Broker) URL() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.Port) }

// Restart starts the broker again after Stop, on the same port and with
// the same persistence file.
func (b *Broker) Restart() error {
	cmd := exec.Command("mosquitto", "-c", b.conf)
	if err := cmd.Start(); err != nil {
		return err
	}
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), time.Second); err == nil {
			c.Close()
			b.cmd = cmd
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	return fmt.Errorf("mosquitto did not listen on port %d within 5s:\n%s", b.Port, b.Log())
}

// Stop stops the broker with SIGTERM (what kill and systemd send);
// mosquitto saves its persistence file before it exits.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	b.cmd = nil
}

// Log returns the broker's log so far.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "mosquitto.log"))
	return string(data)
}

// Pub runs mosquitto_pub once: an independent client publishing payload
// on topic at QoS 1.
func (b *Broker) Pub(ctx context.Context, topic, payload string, retain bool) error {
	args := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-q", "1", "-t", topic, "-m", payload}
	if retain {
		args = append(args, "-r")
	}
	out, err := exec.CommandContext(ctx, "mosquitto_pub", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_pub: %v: %s", err, out)
	}
	return nil
}

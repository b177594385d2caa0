// Package nodepeer runs the independent OPC UA server of
// scripts/node-opcua (node-opcua) for tests and benchmarks. It installs
// node-opcua with npm into a cache folder outside the repository on first
// use and starts the script on a free loopback port.
//
// It must not be imported by production code: it runs node and npm.
package nodepeer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrUnavailable wraps every reason the peer cannot run here (no node, no
// npm, registry unreachable); tests skip on it.
var ErrUnavailable = errors.New("node-opcua peer unavailable")

var (
	once    sync.Once
	mods    string
	instErr error
)

// scriptDir is scripts/node-opcua of the repository this file is in.
func scriptDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "scripts", "node-opcua")
}

// Install installs node-opcua once per package.json and lock and returns
// its node_modules folder.
func Install() (string, error) {
	once.Do(func() { mods, instErr = install() })
	return mods, instErr
}

func install() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w: node is not installed", ErrUnavailable)
	}
	pkg, err := os.ReadFile(filepath.Join(scriptDir(), "package.json"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	lock, _ := os.ReadFile(filepath.Join(scriptDir(), "package-lock.json"))
	sum := sha256.Sum256(append(pkg, lock...))
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "otlink", "node-opcua-"+hex.EncodeToString(sum[:6]))
	m := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(m, "node-opcua", "package.json")); err == nil {
		return m, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("%w: npm is not installed", ErrUnavailable)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		return "", err
	}
	args := []string{"install", "--no-audit", "--no-fund", "--prefix", dir}
	if lock != nil {
		if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644); err != nil {
			return "", err
		}
		args[0] = "ci"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: npm %s: %v: %s", ErrUnavailable, args[0], err, tail(out))
	}
	return m, nil
}

func tail(b []byte) string {
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return string(b)
}

// Server is a running node-opcua server.
type Server struct {
	Port int
	PKI  string // the server's certificate folder, kept across Restart
	env  []string
	mods string
	cmd  *exec.Cmd
	out  *strings.Builder
}

// Endpoint returns the server's endpoint URL.
func (s *Server) Endpoint() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d/otlink", s.Port) }

// Start installs the peer if needed and starts it with its certificates in
// pki; env adds settings such as BENCH=10000 (see server.js).
func Start(ctx context.Context, pki string, env ...string) (*Server, error) {
	m, err := Install()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Port: port, PKI: pki, env: env, mods: m}
	return s, s.start(ctx)
}

func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command("node", filepath.Join(scriptDir(), "server.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+s.mods, fmt.Sprintf("PORT=%d", s.Port), "PKI="+s.PKI)
	cmd.Env = append(cmd.Env, s.env...)
	s.out = &strings.Builder{}
	cmd.Stderr = &lockedWriter{b: s.out}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "READY") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case ok := <-ready:
		if ok {
			return nil
		}
		s.Stop()
		return fmt.Errorf("node-opcua server exited: %s", s.stderr())
	case <-t.C:
	case <-ctx.Done():
	}
	s.Stop()
	return fmt.Errorf("node-opcua server not ready: %s", s.stderr())
}

func (s *Server) stderr() string {
	if w, ok := s.cmd.Stderr.(*lockedWriter); ok {
		return tail([]byte(w.String()))
	}
	return ""
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port with the
// same certificate, as a crashed and restarted device would.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.start(ctx)
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 1<<20 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

package pg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testDSN is the server the tests use: OTLINK_PG_DSN, or a throwaway
// server started by scripts/pg-test-server for this run.
var (
	testDSN    string
	skipReason string
	schemaSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	testDSN = os.Getenv("OTLINK_PG_DSN")
	if testDSN != "" {
		return m.Run()
	}
	script, err := filepath.Abs("../../../scripts/pg-test-server")
	if err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	// Not t.TempDir: when root runs the tests the server runs as postgres,
	// which must reach the directory, and MkdirTemp's 0700 parents hide it.
	dir, err := os.MkdirTemp("", "otlink-pg-")
	if err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	data := filepath.Join(dir, "pg")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "start", data).Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		skipReason = "PostgreSQL 15 is not installed and cannot be installed: " + strings.TrimSpace(string(ee.Stderr))
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "pg-test-server start: %v\n", err)
		if ee != nil {
			os.Stderr.Write(ee.Stderr)
		}
		return 1
	}
	defer func() {
		stop := exec.Command(script, "stop", data)
		stop.Stderr = os.Stderr
		if err := stop.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "pg-test-server stop: %v\n", err)
		}
	}()
	testDSN = strings.TrimSpace(string(out))
	return m.Run()
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// openTest opens a store in a schema of its own, dropped after the test,
// so that tests neither see each other's data nor leave any behind.
func openTest(tb testing.TB, opt Options) *Store {
	tb.Helper()
	if skipReason != "" {
		tb.Skip(skipReason)
	}
	if opt.Schema == "" {
		name := unsafeChars.ReplaceAllString(strings.ToLower(tb.Name()), "_")
		if len(name) > 40 {
			name = name[len(name)-40:]
		}
		opt.Schema = fmt.Sprintf("t%d_%d_%s", os.Getpid()%10000, schemaSeq.Add(1), name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, testDSN, opt)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		st.Close()
		dropSchema(tb, opt.Schema)
	})
	return st
}

func dropSchema(tb testing.TB, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, testDSN, Options{Schema: "otlink_test_admin", MaxConns: 1})
	if err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer st.Close()
	if _, err := st.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(schema)+` CASCADE`); err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
	}
}

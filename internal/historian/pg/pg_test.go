package pg

import (
	"context"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/historian/historiantest"
	"github.com/otlink/otlink/internal/model"
)

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

func tctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestConformance(t *testing.T) {
	historiantest.Run(t, func(t *testing.T) historian.Store { return openTest(t, Options{}) })
}

func TestLayoutAndPartitions(t *testing.T) {
	st := openTest(t, Options{Timescale: "off"})
	if st.Layout() != LayoutPartitioned {
		t.Fatalf("layout %s", st.Layout())
	}
	day := int64(24 * time.Hour)
	now := time.Now().UnixNano()
	// Far past, far future and the int64 extremes each need a partition.
	srcs := []int64{0, -1, now - 400*day, now + 30*day, math.MinInt64, math.MaxInt64, math.MinInt64 + 1, math.MaxInt64 - 1}
	var batch []model.Sample
	for _, s := range srcs {
		batch = append(batch, model.Sample{Tag: "p/x", Source: s, Value: model.IntValue(model.Int64, s)})
	}
	if err := st.Write(tctx(t), batch); err != nil {
		t.Fatal(err)
	}
	it, err := st.Raw(tctx(t), "p/x", math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		if it.At().Value.Int() != it.At().Source {
			t.Errorf("sample %s", it.At().Value)
		}
		n++
	}
	// MaxInt64 itself is outside [min, max): the contract's half-open range.
	if it.Err() != nil || n != len(srcs)-1 {
		t.Fatalf("%d samples, err %v", n, it.Err())
	}
	var parts int
	err = st.pool.QueryRow(tctx(t), `SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, st.q+".samples").Scan(&parts)
	if err != nil {
		t.Fatal(err)
	}
	// current + 2 ahead, plus 0/-1 (2 days), -400d, +30d, min, min+1 (same), max, max-1 (same).
	if parts < 8 {
		t.Errorf("%d partitions", parts)
	}
	// A second store on the same schema (another node) sees the data and
	// creates the partitions it needs without colliding.
	st2, err := Open(tctx(t), testDSN, Options{Schema: st.opt.Schema, Timescale: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.Write(tctx(t), batch); err != nil {
		t.Fatal(err)
	}
	l, err := st2.Latest(tctx(t), []string{"p/x"})
	if err != nil || l[0].Source != math.MaxInt64 {
		t.Fatalf("latest %v %v", l, err)
	}
}

func TestSchemaVersion(t *testing.T) {
	st := openTest(t, Options{})
	// Reopening migrates nothing.
	st2, err := Open(tctx(t), testDSN, Options{Schema: st.opt.Schema})
	if err != nil {
		t.Fatal(err)
	}
	st2.Close()
	if _, err := st.pool.Exec(tctx(t), `INSERT INTO `+st.q+`.schema_version (version, description) VALUES (99, 'future')`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(tctx(t), testDSN, Options{Schema: st.opt.Schema})
	if errcode.Of(err) != errcode.PGSchemaVersion {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestErrors(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	_, err := Open(tctx(t), "postgres://u:secret@127.0.0.1:notaport/db", Options{})
	if errcode.Of(err) != errcode.PGDSN || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad dsn: %v", err)
	}
	_, err = Open(tctx(t), testDSN, Options{Schema: `x"; drop table y; --`})
	if errcode.Of(err) != errcode.PGDSN {
		t.Errorf("bad schema name: %v", err)
	}
	// A port where nothing listens: the server is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(tctx(t), "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=5", Options{})
	if errcode.Of(err) != errcode.PGConnect {
		t.Errorf("server down: %v", err)
	}

	st := openTest(t, Options{})
	for _, s := range []model.Sample{
		{Tag: "", Source: 1},
		{Tag: "x\x00y", Source: 1},
		{Tag: "x", Source: 1, Value: model.StringValue("padded\x00\x00")},
		{Tag: "x", Source: 1, Value: model.StringValue("\xff\xfe")},
	} {
		good := model.Sample{Tag: "ok", Source: 1, Value: model.BoolValue(true)}
		if err := st.Write(tctx(t), []model.Sample{good, s}); errcode.Of(err) != errcode.PGValue {
			t.Errorf("write %q %q: %v", s.Tag, s.Value, err)
		}
	}
	// Nothing of a rejected batch is stored.
	if l, _ := st.Latest(tctx(t), []string{"ok"}); l[0].Quality != model.BadWaitingForInitialData {
		t.Errorf("a rejected batch stored %v", l)
	}
	if _, err := st.Tags(tctx(t), "[x"); errcode.Of(err) != errcode.PGGlob {
		t.Errorf("bad glob: %v", err)
	}
	// A cancelled context fails the write with a code.
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Write(cctx, []model.Sample{{Tag: "ok", Source: 2, Value: model.BoolValue(true)}}); errcode.Of(err) != errcode.PGWrite {
		t.Errorf("cancelled write: %v", err)
	}
	st.Close()
	if err := st.Write(tctx(t), []model.Sample{{Tag: "ok", Source: 3}}); errcode.Of(err) != errcode.PGClosed {
		t.Errorf("write after close: %v", err)
	}
	if _, err := st.Latest(tctx(t), []string{"ok"}); errcode.Of(err) != errcode.PGClosed {
		t.Errorf("latest after close: %v", err)
	}
}

// TestServerGone kills the connections of a store under it, as a server
// restart does: the calls made meanwhile fail with codes, and the store
// works again once the server is back, without reopening.
func TestServerGone(t *testing.T) {
	st := openTest(t, Options{})
	s := model.Sample{Tag: "gone/x", Source: 1, Value: model.BoolValue(true)}
	if err := st.Write(tctx(t), []model.Sample{s}); err != nil {
		t.Fatal(err)
	}
	admin := openTest(t, Options{})
	if _, err := admin.pool.Exec(tctx(t), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	// The pool notices dead connections when it uses them; within a few
	// tries a write goes through again and is stored once.
	var err error
	for i := 0; i < 10; i++ {
		s.Source++
		if err = st.Write(tctx(t), []model.Sample{s}); err == nil {
			break
		}
		if errcode.Of(err) != errcode.PGWrite {
			t.Fatalf("write on a dead connection: %v", err)
		}
	}
	if err != nil {
		t.Fatalf("store did not recover: %v", err)
	}
	l, err := st.Latest(tctx(t), []string{"gone/x"})
	if err != nil || l[0].Source != s.Source {
		t.Fatalf("latest after recovery: %v %v", l, err)
	}
}

func TestLiteralPrefix(t *testing.T) {
	for glob, want := range map[string]string{"": "", "a/b/*": "a/b/", `a\*b?`: "a*b", "[ab]": "", `x\`: "x", "a%_": "a%_"} {
		if got := literalPrefix(glob); got != want {
			t.Errorf("literalPrefix(%q) = %q, want %q", glob, got, want)
		}
	}
	if got := escapeLike(`a%b_c\d`); got != `a\%b\_c\\d` {
		t.Errorf("escapeLike: %q", got)
	}
}

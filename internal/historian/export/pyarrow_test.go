package export

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParquetPyArrow reads an export with another implementation, when
// pyarrow is installed.
func TestParquetPyArrow(t *testing.T) {
	if exec.Command("python3", "-c", "import pyarrow").Run() != nil {
		t.Skip("python3 with pyarrow not available")
	}
	m, tags := data(1000)
	var buf bytes.Buffer
	if err := Parquet(context.Background(), &buf, m, tags, t0, t0.Add(24*time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(t.num_rows, str(t.schema.field("time").type), t.column("tag")[0].as_py(), t.column("text")[1000].as_py())`
	out, err := exec.Command("python3", "-c", script, p).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, out)
	}
	want := "1503 timestamp[ns, tz=UTC] a/temp 9223372036854775807"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("pyarrow read %q, want %q", got, want)
	}
}

package opcua

import (
	"fmt"
	"os"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// TestDump prints the PDUs of the capture named by OTLINK_DUMP; a
// debugging aid, skipped otherwise.
func TestDump(t *testing.T) {
	path := os.Getenv("OTLINK_DUMP")
	if path == "" {
		t.Skip("set OTLINK_DUMP=file.pcap to print its PDUs")
	}
	dissecttest.Replay(t, path, probed{extra: probePorts(t, path, Dissector{})}, func(p *dissect.PDU) {
		fmt.Printf("%d %s fn=%d %q req=%v exc=%#x act=%s var=%q mal=%q objs=%v id=%v\n", p.Meta.Frame, p.Proto, p.Function, p.Name, p.Request, p.Exception, p.Action, p.Variant, p.Malformed, p.Objects, p.Identity)
	})
}

package s7comm

import (
	"testing"

	"github.com/otlink/otlink/internal/dissect"
	"github.com/otlink/otlink/internal/dissect/dissecttest"
)

// collect replays a shared capture and returns actions seen and the union
// of identity fields.
func collect(t *testing.T, name string) (map[dissect.Action]int, map[string]string, int) {
	t.Helper()
	path := dissecttest.Capture("s7comm", name)
	dissecttest.Captures(t, "s7comm") // skips when the captures are absent
	acts := map[dissect.Action]int{}
	id := map[string]string{}
	plus := 0
	dissecttest.Replay(t, path, Dissector{}, func(p *dissect.PDU) {
		acts[p.Action]++
		for k, v := range p.Identity {
			id[k] = v
		}
		if p.Variant == "s7comm-plus" {
			plus++
		}
	})
	return acts, id, plus
}

func TestIdentityFromSZL(t *testing.T) {
	acts, id, _ := collect(t, "cisa__s7ident.pcap")
	if acts[dissect.ActIdentify] == 0 || acts[dissect.ActConnect] == 0 {
		t.Errorf("actions %v", acts)
	}
	if id["order_number"] == "" || id["firmware"] == "" || id["module"] == "" || id["serial"] == "" {
		t.Errorf("identity %v", id)
	}
	t.Logf("identity %v", id)
}

func TestActions(t *testing.T) {
	for _, c := range []struct {
		file string
		want dissect.Action
	}{
		{"iti__step7_s300_stop.pcapng", dissect.ActStop},
		{"iti__snap7_s300_stop.pcapng", dissect.ActStop},
		{"iti__step7_s300_download.pcapng", dissect.ActDownload},
		{"cisa__snap7.pcap", dissect.ActUpload},
		{"cisa__snap7.pcap", dissect.ActWrite},
		{"iti__s7comm_reading_setting_plc_time.pcap", dissect.ActTimeSet},
	} {
		acts, _, _ := collect(t, c.file)
		if acts[c.want] == 0 {
			t.Errorf("%s: no %v in %v", c.file, c.want, acts)
		}
	}
	_, _, plus := collect(t, "iti__S7-1200-Uploading-OB1-TIAV12.pcap")
	if plus == 0 {
		t.Error("no S7comm-plus PDU recognised in the S7-1200 capture")
	}
}

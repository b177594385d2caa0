package detect_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/otlink/otlink/internal/detect"
)

const pcaps = "../../../shared/testdata/pcaps"

// TestPublicCaptures checks the indicator detections on public captures
// that show the scenario.
func TestPublicCaptures(t *testing.T) {
	if _, err := os.Stat(pcaps); err != nil {
		t.Skipf("public captures not found at %s: %v", pcaps, err)
	}
	cases := []struct{ file, det, tech string }{
		{"enip/iti__cip_stop_plc.pcap", "plc_stop", "T0858"},
		{"enip/iti__cip_start_plc.pcap", "plc_start", "T0858"},
		{"enip/iti__EIP-RebootorRestart.pcap", "device_restart", "T0816"},
		{"s7comm/iti__step7_s300_stop.pcapng", "plc_stop", "T0858"},
		{"s7comm/iti__snap7_s300_stop.pcapng", "plc_stop", "T0858"},
		{"s7comm/iti__step7_s300_download.pcapng", "program_download", "T0843"},
		{"s7comm/iti__s7comm_downloading_block_db1.pcap", "program_download", "T0843"},
		{"dnp3/iti__cold_restart_and_response.pcap", "device_restart", "T0816"},
		{"dnp3/iti__DNP3-Malformed.pcap", "malformed", "T0866"},
		{"modbus/iti__modbus_test_data_part2.pcap", "exception_storm", "T0861"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			path := filepath.Join(pcaps, c.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s absent", c.file)
			}
			alerts, _ := run(t, path, detect.Config{})
			wantAlert(t, alerts, c.det, c.tech)
		})
	}
	// Quiet captures stay quiet.
	for _, f := range []string{"modbus/cisa__modbus_example.pcap", "dnp3/zeek__dnp3_read.pcap", "enip/cisa__enip_cip_example.pcap"} {
		path := filepath.Join(pcaps, f)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if alerts, _ := run(t, path, detect.Config{}); len(alerts) != 0 {
			t.Errorf("%s: %v", f, names(alerts))
		}
	}
}

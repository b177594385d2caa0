package bench

import (
	"context"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/north/mosquitto"
)

// TestMQTTBench runs `otlink bench mqtt` small: every phase completes
// against a real mosquitto and every figure and baseline is measured.
func TestMQTTBench(t *testing.T) {
	if !mosquitto.Installed() {
		t.Skip("mosquitto not installed (apt-get install mosquitto)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := MQTT(ctx, MQTTOptions{Samples: 2000, BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"uns": r.UNSSamplesPerSec, "raw uns": r.RawUNSMsgsPerSec, "sparkplug": r.SparkplugSamplesPerSec,
		"raw sparkplug": r.RawSparkplugSamplesPerSec, "ingest": r.IngestValuesPerSec, "raw ingest": r.RawIngestMsgsPerSec,
		"uns ratio": r.UNSRatio, "sparkplug ratio": r.SparkplugRatio, "ingest ratio": r.IngestRatio} {
		if !(v > 0) {
			t.Errorf("%s = %v", name, v)
		}
	}
	if !r.MosquittoStartedByRun || r.Samples != 2000 {
		t.Errorf("result %+v", r)
	}
}

package monitor

import "github.com/prometheus/client_golang/prometheus"

var (
	descPackets = prometheus.NewDesc("otlink_monitor_packets_total", "Packets captured by the network monitor.", nil, nil)
	descBytes   = prometheus.NewDesc("otlink_monitor_bytes_total", "Bytes on the wire captured by the network monitor.", nil, nil)
	descDrops   = prometheus.NewDesc("otlink_monitor_drops_total", "Packets the kernel dropped before the monitor read them.", nil, nil)
	descAlerts  = prometheus.NewDesc("otlink_monitor_alerts_total", "Alerts raised by the network monitor.", nil, nil)
	descPDUs    = prometheus.NewDesc("otlink_monitor_pdus_total", "Industrial protocol PDUs dissected, per protocol.", []string{"proto"}, nil)
	descPBytes  = prometheus.NewDesc("otlink_monitor_proto_bytes_total", "Payload bytes of ended flows, per protocol.", []string{"proto"}, nil)
	descEvicted = prometheus.NewDesc("otlink_monitor_detect_evicted_total", "Detection windows, rates and alerts dropped by the memory caps.", nil, nil)
	descLearn   = prometheus.NewDesc("otlink_monitor_learning", "1 while the monitor learns its baseline.", nil, nil)
	descSupp    = prometheus.NewDesc("otlink_monitor_detect_suppressed_total", "Alerts not raised because a suppression of the rules file covers them.", nil, nil)
)

// Collector returns a prometheus.Collector of the monitor's counters.
func (m *Monitor) Collector() prometheus.Collector { return collector{m} }

type collector struct{ m *Monitor }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descDrops, descAlerts, descPDUs, descPBytes, descLearn, descEvicted, descSupp} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Stats()
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(s.Packets))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(s.Drops))
	ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(s.Alerts))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(s.Detect.Evicted))
	ch <- prometheus.MustNewConstMetric(descSupp, prometheus.CounterValue, float64(s.Detect.Suppressed))
	learn := 0.0
	if s.Learning {
		learn = 1
	}
	ch <- prometheus.MustNewConstMetric(descLearn, prometheus.GaugeValue, learn)
	for p, v := range s.Protos {
		ch <- prometheus.MustNewConstMetric(descPDUs, prometheus.CounterValue, float64(v.PDUs), p)
		ch <- prometheus.MustNewConstMetric(descPBytes, prometheus.CounterValue, float64(v.Bytes), p)
	}
}

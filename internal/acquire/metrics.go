package acquire

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a prometheus.Collector of the engine's per-device
// metrics. It reads the same counters as Health at scrape time, so it costs
// nothing between scrapes; register it once (the lead's wiring does).
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

var (
	mRequests = prometheus.NewDesc("otlink_acquire_requests_total", "Requests sent to the device (reads, writes, identity).", []string{"device"}, nil)
	mErrors   = prometheus.NewDesc("otlink_acquire_errors_total", "Failed requests and connection attempts by otlink error code (\"\" when the error had none).", []string{"device", "code"}, nil)
	mOverruns = prometheus.NewDesc("otlink_acquire_overruns_total", "Poll cycles skipped because the previous cycle was still running.", []string{"device"}, nil)
	mCycles   = prometheus.NewDesc("otlink_acquire_cycles_total", "Poll cycles completed.", []string{"device"}, nil)
	mSamples  = prometheus.NewDesc("otlink_acquire_samples_total", "Samples reported (changed values and quality changes).", []string{"device"}, nil)
	mConn     = prometheus.NewDesc("otlink_acquire_connected", "1 when the device is connected.", []string{"device", "endpoint"}, nil)
	mRTT      = prometheus.NewDesc("otlink_acquire_rtt_seconds", "Round-trip time of successful reads (quantiles are bucket upper bounds).", []string{"device"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mRequests, mErrors, mOverruns, mCycles, mSamples, mConn, mRTT} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.e.view.Load().devs {
		name := d.p.cfg.Name
		s := &d.stats
		ch <- prometheus.MustNewConstMetric(mRequests, prometheus.CounterValue, float64(s.requests.Load()), name)
		for code, n := range s.errorsByCode() {
			label := ""
			if code != 0 {
				label = "OTL-" + strconv.Itoa(int(code))
			}
			ch <- prometheus.MustNewConstMetric(mErrors, prometheus.CounterValue, float64(n), name, label)
		}
		ch <- prometheus.MustNewConstMetric(mOverruns, prometheus.CounterValue, float64(s.overruns.Load()), name)
		ch <- prometheus.MustNewConstMetric(mCycles, prometheus.CounterValue, float64(s.cycles.Load()), name)
		ch <- prometheus.MustNewConstMetric(mSamples, prometheus.CounterValue, float64(s.samples.Load()), name)
		l := d.link.Load()
		up := 0.0
		if l.conn != nil {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(mConn, prometheus.GaugeValue, up, name, l.endpoint)
		_, total := s.rtt.snapshot()
		ch <- prometheus.MustNewConstSummary(mRTT, total, float64(s.rtt.sumNs.Load())/1e9,
			map[float64]float64{0.5: s.rtt.quantile(0.5) / 1000, 0.99: s.rtt.quantile(0.99) / 1000}, name)
	}
}
